-- Projection versions: every projection table exists once per version, named with the version's
-- prefix (p1_readings, p2_readings, ...), all inside this schema. Queries go through the views
-- named without a prefix (readings, rollup_1m, ...), which point at the live version; a rebuild
-- fills a new version beside the live one and re-points every view in one transaction.

CREATE TABLE projection_live (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    prefix      text    NOT NULL CHECK (prefix ~ '^p[0-9]+$')
);

CREATE TABLE projection_versions (
    prefix      text        PRIMARY KEY CHECK (prefix ~ '^p[0-9]+$'),
    state       text        NOT NULL CHECK (state IN ('building', 'live', 'retired')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    live_since  timestamptz
);

-- The tables of one version. Readings are range-partitioned by day on source time (partitions
-- are created on demand by create_readings_partition), with a BRIN index on time and a b-tree
-- for per-tag range queries.
CREATE FUNCTION create_projection_version(v text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF v !~ '^p[0-9]+$' THEN
        RAISE EXCEPTION 'projection version prefix % must look like p1, p2, ...', v;
    END IF;
    EXECUTE replace($ddl$
CREATE TABLE {v}_series (
    series_id   bigint PRIMARY KEY,
    plant_id    text COLLATE "C" NOT NULL,
    tag         text COLLATE "C" NOT NULL,
    UNIQUE (plant_id, tag)
);

CREATE TABLE {v}_readings (
    series_id   bigint           NOT NULL,
    time        timestamptz      NOT NULL,
    value       double precision,
    value_text  text,
    quality     text             NOT NULL
) PARTITION BY RANGE (time);
CREATE INDEX {v}_readings_time_brin ON {v}_readings USING brin (time);
CREATE INDEX {v}_readings_series_time ON {v}_readings (series_id, time);

CREATE VIEW {v}_readings_v AS
SELECT s.plant_id, s.tag, r.time, r.value, r.value_text, r.quality
FROM {v}_readings AS r JOIN {v}_series AS s USING (series_id);

CREATE TABLE {v}_rollup_1m (
    plant_id     text COLLATE "C" NOT NULL,
    tag          text COLLATE "C" NOT NULL,
    bucket       timestamptz      NOT NULL,
    sample_count bigint           NOT NULL,
    bad_count    bigint           NOT NULL,
    value_count  bigint           NOT NULL,
    value_min    double precision,
    value_max    double precision,
    value_sum    numeric,
    last_time    timestamptz,
    value_last   double precision,
    PRIMARY KEY (plant_id, tag, bucket)
);
CREATE TABLE {v}_rollup_1h (LIKE {v}_rollup_1m INCLUDING ALL);

CREATE TABLE {v}_latest_readings (
    plant_id     text COLLATE "C" NOT NULL,
    tag          text COLLATE "C" NOT NULL,
    time         timestamptz NOT NULL,
    value        double precision,
    value_text   text,
    quality      text        NOT NULL,
    edge_boot_id uuid        NOT NULL,
    seq          bigint      NOT NULL,
    PRIMARY KEY (plant_id, tag)
);

CREATE TABLE {v}_tag_sources (
    plant_id    text NOT NULL,
    tag         text NOT NULL,
    device      text NOT NULL,
    poll_group  text NOT NULL,
    PRIMARY KEY (plant_id, tag)
);

CREATE TABLE {v}_poll_groups (
    plant_id        text        NOT NULL,
    device          text        NOT NULL,
    poll_group      text        NOT NULL,
    last_source_ts  timestamptz NOT NULL,
    PRIMARY KEY (plant_id, device, poll_group)
);

CREATE TABLE {v}_poll_interval_counts (
    plant_id     text   NOT NULL,
    device       text   NOT NULL,
    poll_group   text   NOT NULL,
    interval_ms  bigint NOT NULL,
    n            bigint NOT NULL,
    PRIMARY KEY (plant_id, device, poll_group, interval_ms)
);

CREATE TABLE {v}_delivery_ledger (
    plant_id            text           NOT NULL,
    edge_boot_id        uuid           NOT NULL,
    received            int8multirange NOT NULL,
    delivered           bigint         NOT NULL,
    first_event_at      timestamptz    NOT NULL,
    last_event_at       timestamptz    NOT NULL,
    last_heartbeat_at   timestamptz,
    journal_depth       bigint,
    journal_oldest_age_s double precision,
    dropped_total       bigint,
    PRIMARY KEY (plant_id, edge_boot_id)
);

CREATE TABLE {v}_device_status (
    plant_id        text        NOT NULL,
    device          text        NOT NULL,
    status          text        NOT NULL,
    previous        text,
    reason          text        NOT NULL,
    exception_code  integer,
    changed_at      timestamptz NOT NULL,
    edge_boot_id    uuid        NOT NULL,
    seq             bigint      NOT NULL,
    PRIMARY KEY (plant_id, device)
);

CREATE TABLE {v}_device_status_history (LIKE {v}_device_status);
ALTER TABLE {v}_device_status_history ADD PRIMARY KEY (plant_id, edge_boot_id, seq);
CREATE INDEX {v}_device_status_history_time ON {v}_device_status_history
    (plant_id, device, changed_at);

CREATE TABLE {v}_anomalies (
    anomaly_id     uuid             PRIMARY KEY,
    plant_id       text             NOT NULL,
    tags           text[]           NOT NULL,
    event_time     timestamptz      NOT NULL,
    detected_at    timestamptz      NOT NULL,
    score          double precision NOT NULL,
    threshold      double precision NOT NULL,
    model_id       text,
    model_version  text,
    model_sha256   text,
    detectors      jsonb            NOT NULL,
    top_features   jsonb            NOT NULL,
    retrospective  boolean          NOT NULL
);
CREATE INDEX {v}_anomalies_plant_time ON {v}_anomalies (plant_id, event_time);

CREATE TABLE {v}_alerts (
    alert_id         uuid        PRIMARY KEY,
    plant_id         text        NOT NULL,
    severity         text,
    severity_at      timestamptz,
    title            text,
    tags             text[],
    anomaly_ids      uuid[],
    opened_at        timestamptz,
    retrospective    boolean,
    anomaly_count    integer,
    last_anomaly_at  timestamptz,
    updated_at       timestamptz,
    acknowledged_by  text,
    acknowledged_at  timestamptz,
    comment_count    integer     NOT NULL DEFAULT 0,
    cleared_at       timestamptz,
    clear_reason     text,
    state            text GENERATED ALWAYS AS (
        CASE WHEN cleared_at IS NOT NULL THEN 'cleared'
             WHEN acknowledged_at IS NOT NULL THEN 'acknowledged'
             ELSE 'open' END) STORED
);
CREATE INDEX {v}_alerts_plant_state ON {v}_alerts (plant_id, state);

CREATE TABLE {v}_alert_history (
    event_id    uuid        PRIMARY KEY,
    alert_id    uuid        NOT NULL,
    plant_id    text        NOT NULL,
    event_type  text        NOT NULL,
    at          timestamptz NOT NULL,
    actor       text,
    detail      jsonb       NOT NULL
);
CREATE INDEX {v}_alert_history_alert ON {v}_alert_history (alert_id, at);

CREATE TABLE {v}_lab_results (
    event_id     uuid             PRIMARY KEY,
    plant_id     text             NOT NULL,
    sample_id    text             NOT NULL,
    analyte      text             NOT NULL,
    value        double precision NOT NULL,
    unit         text             NOT NULL,
    sampled_at   timestamptz      NOT NULL,
    recorded_at  timestamptz      NOT NULL,
    recorded_by  text             NOT NULL,
    digester     text
);
CREATE INDEX {v}_lab_results_plant_time ON {v}_lab_results (plant_id, analyte, sampled_at);

CREATE TABLE {v}_rejected_messages (
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    "offset"    bigint  NOT NULL,
    error_type  text    NOT NULL,
    reason      text    NOT NULL,
    payload     bytea   NOT NULL,
    PRIMARY KEY (topic, partition, "offset")
);

CREATE VIEW {v}_rollup_1m_v AS
SELECT plant_id, tag, bucket, sample_count, bad_count, value_count, value_min, value_max,
       (value_sum / nullif(value_count, 0))::double precision AS value_avg,
       value_last, last_time
FROM {v}_rollup_1m;
CREATE VIEW {v}_rollup_1h_v AS
SELECT plant_id, tag, bucket, sample_count, bad_count, value_count, value_min, value_max,
       (value_sum / nullif(value_count, 0))::double precision AS value_avg,
       value_last, last_time
FROM {v}_rollup_1h;

CREATE VIEW {v}_delivery_ledger_v AS
SELECT plant_id, edge_boot_id,
       coalesce(upper(received), 0) - 1 AS max_seq,
       distinct_count AS received_count,
       delivered - distinct_count AS duplicate_count,
       coalesce(upper(received), 0) - distinct_count AS missing_count,
       int8multirange(int8range(0, coalesce(upper(received), 0))) - received AS missing_seqs,
       first_event_at, last_event_at, last_heartbeat_at, journal_depth, journal_oldest_age_s,
       dropped_total
FROM {v}_delivery_ledger
CROSS JOIN LATERAL (SELECT coalesce(sum(upper(r) - lower(r)), 0)::bigint AS distinct_count
                    FROM unnest(received) AS r) AS c;

CREATE VIEW {v}_poll_group_intervals AS
SELECT DISTINCT ON (plant_id, device, poll_group)
       plant_id, device, poll_group, interval_ms AS median_interval_ms, total AS intervals_seen
FROM (SELECT plant_id, device, poll_group, interval_ms,
             sum(n) OVER (PARTITION BY plant_id, device, poll_group ORDER BY interval_ms) AS cum,
             sum(n) OVER (PARTITION BY plant_id, device, poll_group) AS total
      FROM {v}_poll_interval_counts) AS s
WHERE cum * 2 >= total
ORDER BY plant_id, device, poll_group, interval_ms;

CREATE VIEW {v}_completeness_hourly AS
WITH span AS (
    SELECT plant_id, tag, min(bucket) AS first_hour, max(bucket) AS last_hour
    FROM {v}_rollup_1h GROUP BY plant_id, tag
)
SELECT s.plant_id, s.tag, t.device, t.poll_group, h.hour, i.median_interval_ms,
       (3600000 / i.median_interval_ms)::bigint AS expected_count,
       coalesce(r.sample_count, 0) AS received_count,
       coalesce(r.sample_count - r.bad_count, 0) AS good_count,
       least(1.0, coalesce(r.sample_count, 0)::double precision
                  / greatest(1, 3600000 / i.median_interval_ms)) AS completeness
FROM span AS s
JOIN {v}_tag_sources AS t ON t.plant_id = s.plant_id AND t.tag = s.tag
JOIN {v}_poll_group_intervals AS i
  ON i.plant_id = t.plant_id AND i.device = t.device AND i.poll_group = t.poll_group
CROSS JOIN LATERAL generate_series(s.first_hour, s.last_hour, interval '1 hour') AS h(hour)
LEFT JOIN {v}_rollup_1h AS r ON r.plant_id = s.plant_id AND r.tag = s.tag AND r.bucket = h.hour;
$ddl$, '{v}', v);
END
$fn$;

-- One day's partition of a version's readings (idempotent). Created on its own and then
-- attached: ATTACH takes a SHARE UPDATE EXCLUSIVE lock on the parent, which neither queries
-- nor concurrent inserts conflict with (CREATE TABLE ... PARTITION OF would take ACCESS
-- EXCLUSIVE and wait for every running query on the readings). Two workers creating the same
-- day at once: the second finds it made by the first.
CREATE FUNCTION create_readings_partition(v text, day date) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    part text := v || '_readings_d' || to_char(day, 'YYYYMMDD');
BEGIN
    IF v !~ '^p[0-9]+$' THEN
        RAISE EXCEPTION 'projection version prefix % must look like p1, p2, ...', v;
    END IF;
    IF to_regclass(quote_ident(part)) IS NOT NULL THEN
        RETURN;
    END IF;
    BEGIN
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       part, v || '_readings');
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       v || '_readings', part,
                       (day::timestamp AT TIME ZONE 'UTC'),
                       ((day + 1)::timestamp AT TIME ZONE 'UTC'));
    EXCEPTION WHEN duplicate_table OR unique_violation THEN
        -- made by a concurrent transaction that committed first
        IF to_regclass(quote_ident(part)) IS NULL THEN
            RAISE;
        END IF;
    END;
END
$fn$;

-- The query-facing views, re-pointed at version v in the caller's transaction.
CREATE FUNCTION point_views_at(v text) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    pair text[];
BEGIN
    IF v !~ '^p[0-9]+$' THEN
        RAISE EXCEPTION 'projection version prefix % must look like p1, p2, ...', v;
    END IF;
    FOREACH pair SLICE 1 IN ARRAY ARRAY[
        ['readings', 'readings_v'], ['series', 'series'], ['rollup_1m', 'rollup_1m_v'], ['rollup_1h', 'rollup_1h_v'],
        ['latest_readings', 'latest_readings'], ['tag_sources', 'tag_sources'],
        ['poll_group_intervals', 'poll_group_intervals'],
        ['completeness_hourly', 'completeness_hourly'],
        ['delivery_ledger', 'delivery_ledger_v'], ['device_status', 'device_status'],
        ['device_status_history', 'device_status_history'], ['anomalies', 'anomalies'],
        ['alerts', 'alerts'], ['alert_history', 'alert_history'],
        ['lab_results', 'lab_results'], ['rejected_messages', 'rejected_messages']]
    LOOP
        EXECUTE format('CREATE OR REPLACE VIEW %I AS SELECT * FROM %I', pair[1], v || '_' || pair[2]);
    END LOOP;
END
$fn$;

-- Drop every table and view of a retired version.
CREATE FUNCTION drop_projection_version(v text) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    rel record;
BEGIN
    IF v !~ '^p[0-9]+$' THEN
        RAISE EXCEPTION 'projection version prefix % must look like p1, p2, ...', v;
    END IF;
    IF EXISTS (SELECT 1 FROM projection_live WHERE prefix = v) THEN
        RAISE EXCEPTION 'projection version % is live and cannot be dropped', v;
    END IF;
    FOR rel IN
        SELECT c.relname, c.relkind FROM pg_class AS c
        WHERE c.relnamespace = current_schema()::regnamespace
          AND c.relkind IN ('v', 'r', 'p')
          AND c.relname LIKE v || '\_%'
          AND NOT c.relispartition
        ORDER BY c.relkind = 'v' DESC
    LOOP
        IF rel.relkind = 'v' THEN
            EXECUTE format('DROP VIEW IF EXISTS %I CASCADE', rel.relname);
        ELSE
            EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', rel.relname);
        END IF;
    END LOOP;
    DELETE FROM projection_offsets WHERE projection = v;
    UPDATE projection_versions SET state = 'retired' WHERE prefix = v;
END
$fn$;

SELECT create_projection_version('p1');
INSERT INTO projection_versions (prefix, state, live_since) VALUES ('p1', 'live', now());
INSERT INTO projection_live (prefix) VALUES ('p1');
SELECT point_views_at('p1');
