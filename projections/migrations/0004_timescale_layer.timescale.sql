-- The TimescaleDB layer, applied only where the extension is available. It reshapes every
-- projection version made from now on (and the live one, when it is still empty):
--   * {v}_readings becomes a hypertable (1-day chunks on source time) instead of the
--     day-partitioned table, so create_readings_partition has nothing to do for it;
--   * compression: segment by series, order by time, chunks compressed after
--     timescale_policies.compress_after (late data may still be written into them);
--   * retention: none by default, because the scans topic keeps every event and a rebuild must
--     equal the live tables; set timescale_policies.readings_retention to drop raw chunks after
--     that age (the rollups keep the history) and re-apply with
--     SELECT timescale_apply_policies(prefix) FROM projection_live;
--   * a continuous aggregate {v}_rollup_1d (daily count, bad count, min, max, avg per tag, real
--     time, refreshed hourly) behind the query view rollup_1d.
-- The plain functions are kept under *_plain names and wrapped, so the base migrations stay as
-- they were applied.

CREATE EXTENSION IF NOT EXISTS timescaledb SCHEMA public;

CREATE TABLE timescale_policies (
    singleton           boolean  PRIMARY KEY DEFAULT true CHECK (singleton),
    compress_after      interval NOT NULL DEFAULT interval '7 days'
                                 CHECK (compress_after > interval '0'),
    readings_retention  interval CHECK (readings_retention > interval '1 day')
);
INSERT INTO timescale_policies DEFAULT VALUES;

-- The schema holding the extension's API (create_hypertable, time_bucket, ...), quoted.
CREATE FUNCTION timescale_api_schema() RETURNS text LANGUAGE sql STABLE AS $fn$
    SELECT quote_ident(n.nspname) FROM pg_extension AS e
    JOIN pg_namespace AS n ON n.oid = e.extnamespace WHERE e.extname = 'timescaledb'
$fn$;

CREATE FUNCTION timescale_is_hypertable(v text) RETURNS boolean LANGUAGE sql STABLE AS $fn$
    SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables
                   WHERE hypertable_schema = current_schema()
                     AND hypertable_name = v || '_readings')
$fn$;

-- (Re)apply the compression and retention policies of version v's readings.
CREATE FUNCTION timescale_apply_policies(v text) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    ts text := timescale_api_schema();
    pol timescale_policies;
    tbl text := quote_ident(current_schema()) || '.' || quote_ident(v || '_readings');
BEGIN
    IF NOT timescale_is_hypertable(v) THEN
        RAISE EXCEPTION 'readings of projection version % are not a hypertable', v;
    END IF;
    SELECT * INTO STRICT pol FROM timescale_policies;
    EXECUTE format('SELECT %s.remove_compression_policy(%L::regclass, if_exists => true)', ts, tbl);
    EXECUTE format('SELECT %s.add_compression_policy(%L::regclass, compress_after => %L::interval)',
                   ts, tbl, pol.compress_after);
    EXECUTE format('SELECT %s.remove_retention_policy(%L::regclass, if_exists => true)', ts, tbl);
    IF pol.readings_retention IS NOT NULL THEN
        EXECUTE format('SELECT %s.add_retention_policy(%L::regclass, drop_after => %L::interval)',
                       ts, tbl, pol.readings_retention);
    END IF;
END
$fn$;

-- Turn version v's (empty) day-partitioned readings into a hypertable with its policies and
-- daily continuous aggregate. A version that already holds readings is left as it is (a
-- notice says so): the next `biogas projections rebuild` creates a hypertable version.
CREATE FUNCTION timescale_version_layer(v text) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    ts text := timescale_api_schema();
    has_rows boolean;
    is_live boolean := EXISTS (SELECT 1 FROM projection_live WHERE prefix = v);
BEGIN
    IF v !~ '^p[0-9]+$' THEN
        RAISE EXCEPTION 'projection version prefix % must look like p1, p2, ...', v;
    END IF;
    IF timescale_is_hypertable(v) THEN
        RETURN;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', v || '_readings') INTO has_rows;
    IF has_rows THEN
        RAISE NOTICE 'projection version % already holds readings; it stays day-partitioned '
                     '(biogas projections rebuild makes a hypertable version)', v;
        RETURN;
    END IF;
    IF is_live THEN
        DROP VIEW IF EXISTS readings;
    END IF;
    EXECUTE replace(replace($ddl$
DROP VIEW {v}_readings_v;
DROP TABLE {v}_readings;
CREATE TABLE {v}_readings (
    series_id   bigint           NOT NULL,
    time        timestamptz      NOT NULL,
    value       double precision,
    value_text  text,
    quality     text             NOT NULL
);
SELECT {ts}.create_hypertable('{v}_readings', {ts}.by_range('time', interval '1 day'),
                              create_default_indexes => false);
CREATE INDEX {v}_readings_series_time ON {v}_readings (series_id, time);
CREATE INDEX {v}_readings_time ON {v}_readings (time);
ALTER TABLE {v}_readings SET (timescaledb.compress,
                              timescaledb.compress_segmentby = 'series_id',
                              timescaledb.compress_orderby = 'time');

CREATE VIEW {v}_readings_v AS
SELECT s.plant_id, s.tag, r.time, r.value, r.value_text, r.quality
FROM {v}_readings AS r JOIN {v}_series AS s USING (series_id);

CREATE MATERIALIZED VIEW {v}_rollup_1d WITH (timescaledb.continuous,
                                             timescaledb.materialized_only = false) AS
SELECT series_id,
       {ts}.time_bucket(interval '1 day', time) AS bucket,
       count(*)                                 AS sample_count,
       sum(CASE WHEN quality <> 'good' THEN 1 ELSE 0 END) AS bad_count,
       count(value)                             AS value_count,
       min(value)                               AS value_min,
       max(value)                               AS value_max,
       avg(value)                               AS value_avg
FROM {v}_readings
GROUP BY series_id, {ts}.time_bucket(interval '1 day', time)
WITH NO DATA;
SELECT {ts}.add_continuous_aggregate_policy('{v}_rollup_1d', start_offset => NULL,
                                            end_offset => interval '1 hour',
                                            schedule_interval => interval '1 hour');

CREATE VIEW {v}_rollup_1d_v AS
SELECT s.plant_id, s.tag, d.bucket, d.sample_count, d.bad_count, d.value_count,
       d.value_min, d.value_max, d.value_avg
FROM {v}_rollup_1d AS d JOIN {v}_series AS s USING (series_id);
$ddl$, '{v}', v), '{ts}', ts);
    PERFORM timescale_apply_policies(v);
    IF is_live THEN
        PERFORM point_views_at(v);
    END IF;
END
$fn$;

ALTER FUNCTION create_projection_version(text) RENAME TO create_projection_version_plain;
CREATE FUNCTION create_projection_version(v text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM create_projection_version_plain(v);
    PERFORM timescale_version_layer(v);
END
$fn$;

ALTER FUNCTION create_readings_partition(text, date) RENAME TO create_readings_partition_plain;
CREATE FUNCTION create_readings_partition(v text, day date) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT timescale_is_hypertable(v) THEN
        PERFORM create_readings_partition_plain(v, day);
    END IF;
END
$fn$;

ALTER FUNCTION point_views_at(text) RENAME TO point_views_at_plain;
CREATE FUNCTION point_views_at(v text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM point_views_at_plain(v);
    IF to_regclass(quote_ident(v || '_rollup_1d_v')) IS NOT NULL THEN
        EXECUTE format('CREATE OR REPLACE VIEW rollup_1d AS SELECT * FROM %I', v || '_rollup_1d_v');
    ELSE
        DROP VIEW IF EXISTS rollup_1d;
    END IF;
END
$fn$;

-- The continuous aggregate is a view to pg_class but must be dropped as a materialized view,
-- before the plain function drops the version's views and tables.
ALTER FUNCTION drop_projection_version(text) RENAME TO drop_projection_version_plain;
CREATE FUNCTION drop_projection_version(v text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF v !~ '^p[0-9]+$' THEN
        RAISE EXCEPTION 'projection version prefix % must look like p1, p2, ...', v;
    END IF;
    IF EXISTS (SELECT 1 FROM projection_live WHERE prefix = v) THEN
        RAISE EXCEPTION 'projection version % is live and cannot be dropped', v;
    END IF;
    EXECUTE format('DROP VIEW IF EXISTS %I', v || '_rollup_1d_v');
    EXECUTE format('DROP MATERIALIZED VIEW IF EXISTS %I', v || '_rollup_1d');
    PERFORM drop_projection_version_plain(v);
END
$fn$;

SELECT timescale_version_layer(prefix) FROM projection_versions WHERE state IN ('building', 'live');
