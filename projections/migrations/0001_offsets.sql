-- Consumed offsets of every projection, written in the same transaction as the rows they
-- produced: on start or rebalance a projector resumes from here, so each event affects the
-- tables exactly once whatever crashes.
CREATE TABLE IF NOT EXISTS projection_offsets (
    projection   text        NOT NULL,
    topic        text        NOT NULL,
    partition    integer     NOT NULL CHECK (partition >= 0),
    next_offset  bigint      NOT NULL CHECK (next_offset >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, topic, partition)
);
