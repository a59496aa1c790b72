"""Reads and small writes on the warehouse that the CLI, the DAG and the web app share."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import duckdb
import pyarrow as pa

from warehouse import queue_keys
from warehouse.db import WarehouseError, transaction

WATCH_STATUSES = ("banned", "flagged", "watch")
# staff_target at or above this: the post is taken as aimed at school staff (ordering only).
STAFF_AIMED = 0.5
# The same text, as resurfacing and incidents compare it: case, runs of white space and the ends
# ignored (SQL over column {col}; compared by sha256). Shorter texts say too little to call a
# copy the same content.
NORMALISED_TEXT = "lower(trim(regexp_replace({col}, '\\s+', ' ', 'g')))"
MIN_SAME_TEXT = 20
_TAG = re.compile(r"^[^\s#,]{1,100}$")
_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def normalise_tag(tag: str) -> str:
    """'#TeachersOfTikTok' -> 'teachersoftiktok'; refuses what cannot be a hashtag."""
    cleaned = (tag or "").strip().lstrip("#").lower()
    if not _TAG.match(cleaned):
        raise WarehouseError(f"not a hashtag: {tag!r} (one word, no spaces or commas)")
    return cleaned


def parse_since(text: str | None) -> datetime | None:
    """'1d', '12h', '30m', '2w' -> the moment that long ago; 'all' or None -> no limit."""
    if text is None or text.strip().lower() == "all":
        return None
    m = _DURATION.match(text.strip().lower())
    if not m:
        raise WarehouseError(f"cannot read the period {text!r}: use e.g. 30m, 12h, 1d, 2w or all")
    try:
        return datetime.now(timezone.utc) - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    except OverflowError:  # 99999999w reaches before year 1
        raise WarehouseError(f"the period {text!r} is too long; use all for no limit") from None


# --- watchlist -------------------------------------------------------------------------

def watchlist_add(con, tag: str, status: str = "watch", note: str | None = None) -> str:
    if status not in WATCH_STATUSES:
        raise WarehouseError(f"status must be one of {', '.join(WATCH_STATUSES)}, not {status!r}")
    tag = normalise_tag(tag)
    con.execute(
        "INSERT INTO watchlist (tag, status, note) VALUES (?, ?, ?) "
        "ON CONFLICT (tag) DO UPDATE SET status = excluded.status, "
        "note = coalesce(excluded.note, note)",
        [tag, status, note],
    )
    return tag


def watchlist_remove(con, tag: str) -> bool:
    tag = normalise_tag(tag)
    con.execute("DELETE FROM watchlist_synonyms WHERE tag = ?", [tag])
    return bool(con.execute("DELETE FROM watchlist WHERE tag = ? RETURNING tag", [tag]).fetchall())


def watchlist(con) -> list[dict]:
    cur = con.execute("SELECT tag, status, note, added_at FROM watchlist ORDER BY tag")
    return dict_rows(cur)


# --- sources ---------------------------------------------------------------------------

def source_add(con, platform: str, base_url: str) -> str:
    base_url = base_url.strip().rstrip("/")
    if not re.match(r"^https?://[^\s/]+", base_url):
        raise WarehouseError(f"not an http(s) base URL: {base_url!r}")
    con.execute(
        "INSERT INTO sources (platform, base_url) VALUES (?, ?) "
        "ON CONFLICT (platform, base_url) DO UPDATE SET enabled = TRUE",
        [platform, base_url],
    )
    return base_url


def source_remove(con, platform: str, base_url: str) -> bool:
    return bool(con.execute(
        "DELETE FROM sources WHERE platform = ? AND base_url = ? RETURNING base_url",
        [platform, base_url.strip().rstrip("/")],
    ).fetchall())


def sources(con, enabled_only: bool = False) -> list[dict]:
    where = "WHERE enabled" if enabled_only else ""
    return dict_rows(con.execute(
        f"SELECT platform, base_url, enabled, added_at FROM sources {where} ORDER BY platform, base_url"
    ))


# --- scores ----------------------------------------------------------------------------

def unscored_batches(con, model_version: str, size: int = 5000):
    """Batches of (platform, post_id, text) of the posts `model_version` has not scored.

    The posts are found with one anti-join, by row id; each batch then reads only its range
    of row ids (new posts are appended, so the day's batches skip all older row groups).
    The caller may write scores between batches, but not posts.
    """
    con.execute("CREATE OR REPLACE TEMP TABLE unscored AS SELECT p.rowid AS rid FROM posts p "
                "ANTI JOIN (SELECT platform, post_id FROM scores WHERE model_version = ?) s "
                "USING (platform, post_id)", [model_version])
    last = -1
    try:
        while rids := [r[0] for r in con.execute(
                "SELECT rid FROM unscored WHERE rid > ? ORDER BY rid LIMIT ?", [last, size]).fetchall()]:
            last = rids[-1]
            yield con.execute("SELECT platform, post_id, text FROM posts WHERE rowid BETWEEN ? AND ? "
                              "AND rowid IN (SELECT unnest(?::BIGINT[]))",
                              [rids[0], last, rids]).fetchall()
    finally:
        con.execute("DROP TABLE IF EXISTS unscored")


def write_scores(con, rows: list[tuple], model_version: str, threshold: float) -> int:
    """Bulk-insert (platform, post_id, score[, categories, explanation[, staff_target]]) rows.

    NaN/None scores are stored as NULL (not scorable). `categories` (dict) and
    `explanation` (list of dicts) are stored as JSON; missing ones as NULL.
    `staff_target` is the probability that the post is aimed at school staff.
    """
    if not rows:
        return 0

    def as_json(value):
        return None if value is None else json.dumps(value)

    scored = pa.table({
        "platform": [r[0] for r in rows],
        "post_id": [r[1] for r in rows],
        "score": [None if r[2] is None or r[2] != r[2] else float(r[2]) for r in rows],
        "categories": pa.array([as_json(r[3]) if len(r) > 3 else None for r in rows], pa.string()),
        "explanation": pa.array([as_json(r[4]) if len(r) > 4 else None for r in rows], pa.string()),
        "staff_target": pa.array([_probability(r[5]) if len(r) > 5 else None for r in rows],
                                 pa.float64()),
    })
    with transaction(con):
        con.execute(
            """
            INSERT INTO scores (platform, post_id, model_version, score, label, scored_at,
                                categories, explanation, staff_target)
            SELECT platform, post_id, ?, score, score >= ?, now(),
                   categories::JSON, explanation::JSON, staff_target FROM scored
            ON CONFLICT DO NOTHING
            """,
            [model_version, threshold],
        )
        # A case's post scored again (a new model): the queue ranks it by its newest score.
        con.register("scored_batch", scored)
        try:
            queue_keys.refresh_posts(con, "SELECT platform, post_id FROM scored_batch")
        finally:
            con.unregister("scored_batch")
    return len(rows)


def _probability(value) -> float | None:
    return None if value is None or value != value else float(value)


# --- the flagged list ------------------------------------------------------------------

def videos_needing_comments(con, platform: str, limit: int) -> list[dict]:
    """Flagged posts (not comments) of `platform` whose comments were never fetched, worst first.

    Flagged by the newest model that scored anything; `source` is the API each was collected
    from (imported export items have no API source and are left out).
    """
    return dict_rows(con.execute(
        """
        WITH model AS (SELECT model_version FROM scores ORDER BY scored_at DESC LIMIT 1)
        SELECT p.post_id, p.url, p.source, max(s.score) AS score
        FROM posts p JOIN scores s USING (platform, post_id)
        WHERE p.platform = ? AND p.parent_post_id IS NULL AND s.label
          AND p.source LIKE 'http%'  -- collected through an API (not an imported export)
          AND s.model_version = (SELECT model_version FROM model)
          AND NOT EXISTS (SELECT 1 FROM comment_fetches f WHERE f.platform = p.platform
                          AND f.source = p.source AND f.post_id = p.post_id)
        GROUP BY p.post_id, p.url, p.source
        ORDER BY score DESC, p.post_id
        LIMIT ?
        """, [platform, int(limit)]))


def flagged(con, model_version: str | None = None, since: datetime | None = None,
            limit: int | None = None) -> list[dict]:
    """Flagged posts by the given model (default: the newest model that scored anything).

    Flagged means `score` (abusive, to anyone) reached the model's threshold;
    `staff_target` never flags a post by itself. Posts aimed at school staff
    (staff_target >= STAFF_AIMED) come first, then by score.
    """
    if model_version is None:
        row = con.execute("SELECT model_version FROM scores ORDER BY scored_at DESC LIMIT 1").fetchone()
        if row is None:
            return []
        model_version = row[0]
    params: list = [model_version]
    where = ""
    if since is not None:
        where = "AND p.first_seen_at >= ?"
        params.append(since)
    sql = f"""
        SELECT s.score, p.platform, p.url, p.hashtags, p.text, p.created_at, p.first_seen_at,
               p.post_id, s.model_version, s.categories::VARCHAR AS categories,
               s.explanation::VARCHAR AS explanation, s.staff_target
        FROM scores s JOIN posts p USING (platform, post_id)
        WHERE s.model_version = ? AND s.label {where}
        ORDER BY coalesce(s.staff_target, 0) >= {STAFF_AIMED} DESC, s.score DESC,
                 p.first_seen_at DESC
    """
    if limit:
        sql += f" LIMIT {int(limit)}"
    return dict_rows(con.execute(sql, params))


def summary(con, run_id: str | None = None) -> dict:
    """Counts for the end-of-run summary: per (source, tag) collected, and the totals."""
    where, params = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
    per_tag = dict_rows(con.execute(
        f"""
        SELECT platform, source, tag, sum(received) AS received, sum(new) AS new,
               string_agg(DISTINCT status, ',') AS status
        FROM collection_runs {where} GROUP BY ALL ORDER BY platform, source, tag
        """, params))
    posts, scored = con.execute(
        "SELECT (SELECT count(*) FROM posts), (SELECT count(*) FROM scores)").fetchone()
    return {"per_tag": per_tag, "posts": posts, "scores": scored}


def dict_rows(cur: duckdb.DuckDBPyConnection) -> list[dict]:
    """A cursor's rows as dicts keyed by column name (what the query modules return)."""
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]
