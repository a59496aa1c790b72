-- Totals per tag kept beside the posts, so that the radar's daily work never reads every
-- post: the loader adds each load's new posts inside its transaction (warehouse/tag_totals.py);
-- here the posts already loaded are counted once. See docs/schema.md.

-- Every tag ever seen in posts.hashtags, once (what the radar matches against the watchlist).
CREATE TABLE tags_seen (
    tag            VARCHAR PRIMARY KEY,       -- as stored in posts.hashtags
    first_seen_at  TIMESTAMPTZ NOT NULL,      -- the earliest first_seen_at of a post carrying it
    last_seen_at   TIMESTAMPTZ NOT NULL,      -- the latest first_seen_at of a post carrying it
    posts          BIGINT NOT NULL            -- posts carrying it
);

-- Posts carrying each tag, per platform and day posted (created_at, else first seen).
CREATE TABLE tag_days (
    tag       VARCHAR NOT NULL,
    platform  VARCHAR NOT NULL,
    day       DATE NOT NULL,                  -- coalesce(created_at, first_seen_at)::DATE
    posts     BIGINT NOT NULL,
    PRIMARY KEY (tag, platform, day)
);

CREATE TEMP TABLE tagged_020 AS
SELECT platform, first_seen_at, coalesce(created_at, first_seen_at)::DATE AS day,
       unnest(list_distinct(hashtags)) AS tag
FROM posts;

INSERT INTO tags_seen (tag, first_seen_at, last_seen_at, posts)
SELECT tag, min(first_seen_at), max(first_seen_at), count(*) FROM tagged_020 GROUP BY tag;

INSERT INTO tag_days (tag, platform, day, posts)
SELECT tag, platform, day, count(*) FROM tagged_020 GROUP BY ALL;

DROP TABLE tagged_020;
