"""The radar's counts per day (migration 022), so that its windows never read every post
of the window: per day first seen (UTC), canonical tag group, platform and day posted, the
DISTINCT posts carrying the group and how many of them are focus posts (flagged by their
latest score, or carrying a banned or flagged tag); per day the posts and focus posts
overall; per day the uses of each spelling of the groups that match nothing watched.

Distinct posts per group cannot come from `tag_days` (a post carrying #slapateacher and
#sl4pateacher counts once, which spellings go together depends on the watchlist, and focus
on each post's latest score). Counts of distinct posts do add up over days, though: a post
has one day first seen. So the radar's refresh counts again only the days that changed:

- days whose number of posts differs from the one counted (posts loaded, or deleted),
- days of posts scored since the last refresh (`scored_at` after the latest score read then),
- every day when the watchlist or its synonyms changed (its fingerprint, see watch_index).

A day is counted from that day's posts only (first_seen_at is in load order: DuckDB's zone
maps skip the other row groups), in one transaction: a refresh that fails leaves the counts
as they were. A post seen again changes no count (its tags stay as first captured).
`recount` counts every day again: what the tests check the kept counts against.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone

import duckdb

from collectors.crashpoints import crashpoint
from warehouse.db import transaction

# The day a post was first seen, in UTC whatever the session's time zone: as days since
# 1970 (arithmetic: 5 times cheaper than a time-zone conversion over every post) and as a date.
SEEN_DAY_NUMBER = "floor(epoch_us(first_seen_at) / 86400000000)::INTEGER"
SEEN_DAY = f"(DATE '1970-01-01' + {SEEN_DAY_NUMBER})"

# The chosen days' posts with their tags matched and each post's focus, one row per tag
# carried. The latest label of a post: its scores are later than its first sighting (a day's
# margin for the clocks of other machines), and scores are stored in order, so older row
# groups are skipped. Parameters: the range's start and end (UTC), the days (a DATE list),
# the range's start and end again.
_KEYED = f"""
    WITH seen AS (
        SELECT rowid AS pid, platform, {SEEN_DAY} AS day,
               coalesce(created_at, first_seen_at)::DATE AS posted, unnest(hashtags) AS tag
        FROM posts
        WHERE first_seen_at >= ?::TIMESTAMPTZ AND first_seen_at < ?::TIMESTAMPTZ
          AND {SEEN_DAY} IN (SELECT unnest(?::DATE[]))),
    keyed AS MATERIALIZED (
        SELECT s.*, m.canonical, m.matched_tag, w.status
        FROM seen s JOIN tag_matches m USING (tag) LEFT JOIN watchlist w ON w.tag = m.matched_tag),
    latest AS (
        SELECT p.rowid AS pid, arg_max(s.label, s.scored_at) AS flagged
        FROM scores s JOIN posts p USING (platform, post_id)
        WHERE p.first_seen_at >= ?::TIMESTAMPTZ AND p.first_seen_at < ?::TIMESTAMPTZ
          AND s.scored_at >= ?::TIMESTAMPTZ - INTERVAL 1 DAY GROUP BY p.rowid),
    post_focus AS (
        SELECT k.pid, bool_or(coalesce(k.status IN ('banned', 'flagged'), FALSE))
                      OR coalesce(any_value(l.flagged), FALSE) AS focus
        FROM keyed k LEFT JOIN latest l USING (pid) GROUP BY k.pid)
    SELECT k.pid, k.day, k.platform, k.posted, k.tag, k.canonical, k.matched_tag, f.focus
    FROM keyed k JOIN post_focus f USING (pid)
"""


def hits_sql(per_day: bool) -> str:
    """CTEs `variant_rows` and `total_rows`: the posts first seen in a range that carry a
    banned tag, per (day,) banned tag, spelling, rule and platform, and per (day,) banned tag
    and platform: first seen, distinct posts, rows with a latest label and rows flagged (the
    share flagged is the one over the other). Parameters: the range's start and end (UTC),
    then with `per_day` the days (a DATE list)."""
    days = f"AND {SEEN_DAY} IN (SELECT unnest(?::DATE[]))" if per_day else ""
    day = "day," if per_day else ""
    return f"""
    hits AS MATERIALIZED (
        SELECT p.day, p.platform, p.post_id, p.first_seen_at, p.tag AS variant, m.matched_tag AS tag, m.method
        FROM (SELECT {SEEN_DAY} AS day, platform, post_id, first_seen_at, unnest(hashtags) AS tag
              FROM posts WHERE first_seen_at >= ?::TIMESTAMPTZ AND first_seen_at < ?::TIMESTAMPTZ {days}) p
        JOIN tag_matches m ON m.tag = p.tag
        JOIN watchlist w ON w.tag = m.matched_tag AND w.status = 'banned'),
    latest AS (SELECT platform, post_id, arg_max(label, scored_at) AS flagged FROM scores
               SEMI JOIN hits USING (platform, post_id) GROUP BY ALL),
    variant_rows AS (
        SELECT {day} h.tag, h.variant, h.method, h.platform, min(h.first_seen_at) AS first_seen,
               count(DISTINCT h.post_id) AS posts, count(l.flagged) AS labelled,
               count(*) FILTER (l.flagged) AS flagged
        FROM hits h LEFT JOIN latest l USING (platform, post_id) GROUP BY ALL),
    total_rows AS (
        SELECT {day} h.tag, h.platform, min(h.first_seen_at) AS first_seen, count(*) AS posts,
               count(l.flagged) AS labelled, count(*) FILTER (l.flagged) AS flagged
        FROM (SELECT DISTINCT day, tag, platform, post_id, first_seen_at FROM hits) h
        LEFT JOIN latest l USING (platform, post_id) GROUP BY ALL)"""


def _count_hits(con: duckdb.DuckDBPyConnection, days: list[date], start: datetime, end: datetime) -> None:
    for table in ("radar_hits", "radar_hit_posts"):
        con.execute(f"DELETE FROM {table} WHERE day IN (SELECT unnest(?::DATE[]))", [days])
    con.execute(f"INSERT INTO radar_hits WITH {hits_sql(True)} SELECT * FROM variant_rows", [start, end, days])
    con.execute(f"INSERT INTO radar_hit_posts WITH {hits_sql(True)} SELECT * FROM total_rows", [start, end, days])


def _count_days(con: duckdb.DuckDBPyConnection, days: list[date]) -> None:
    """Count `days` again from their posts (their old rows are deleted first)."""
    start = datetime.combine(min(days), time(), timezone.utc)
    end = datetime.combine(max(days) + timedelta(days=1), time(), timezone.utc)
    for table in ("radar_days", "radar_day_totals", "radar_spellings"):
        con.execute(f"DELETE FROM {table} WHERE day IN (SELECT unnest(?::DATE[]))", [days])
    _count_hits(con, days, start, end)
    con.execute(f"CREATE OR REPLACE TEMP TABLE radar_keyed AS {_KEYED}",
                [start, end, days, start, end, start])
    try:
        con.execute(
            """
            INSERT INTO radar_days (day, canonical, platform, posted, proposable, posts, focus_posts)
            SELECT day, canonical, platform, posted, proposable, count(*), count(*) FILTER (focus)
            FROM (SELECT any_value(day) AS day, canonical, any_value(platform) AS platform,
                         any_value(posted) AS posted, bool_or(matched_tag IS NULL) AS proposable,
                         any_value(focus) AS focus
                  FROM radar_keyed GROUP BY pid, canonical)
            GROUP BY ALL
            """)
        con.execute(
            """
            INSERT INTO radar_spellings (day, canonical, spelling, uses)
            SELECT day, canonical, tag, count(*) FROM radar_keyed WHERE matched_tag IS NULL GROUP BY ALL
            """)
        con.execute(
            f"""
            INSERT INTO radar_day_totals (day, all_posts, posts, focus_posts)
            WITH counted AS (
                SELECT day, count(*) AS posts, count(*) FILTER (focus) AS focus_posts
                FROM (SELECT any_value(day) AS day, any_value(focus) AS focus FROM radar_keyed GROUP BY pid)
                GROUP BY day),
            everything AS (
                SELECT {SEEN_DAY} AS day, count(*) AS all_posts FROM posts
                WHERE first_seen_at >= ?::TIMESTAMPTZ AND first_seen_at < ?::TIMESTAMPTZ GROUP BY ALL)
            SELECT e.day, e.all_posts, coalesce(c.posts, 0), coalesce(c.focus_posts, 0)
            FROM everything e LEFT JOIN counted c USING (day)
            WHERE e.day IN (SELECT unnest(?::DATE[]))
            """, [start, end, days])
    finally:
        con.execute("DROP TABLE IF EXISTS radar_keyed")


def dirty_days(con: duckdb.DuckDBPyConnection, fingerprint: str) -> list[date]:
    """The days to count again (all of them when the watchlist changed)."""
    state = con.execute("SELECT watch_fingerprint, scored_until FROM radar_days_state").fetchone()
    if state is None or state[0] != fingerprint:
        return [r[0] for r in con.execute(
            f"SELECT DISTINCT {SEEN_DAY} FROM posts UNION SELECT day FROM radar_day_totals ORDER BY 1"
        ).fetchall()]
    return [r[0] for r in con.execute(
        f"""
        WITH actual AS (SELECT DATE '1970-01-01' + d AS day, n
                        FROM (SELECT {SEEN_DAY_NUMBER} AS d, count(*) AS n FROM posts GROUP BY ALL))
        SELECT coalesce(a.day, t.day) FROM actual a FULL JOIN radar_day_totals t USING (day)
        WHERE a.n IS DISTINCT FROM t.all_posts
        UNION
        SELECT DISTINCT {SEEN_DAY} FROM posts
        SEMI JOIN (SELECT platform, post_id FROM scores WHERE scored_at > ?::TIMESTAMPTZ) USING (platform, post_id)
        ORDER BY 1
        """, [state[1] or datetime.min.replace(tzinfo=timezone.utc)]).fetchall()]


def fresh_from(con: duckdb.DuckDBPyConnection, fingerprint: str, day: date) -> bool:
    """Whether the kept counts of every day from `day` on are what the posts give now
    (read-only: for the readers that cannot refresh them)."""
    state = con.execute("SELECT watch_fingerprint FROM radar_days_state").fetchone()
    if state is None or state[0] != fingerprint:
        return False
    return not any(d >= day for d in dirty_days(con, fingerprint))


def refresh(con: duckdb.DuckDBPyConnection, fingerprint: str,
            before_commit: Callable[[], None] | None = None) -> int:
    """Count again the days that changed since the last refresh; `fingerprint` is the
    watchlist's that tag_matches was matched against. Returns how many days were counted.
    `before_commit` is called just before the transaction commits (a test fails it there)."""
    with transaction(con):
        days = dirty_days(con, fingerprint)
        if days:
            _count_days(con, days)
        con.execute(
            """
            INSERT OR REPLACE INTO radar_days_state (id, watch_fingerprint, scored_until, refreshed_at)
            SELECT 1, ?, (SELECT max(scored_at) FROM scores), now()
            """, [fingerprint])
        if before_commit is not None:
            before_commit()
        crashpoint("radar_days.before_commit")
    return len(days)


def recount(con: duckdb.DuckDBPyConnection, fingerprint: str) -> None:
    """Count every day again from every post (reads all of posts: not for the daily work)."""
    with transaction(con):
        con.execute("DELETE FROM radar_days_state")
        refresh(con, fingerprint)


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """The kept counts, in order (for comparing them with a recount)."""
    return {
        "radar_days": con.execute("SELECT * FROM radar_days ORDER BY ALL").fetchall(),
        "radar_day_totals": con.execute("SELECT * FROM radar_day_totals ORDER BY ALL").fetchall(),
        "radar_spellings": con.execute("SELECT * FROM radar_spellings ORDER BY ALL").fetchall(),
        "radar_hits": con.execute("SELECT * FROM radar_hits ORDER BY ALL").fetchall(),
        "radar_hit_posts": con.execute("SELECT * FROM radar_hit_posts ORDER BY ALL").fetchall(),
    }
