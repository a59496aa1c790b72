-- How `posts` is stored: the four columns that are unique (or nearly) per post are kept
-- uncompressed. DuckDB's string compression (DICT_FSST) is analysed and applied while a
-- load writes its row groups; on these columns it buys little on real posts and cost
-- about 1 s per million posts here, a third of a bulk load (measured with
-- bench/bench_loader.py: 1,000,000 staged rows, insert 2.8 s -> 1.7 s). The price is
-- disk: about 2.3x the bytes of these columns on the bench's synthetic posts, less on
-- real text, which compresses worse. Low-cardinality columns (platform, lang, source,
-- author_key, hashtags) keep the default compression. DuckDB cannot change a column's
-- compression in place, so the table is rebuilt; rows and key are kept.

CREATE TABLE posts_010 (
    platform       VARCHAR NOT NULL,
    post_id        VARCHAR NOT NULL USING COMPRESSION uncompressed,
    url            VARCHAR USING COMPRESSION uncompressed,
    text           VARCHAR USING COMPRESSION uncompressed,
    created_at     TIMESTAMPTZ,
    hashtags       VARCHAR[],
    author_key     VARCHAR,
    lang           VARCHAR,
    reply_count    BIGINT,
    share_count    BIGINT,
    like_count     BIGINT,
    view_count     BIGINT,
    source         VARCHAR,
    source_post_id VARCHAR USING COMPRESSION uncompressed,
    first_seen_at  TIMESTAMPTZ NOT NULL,
    last_seen_at   TIMESTAMPTZ NOT NULL,
    author_handle  VARCHAR,
    parent_post_id VARCHAR,
    PRIMARY KEY (platform, post_id)
);
INSERT INTO posts_010 SELECT platform, post_id, url, text, created_at, hashtags, author_key, lang,
    reply_count, share_count, like_count, view_count, source, source_post_id, first_seen_at,
    last_seen_at, author_handle, parent_post_id FROM posts;
DROP TABLE posts;
ALTER TABLE posts_010 RENAME TO posts;
