-- Retention (tagwatch purge) and data minimisation: what was stripped from which posts, when,
-- by whom and why. The post rows stay (keys, counts, scores): only the personal columns are
-- emptied, and each stripped post is listed so that an audit can tell "purged" from "never had".
CREATE SEQUENCE purges_id_seq;
CREATE TABLE purges (
    purge_id     BIGINT PRIMARY KEY DEFAULT nextval('purges_id_seq'),
    purged_at    TIMESTAMPTZ NOT NULL,
    actor        VARCHAR NOT NULL,
    reason       VARCHAR NOT NULL,        -- e.g. 'retention: first seen before 2026-01-01'
    columns      VARCHAR NOT NULL,        -- the post columns emptied, comma-separated
    posts        BIGINT NOT NULL,         -- posts stripped
    evidence     BIGINT NOT NULL,         -- frozen evidence of closed cases stripped
    bytes_before BIGINT,                  -- warehouse file size before and after compaction
    bytes_after  BIGINT
);
CREATE TABLE purged_posts (
    platform VARCHAR NOT NULL,
    post_id  VARCHAR NOT NULL,
    purge_id BIGINT NOT NULL,
    PRIMARY KEY (platform, post_id, purge_id)
);
