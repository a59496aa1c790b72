-- More platforms (TikTok, Bluesky, exports), resumable collections, honest run records,
-- and Mastodon tag history for the trend view. See docs/schema.md.

-- The author's handle, only when the operator turned TAGWATCH_STORE_HANDLES on (else NULL).
ALTER TABLE posts ADD COLUMN author_handle VARCHAR;

ALTER TABLE collection_runs ADD COLUMN requests INTEGER;          -- HTTP requests sent, retries included
ALTER TABLE collection_runs ADD COLUMN cap_hit BOOLEAN;           -- the source's result cap was reached
ALTER TABLE collection_runs ADD COLUMN quota_hit BOOLEAN;         -- the request budget / platform quota was reached
ALTER TABLE collection_runs ADD COLUMN unexpected_zero BOOLEAN;   -- nothing came back, though the previous run got posts
ALTER TABLE collection_runs ADD COLUMN checkpoint JSON;           -- where an unfinished collection continues

-- Where the next collection of an unfinished (platform, source, tag) continues;
-- written by the loader from a failed or quota-stopped collection, removed once one ends ok.
CREATE TABLE collection_checkpoints (
    platform   VARCHAR NOT NULL,
    source     VARCHAR NOT NULL,
    tag        VARCHAR NOT NULL,
    checkpoint JSON NOT NULL,
    run_id     VARCHAR,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (platform, source, tag)
);

-- Daily use of a tag as an instance reports it (Mastodon GET /api/v1/tags/:name history).
CREATE TABLE tag_history (
    platform   VARCHAR NOT NULL,
    source     VARCHAR NOT NULL,
    tag        VARCHAR NOT NULL,
    day        DATE NOT NULL,
    uses       BIGINT,
    accounts   BIGINT,
    fetched_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (platform, source, tag, day)
);
