-- What the reviewers' queue ranks and shows of each case's post, kept per case so that the
-- queue reads this small table (one row per case) instead of the posts and scores of every
-- open case (warehouse/queue_keys.py keeps it: written when a case opens, when a case's post
-- is scored again, seen again with new counts, or stripped by `tagwatch purge`/`minimise`).
-- The case's state, origin, school reports and incident are read from the case tables.

CREATE TABLE queue_keys (
    case_id       BIGINT PRIMARY KEY,
    platform      VARCHAR NOT NULL,
    post_id       VARCHAR NOT NULL,
    reach         BIGINT NOT NULL,              -- replies + shares + likes + views (0 if unknown)
    score         DOUBLE,                       -- the latest score (newest scored_at) of the post
    staff_target  DOUBLE,
    model_version VARCHAR,
    explanation   JSON,
    categories    JSON,
    scored_at     TIMESTAMPTZ,
    url           VARCHAR,                      -- the post's, as in posts (NULL: no post)
    text          VARCHAR,
    hashtags      VARCHAR[],
    created_at    TIMESTAMPTZ,
    first_seen_at TIMESTAMPTZ,
    author_key    VARCHAR
);

-- Backfill: every case there is.
INSERT INTO queue_keys
WITH c AS (SELECT case_id, platform, post_id FROM cases),
p AS (SELECT platform, post_id, url, text, hashtags, created_at, first_seen_at, author_key,
             coalesce(reply_count, 0) + coalesce(share_count, 0) + coalesce(like_count, 0)
                 + coalesce(view_count, 0) AS reach
      FROM posts SEMI JOIN c USING (platform, post_id)),
sc AS (SELECT platform, post_id, arg_max(score, scored_at) AS score,
              arg_max(staff_target, scored_at) AS staff_target,
              arg_max(model_version, scored_at) AS model_version,
              arg_max(explanation, scored_at) AS explanation,
              arg_max(categories, scored_at) AS categories, max(scored_at) AS scored_at
       FROM scores SEMI JOIN c USING (platform, post_id) GROUP BY platform, post_id)
SELECT c.case_id, c.platform, c.post_id, coalesce(p.reach, 0), sc.score, sc.staff_target,
       sc.model_version, sc.explanation, sc.categories, sc.scored_at, p.url, p.text, p.hashtags,
       p.created_at, p.first_seen_at, p.author_key
FROM c LEFT JOIN p USING (platform, post_id) LEFT JOIN sc USING (platform, post_id);
