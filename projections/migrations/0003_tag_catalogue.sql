-- The tag catalogue each edge producer publishes (TagsConfigured): unit, expected range, device,
-- poll group and poll interval per tag. One table per projection version like the others; the
-- query view `tag_catalogue` points at the live version. The newest catalogue of a plant
-- replaces the older one (tags it no longer lists disappear).

CREATE FUNCTION create_tag_catalogue(v text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF v !~ '^p[0-9]+$' THEN
        RAISE EXCEPTION 'projection version prefix % must look like p1, p2, ...', v;
    END IF;
    EXECUTE replace($ddl$
CREATE TABLE IF NOT EXISTS {v}_tag_catalogue (
    plant_id         text COLLATE "C" NOT NULL,
    tag              text COLLATE "C" NOT NULL,
    device           text             NOT NULL,
    poll_group       text             NOT NULL,
    poll_interval_s  double precision NOT NULL,
    unit             text,
    min              double precision,
    max              double precision,
    description      text,
    configured_at    timestamptz      NOT NULL,
    edge_boot_id     uuid             NOT NULL,
    seq              bigint           NOT NULL,
    PRIMARY KEY (plant_id, tag)
);
$ddl$, '{v}', v);
END
$fn$;

CREATE FUNCTION point_tag_catalogue_at(v text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF v !~ '^p[0-9]+$' THEN
        RAISE EXCEPTION 'projection version prefix % must look like p1, p2, ...', v;
    END IF;
    EXECUTE format('CREATE OR REPLACE VIEW tag_catalogue AS SELECT plant_id, tag, device, '
                   'poll_group, poll_interval_s, unit, min, max, description, configured_at '
                   'FROM %I', v || '_tag_catalogue');
END
$fn$;

SELECT create_tag_catalogue(prefix) FROM projection_versions WHERE state IN ('building', 'live');
SELECT point_tag_catalogue_at(prefix) FROM projection_live;
