"""The reviewers' queue's ranking keys, one row per case (table queue_keys, migration 021).

Ranking the open cases needs, of each case's post, its latest score (and staff_target) and its
reach. Reading them from `posts` and `scores` costs a pass over both, which grows with the
history; this table keeps them per case instead, written where they change:

- a case opens: `fill` (review.cases and review.schools, after inserting cases);
- a case's post is scored (again): `refresh_posts` from warehouse.queries.write_scores;
- a case's post is seen again with new counts: `refresh_posts` from the loader.

The post's text, tags and link are not copied: the page reads them for its own rows only, by
`post_rowid` (`posts_by_rowid`), checked against the post's key. A row kept here for a post
inserted in the same, not yet committed transaction gets no rowid (DuckDB numbers such rows
apart until the commit): its post is then looked up by key.
"""
from __future__ import annotations

from warehouse.db import transaction

# DuckDB numbers the rows a transaction inserted from here on until it commits.
_UNCOMMITTED_ROWIDS = 1 << 62

_KEYS = """
    WITH c AS ({cases}),
    p AS (SELECT rowid AS post_rowid, platform, post_id,
                 coalesce(reply_count, 0) + coalesce(share_count, 0) + coalesce(like_count, 0)
                     + coalesce(view_count, 0) AS reach
          FROM posts SEMI JOIN c USING (platform, post_id)),
    sc AS (SELECT platform, post_id, arg_max(score, scored_at) AS score,
                  arg_max(staff_target, scored_at) AS staff_target,
                  arg_max(model_version, scored_at) AS model_version,
                  arg_max(explanation, scored_at) AS explanation,
                  arg_max(categories, scored_at) AS categories, max(scored_at) AS scored_at
           FROM scores SEMI JOIN c USING (platform, post_id) GROUP BY platform, post_id)
    SELECT c.case_id, c.platform, c.post_id,
           CASE WHEN p.post_rowid < {uncommitted} THEN p.post_rowid END AS post_rowid,
           coalesce(p.reach, 0) AS reach, sc.score, sc.staff_target, sc.model_version,
           sc.explanation, sc.categories, sc.scored_at
    FROM c LEFT JOIN p USING (platform, post_id) LEFT JOIN sc USING (platform, post_id)
"""

# What the queue shows of a post, read by rowid for the page's rows only.
POST_FIELDS = ("url", "text", "hashtags", "created_at", "first_seen_at", "author_key")


def keys_sql(cases_sql: str) -> str:
    """The keys computed from posts and scores for the cases `cases_sql` selects
    (case_id, platform, post_id): what the table holds for them when it is up to date."""
    return _KEYS.format(cases=cases_sql, uncommitted=_UNCOMMITTED_ROWIDS)


def missing(con) -> bool:
    """Is there a case without keys (inserted by something other than the case openers)?"""
    return bool(con.execute("SELECT EXISTS (SELECT 1 FROM cases ANTI JOIN queue_keys USING (case_id))")
                .fetchall()[0][0])


def fill(con) -> int:
    """Keys for every case that has none yet (the cases just opened); returns how many."""
    with transaction(con):
        return con.execute("INSERT INTO queue_keys " + keys_sql(
            "SELECT case_id, platform, post_id FROM cases ANTI JOIN queue_keys USING (case_id)")
        ).fetchall()[0][0]


def refresh_posts(con, posts_sql: str, params: list | None = None) -> int:
    """Keys again for the cases of the posts `posts_sql` selects (platform, post_id): after
    they were scored or seen again. Inside the caller's transaction; returns how many."""
    cases = ("SELECT case_id, platform, post_id FROM queue_keys "
             f"SEMI JOIN ({posts_sql}) AS touched USING (platform, post_id)")
    if not con.execute(f"SELECT EXISTS ({cases})", params or []).fetchall()[0][0]:
        return 0   # the usual case: new posts, no case yet
    return con.execute("INSERT OR REPLACE INTO queue_keys " + keys_sql(cases), params or []).fetchall()[0][0]


def posts_by_rowid(con, keys: list[tuple]) -> dict[tuple, dict]:
    """(platform, post_id) -> POST_FIELDS of the posts `keys` name, each given as
    (post_rowid or None, platform, post_id): read by rowid, a row found under another key
    (or none) looked up by its key."""
    rowids = sorted({int(r) for r, _, _ in keys if r is not None})
    found: dict[tuple, dict] = {}
    columns = ", ".join(POST_FIELDS)
    if rowids:
        for platform, post_id, *values in con.execute(
                f"SELECT platform, post_id, {columns} FROM posts "
                f"WHERE rowid IN ({', '.join(str(r) for r in rowids)})").fetchall():
            found[(platform, post_id)] = dict(zip(POST_FIELDS, values))
    for _, platform, post_id in keys:
        if (platform, post_id) not in found:
            row = con.execute(f"SELECT {columns} FROM posts WHERE platform = ? AND post_id = ?",
                              [platform, post_id]).fetchall()
            row = row[0] if row else None
            if row is not None:
                found[(platform, post_id)] = dict(zip(POST_FIELDS, row))
    return found
