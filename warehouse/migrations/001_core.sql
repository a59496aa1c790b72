-- Core tables of the walking skeleton. See docs/schema.md for what each column means.

CREATE TABLE watchlist (
    tag        VARCHAR PRIMARY KEY,           -- lower-case, without '#'
    status     VARCHAR NOT NULL CHECK (status IN ('banned', 'flagged', 'watch')),
    note       VARCHAR,
    added_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Where to collect from: one row per (platform, base URL), e.g. each Mastodon instance.
CREATE TABLE sources (
    platform   VARCHAR NOT NULL,
    base_url   VARCHAR NOT NULL,
    enabled    BOOLEAN NOT NULL DEFAULT TRUE,
    added_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, base_url)
);

CREATE TABLE posts (
    platform       VARCHAR NOT NULL,
    post_id        VARCHAR NOT NULL,          -- globally unique on the platform (Mastodon: status URI)
    url            VARCHAR,
    text           VARCHAR,
    created_at     TIMESTAMPTZ,
    hashtags       VARCHAR[],
    author_key     VARCHAR,                   -- keyed pseudonym (HMAC), never a handle
    lang           VARCHAR,
    reply_count    BIGINT,
    share_count    BIGINT,
    like_count     BIGINT,
    view_count     BIGINT,
    source         VARCHAR,                   -- where it was first fetched from
    source_post_id VARCHAR,                   -- its id there
    first_seen_at  TIMESTAMPTZ NOT NULL,
    last_seen_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (platform, post_id)
);

-- One row per (collection run, source, tag): what was asked, what came back, how it ended.
CREATE TABLE collection_runs (
    run_id           VARCHAR NOT NULL,
    platform         VARCHAR NOT NULL,
    source           VARCHAR NOT NULL,
    tag              VARCHAR NOT NULL,
    asked            JSON,
    pages            INTEGER,
    received         INTEGER,                 -- posts received, repeats included
    new              INTEGER,                 -- posts the warehouse did not have before
    duplicates       INTEGER,                 -- repeats dropped within the task
    retries          INTEGER,
    watermark_before VARCHAR,
    watermark_after  VARCHAR,
    status           VARCHAR NOT NULL,        -- ok | failed | capped
    error            VARCHAR,
    started_at       TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ,
    loaded_at        TIMESTAMPTZ NOT NULL,
    staging_file     VARCHAR,
    staging_sha256   VARCHAR,
    PRIMARY KEY (run_id, platform, source, tag)
);

-- Incremental position per (platform, source, tag); advanced by the loader only
-- after the posts it covers are in `posts`.
CREATE TABLE watermarks (
    platform   VARCHAR NOT NULL,
    source     VARCHAR NOT NULL,
    tag        VARCHAR NOT NULL,
    value      VARCHAR NOT NULL,
    run_id     VARCHAR,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (platform, source, tag)
);

CREATE TABLE scores (
    platform      VARCHAR NOT NULL,
    post_id       VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    score         DOUBLE,                     -- probability of staff-targeted abuse; NULL = could not be scored
    label         BOOLEAN,                    -- score >= the model's operating threshold
    scored_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (platform, post_id, model_version)
);
