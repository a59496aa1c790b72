-- Comments collected as posts (TikTok comments of flagged videos). See docs/schema.md.

-- A comment is a post of its own; parent_post_id is the post_id of the post it comments on
-- (same platform). NULL for ordinary posts.
ALTER TABLE posts ADD COLUMN parent_post_id VARCHAR;

-- Posts whose comments were fetched: each flagged video's comments are asked for once.
CREATE TABLE comment_fetches (
    platform   VARCHAR NOT NULL,
    source     VARCHAR NOT NULL,                -- the API the comments came from
    post_id    VARCHAR NOT NULL,                -- the commented post (posts.post_id)
    comments   INTEGER,                         -- comments received for it
    run_id     VARCHAR NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (platform, source, post_id)
);
