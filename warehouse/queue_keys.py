"""What the reviewers' queue ranks and shows of each case's post, one row per case (table
queue_keys, migration 021).

Ranking the open cases needs, of each case's post, its latest score (and staff_target) and its
reach; showing the page's rows needs its text, tags and link. Reading them from `posts` and
`scores` costs a pass over both, which grows with the history (and DuckDB reads a few rows of
a large table by rowid no faster than by a scan); this table keeps them per case instead,
written wherever they change:

- a case opens: `fill` (review.cases and review.schools, after inserting cases);
- a case's post is scored (again, by a new model): `refresh_posts` from
  warehouse.queries.write_scores;
- a case's post is seen again with new counts: `refresh_posts` from the loader;
- a case's post is stripped (`tagwatch purge`, `minimise`): `refresh_posts` from
  warehouse.maintenance.strip_posts, so no copy outlives what the post keeps.

A case inserted some other way has no row: `missing` says so, and the queue is then computed
from posts and scores until the next case opened fills it.
"""
from __future__ import annotations

from warehouse.db import transaction

_KEYS = """
    WITH c AS ({cases}),
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
    SELECT c.case_id, c.platform, c.post_id, coalesce(p.reach, 0) AS reach, sc.score,
           sc.staff_target, sc.model_version, sc.explanation, sc.categories, sc.scored_at, p.url,
           p.text, p.hashtags, p.created_at, p.first_seen_at, p.author_key
    FROM c LEFT JOIN p USING (platform, post_id) LEFT JOIN sc USING (platform, post_id)
"""
# What the page shows of a post and its score beyond the ranking keys: read for its rows only.
SHOWN = ("model_version", "explanation", "categories", "url", "text", "hashtags", "created_at",
         "first_seen_at", "author_key")


def keys_sql(cases_sql: str) -> str:
    """The keys computed from posts and scores for the cases `cases_sql` selects
    (case_id, platform, post_id): what the table holds for them when it is up to date."""
    return _KEYS.format(cases=cases_sql)


def missing(con) -> bool:
    """Is there a case without keys (inserted by something other than the case openers)?
    Rows are only ever added here for cases there are, and neither is deleted: comparing the
    counts (which DuckDB keeps) answers it without reading either table."""
    return bool(con.execute("SELECT (SELECT count(*) FROM cases) <> (SELECT count(*) FROM queue_keys)")
                .fetchall()[0][0])


def fill(con) -> int:
    """Keys for every case that has none yet (the cases just opened); returns how many."""
    with transaction(con):
        return con.execute("INSERT INTO queue_keys " + keys_sql(
            "SELECT case_id, platform, post_id FROM cases ANTI JOIN queue_keys USING (case_id)")
        ).fetchall()[0][0]


def refresh_posts(con, posts_sql: str, params: list | None = None) -> int:
    """Keys again for the cases of the posts `posts_sql` selects (platform, post_id): after
    they were scored, seen again or stripped. Inside the caller's transaction; returns how many."""
    cases = ("SELECT case_id, platform, post_id FROM queue_keys "
             f"SEMI JOIN ({posts_sql}) AS touched USING (platform, post_id)")
    if not con.execute(f"SELECT EXISTS ({cases})", params or []).fetchall()[0][0]:
        return 0   # the usual case: new posts, no case yet
    return con.execute("INSERT OR REPLACE INTO queue_keys " + keys_sql(cases), params or []).fetchall()[0][0]


def shown(con, case_ids: list[int]) -> dict[int, dict]:
    """case_id -> SHOWN of these cases."""
    if not case_ids:
        return {}
    return {row[0]: dict(zip(SHOWN, row[1:])) for row in con.execute(
        f"SELECT case_id, {', '.join(SHOWN)} FROM queue_keys WHERE case_id IN (SELECT unnest(?::BIGINT[]))",
        [list(case_ids)]).fetchall()}
