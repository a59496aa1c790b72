"""The resurfacing radar in the warehouse: synonyms, the match of every observed tag against
the watchlist, co-occurrence proposals, daily volume and spikes, and the view union staff
read (`resurfacing_view`, plain data for the CLI, the web app and the education report).

Matching itself is radar.match (pure); this module feeds it the watchlist and stores
what it finds in bulk (Arrow tables, never row by row).
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

import pyarrow as pa

from radar.match import Match, WatchIndex, canonical_key, match_all
from radar.network import MAX_EDGES, Network, build
from radar.volume import HISTORY_DAYS, spikes
from warehouse import radar_days
from warehouse.db import WarehouseError, transaction
from warehouse.queries import dict_rows, normalise_tag, watchlist_add

MIN_SUPPORT = 3      # focus posts a tag needs before it can be proposed
MIN_LIFT = 1.5       # how much likelier than average a post with the tag is a focus post
WINDOW = timedelta(days=7)


# --- synonyms and the index -------------------------------------------------------------

def synonyms_add(con, tag: str, words: list[str]) -> list[str]:
    """Analyst synonyms of a watched tag (the tag must be on the watchlist)."""
    tag = normalise_tag(tag)
    if not con.execute("SELECT 1 FROM watchlist WHERE tag = ?", [tag]).fetchone():
        raise WarehouseError(f"#{tag} is not on the watchlist: add it before its synonyms")
    words = list(dict.fromkeys(normalise_tag(w) for w in words))
    if words:
        rows = pa.table({"synonym": words})  # noqa: F841 (read by DuckDB below)
        con.execute("INSERT INTO watchlist_synonyms (tag, synonym) SELECT ?, synonym FROM rows "
                    "ON CONFLICT DO NOTHING", [tag])
    return words


def synonyms(con) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for tag, word in con.execute("SELECT tag, synonym FROM watchlist_synonyms ORDER BY tag, synonym").fetchall():
        found[tag].append(word)
    return dict(found)


def watch_index(con) -> tuple[WatchIndex, dict[str, str], str]:
    """The index over the watchlist, each tag's status, and a fingerprint of both.

    Banned tags go in first, so where two watched tags share a form the banned one wins."""
    rank = {"banned": 0, "flagged": 1, "watch": 2}
    rows = con.execute("SELECT tag, status FROM watchlist").fetchall()
    rows.sort(key=lambda r: (rank.get(r[1], 3), r[0]))
    syn = {t: words for t, words in synonyms(con).items() if any(t == r[0] for r in rows)}
    fingerprint = hashlib.sha256(repr((rows, sorted(syn.items()))).encode()).hexdigest()[:16]
    return WatchIndex([r[0] for r in rows], syn), dict(rows), fingerprint


def match_tags(con, candidates: list[str]) -> list[Match]:
    index, _, _ = watch_index(con)
    return [index.match(c) for c in candidates]


# --- every observed tag, matched once ---------------------------------------------------

def refresh_matches(con) -> int:
    """Match the tags not matched yet against the current watchlist (all of them again
    when the watchlist or its synonyms changed). Returns how many were (re)matched.
    The tags come from `tags_seen` (kept by the loader), not from every post's tags."""
    index, _, fingerprint = watch_index(con)
    todo = [r[0] for r in con.execute(
        """
        SELECT s.tag FROM tags_seen s LEFT JOIN tag_matches m USING (tag)
        WHERE m.tag IS NULL OR m.watch_fingerprint <> ?
        """, [fingerprint]).fetchall()]
    if not todo:
        return 0
    found = match_all(index, todo, workers=2)
    matched = pa.table({  # noqa: F841 (read by DuckDB below)
        "tag": todo,
        "canonical": [m.tag if m.tag else canonical_key(m.candidate) for m in found],
        "matched_tag": [m.tag for m in found],
        "method": [m.method or None for m in found],
    })
    with transaction(con):
        con.execute(
            """
            INSERT OR REPLACE INTO tag_matches (tag, canonical, matched_tag, method, watch_fingerprint, matched_at)
            SELECT tag, canonical, matched_tag, method, ?, now() FROM matched
            """, [fingerprint])
    return len(todo)


# --- co-occurrence proposals ------------------------------------------------------------

def mine_proposals(con, now: datetime | None = None, window: timedelta = WINDOW,
                   min_support: int = MIN_SUPPORT, min_lift: float = MIN_LIFT) -> list[dict]:
    """Tags that travel with abuse: on posts the classifier flags or that carry a banned or
    flagged tag (the focus posts) far more often than on the average collected post, in
    the last `window` (whole UTC days by first sighting: today and the 6 days before),
    compared with the window before. Stored as proposals (decided ones keep their decision
    and are never proposed again); returns the ranked candidates.
    Read from the radar's counts per day (warehouse/radar_days.py), brought up to date
    first: the days that changed are counted again, the others are not read."""
    now = now or datetime.now(timezone.utc)
    refresh_matches(con)
    radar_days.refresh(con, watch_index(con)[2])
    today = now.astimezone(timezone.utc).date()
    start = today - timedelta(days=max(1, window.days) - 1)
    previous = start - timedelta(days=max(1, window.days))
    rows = dict_rows(con.execute(
        """
        WITH counted AS (
            SELECT canonical AS tag,
                   coalesce(sum(posts) FILTER (day >= ?), 0) AS posts,
                   coalesce(sum(focus_posts) FILTER (day >= ?), 0) AS support,
                   coalesce(sum(posts) FILTER (day < ?), 0) AS previous_posts
            FROM radar_days WHERE proposable AND day >= ? AND day <= ? GROUP BY canonical),
        totals AS (SELECT sum(posts) AS n, sum(focus_posts) AS nf FROM radar_day_totals
                   WHERE day >= ? AND day <= ?),
        spelled AS (   -- the most used spelling over both windows (the first in order of a tie)
            SELECT canonical AS tag, first(spelling ORDER BY uses DESC, spelling) AS spelling
            FROM (SELECT canonical, spelling, sum(uses) AS uses FROM radar_spellings
                  WHERE day >= ? AND day <= ? GROUP BY ALL) GROUP BY canonical),
        stats AS (SELECT c.*, s.spelling FROM counted c JOIN spelled s USING (tag))
        SELECT s.tag, s.spelling, s.posts, s.support, s.previous_posts,
               (s.support::DOUBLE / s.posts) / (t.nf::DOUBLE / t.n) AS lift
        FROM stats s, totals t
        WHERE t.nf > 0 AND s.support >= ? AND (s.support::DOUBLE / s.posts) / (t.nf::DOUBLE / t.n) >= ?
        ORDER BY lift * ln(1 + s.support) DESC, s.tag
        """, [start, start, start, previous, today, start, today, previous, today,
              min_support, min_lift]))
    if rows:
        found = pa.Table.from_pylist(rows)  # noqa: F841 (read by DuckDB below)
        with transaction(con):
            con.execute(
                """
                INSERT INTO tag_proposals (tag, spelling, status, posts, support, lift, previous_posts,
                                           first_proposed_at, updated_at)
                SELECT tag, spelling, 'proposed', posts, support, lift, previous_posts, now(), now() FROM found
                ON CONFLICT (tag) DO UPDATE SET spelling = excluded.spelling, posts = excluded.posts,
                    support = excluded.support, lift = excluded.lift,
                    previous_posts = excluded.previous_posts, updated_at = now()
                """)
    return rows


def proposals(con, status: str | None = "proposed", limit: int | None = None) -> list[dict]:
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    sql = (f"SELECT tag, spelling, status, posts, support, round(lift, 2) AS lift, previous_posts, "
           f"first_proposed_at, decided_at, decided_by FROM tag_proposals {where} "
           f"ORDER BY status, lift * ln(1 + support) DESC, tag")
    if limit:
        sql += f" LIMIT {int(limit)}"
    return dict_rows(con.execute(sql, params))


def decide(con, tag: str, accept: bool, by: str, status: str = "watch") -> dict:
    """Accept a proposal (its spelling goes on the watchlist, so the next run collects it)
    or reject it (remembered: never proposed again)."""
    key = canonical_key(normalise_tag(tag))
    row = con.execute("SELECT tag, spelling, status FROM tag_proposals WHERE tag = ? OR spelling = ?",
                      [key, normalise_tag(tag)]).fetchone()
    if row is None:
        raise WarehouseError(f"#{normalise_tag(tag)} has not been proposed (see: tagwatch tags proposals)")
    with transaction(con):
        if accept:
            watchlist_add(con, row[1], status, note=f"proposed by the radar, accepted by {by}")
        con.execute("UPDATE tag_proposals SET status = ?, decided_at = now(), decided_by = ? WHERE tag = ?",
                    ["accepted" if accept else "rejected", by, row[0]])
    return {"tag": row[0], "spelling": row[1], "decision": "accepted" if accept else "rejected"}


# --- volume and spikes ------------------------------------------------------------------

def daily_volume(con, since: datetime) -> list[dict]:
    """Posts per day per canonical tag and platform (by when posted, else first seen), in
    whole days: posted on `since`'s day or later, first seen on the UTC day before it or
    later. A post carrying two spellings of one tag counts once (so not from tag_days).
    From the radar's counts per day when they are up to date for those days (the CLI and
    the DAG refresh them first), else from the posts (a read-only reader after a load)."""
    since = since.astimezone(timezone.utc)
    seen_from = (since - timedelta(days=1)).date()
    if radar_days.fresh_from(con, watch_index(con)[2], seen_from):
        return dict_rows(con.execute(
            """
            SELECT canonical, platform, posted AS day, sum(posts)::BIGINT AS posts FROM radar_days
            WHERE posted >= ?::TIMESTAMPTZ::DATE AND day >= ?
            GROUP BY ALL ORDER BY canonical, platform, day
            """, [since, seen_from]))
    return dict_rows(con.execute(
        f"""
        SELECT m.canonical, p.platform, p.day, count(DISTINCT p.pid) AS posts
        FROM (SELECT rowid AS pid, platform, coalesce(created_at, first_seen_at)::DATE AS day,
                     unnest(hashtags) AS tag
              FROM posts WHERE coalesce(created_at, first_seen_at)::DATE >= ?::TIMESTAMPTZ::DATE
                 -- seen after posted (a day's margin for clocks): skips the older row groups
                 AND first_seen_at >= ?::TIMESTAMPTZ AND {radar_days.SEEN_DAY} >= ?) p
        JOIN tag_matches m ON m.tag = p.tag
        GROUP BY ALL ORDER BY m.canonical, p.platform, p.day
        """, [since, datetime.combine(seen_from, datetime.min.time(), timezone.utc), seen_from]))


def volume_spikes(con, since: datetime, now: datetime | None = None) -> list[dict]:
    now = now or datetime.now(timezone.utc)
    series: dict[tuple, dict] = defaultdict(dict)
    for r in daily_volume(con, since - timedelta(days=HISTORY_DAYS)):
        series[(r["canonical"], r["platform"])][r["day"]] = r["posts"]
    days = [since.date() + timedelta(days=i) for i in range((now.date() - since.date()).days + 1)]
    found = [{"tag": tag, "platform": platform, **s}
             for (tag, platform), counts in series.items() for s in spikes(counts, days)]
    return sorted(found, key=lambda s: (-s["ratio"], s["tag"], s["platform"], s["day"]))


# --- the network of tags around the watched ones -----------------------------------------

def tag_network(con, since: datetime | None, max_edges: int = MAX_EDGES) -> Network:
    """Tags seen on the same posts as a watched or proposed tag (posts first seen since
    `since`): the `max_edges` strongest pairs by posts together, then lift (how much
    likelier the two are together than apart), each tag with its kind, spelling and posts.
    One statement, one scan of the period's tags (materialised: every part reads it), posts
    by row id (a number: cheaper to join than platform and post id). The tags are unnested
    before they are joined with tag_matches: 20 times faster than a lateral join here."""
    where, params = ("WHERE p.first_seen_at >= ?", [since]) if since else ("", [])
    rows = dict_rows(con.execute(
        f"""
        WITH tagged AS MATERIALIZED (
            SELECT DISTINCT x.pid, m.canonical AS tag, x.tag AS spelling
            FROM (SELECT p.rowid AS pid, unnest(p.hashtags) AS tag FROM posts p {where}) x
            JOIN tag_matches m USING (tag)),
        post_tags AS MATERIALIZED (SELECT DISTINCT pid, tag FROM tagged),
        centre AS (SELECT tag FROM watchlist
                   UNION SELECT tag FROM tag_proposals WHERE status = 'proposed'),
        counts AS MATERIALIZED (SELECT tag, count(*) AS posts FROM post_tags GROUP BY tag),
        total AS (SELECT count(DISTINCT pid) AS n FROM post_tags),
        near AS (SELECT t.* FROM post_tags t SEMI JOIN (SELECT DISTINCT pid FROM post_tags
                 WHERE tag IN (SELECT tag FROM centre)) c USING (pid)),
        pairs AS (
            SELECT a.tag AS a, b.tag AS b, count(*) AS posts
            FROM near a JOIN near b ON a.pid = b.pid AND a.tag < b.tag
            WHERE a.tag IN (SELECT tag FROM centre) OR b.tag IN (SELECT tag FROM centre)
            GROUP BY ALL),
        top AS MATERIALIZED (
            SELECT p.a, p.b, p.posts, p.posts * t.n / (ca.posts * cb.posts)::DOUBLE AS lift,
                   count(*) OVER () AS seen
            FROM pairs p JOIN counts ca ON ca.tag = p.a JOIN counts cb ON cb.tag = p.b, total t
            ORDER BY p.posts DESC, lift DESC, p.a, p.b LIMIT ?),
        names AS (SELECT a AS tag FROM top UNION SELECT b FROM top),
        spelled AS (SELECT tag, mode(spelling) AS label FROM tagged
                    WHERE tag IN (SELECT tag FROM names) GROUP BY tag),
        info AS (
            SELECT n.tag, coalesce(pr.spelling, s.label, n.tag) AS label, c.posts,
                   coalesce(wl.status, CASE WHEN pr.tag IS NOT NULL THEN 'proposed' END, 'other') AS kind
            FROM names n LEFT JOIN counts c USING (tag) LEFT JOIN spelled s USING (tag)
            LEFT JOIN watchlist wl ON wl.tag = n.tag
            LEFT JOIN tag_proposals pr ON pr.tag = n.tag AND pr.status = 'proposed')
        SELECT top.*, ia.label AS a_label, ia.kind AS a_kind, ia.posts AS a_posts,
               ib.label AS b_label, ib.kind AS b_kind, ib.posts AS b_posts
        FROM top JOIN info ia ON ia.tag = top.a JOIN info ib ON ib.tag = top.b
        """, params + [max(0, int(max_edges))]))
    info = {r[side]: {"label": r[f"{side}_label"], "kind": r[f"{side}_kind"], "posts": r[f"{side}_posts"]}
            for r in rows for side in ("a", "b")}
    network = build(rows, info, max_edges)
    network.pairs_seen = rows[0]["seen"] if rows else 0
    return network


# --- the view ---------------------------------------------------------------------------

def refresh(con, now: datetime | None = None) -> dict:
    """What the DAG runs after each load: match new tags, mine proposals."""
    matched = refresh_matches(con)
    proposed = mine_proposals(con, now=now)
    return {"matched": matched, "proposals": len(proposed)}


def resurfaced(con, since: datetime | None) -> list[dict]:
    """Banned tags seen again, one alert per watched tag however many platforms and
    spellings: each with its variants (spelling, method, platform, first seen, posts).
    The whole days after `since`'s day come from the radar's counts per day when they are up
    to date (the CLI and the DAG refresh them first); `since`'s own day, from `since` on,
    from its posts; everything from the posts when the counts are not up to date."""
    start = since.astimezone(timezone.utc) if since else None
    edge = start.date() if start else date.min
    if radar_days.fresh_from(con, watch_index(con)[2], edge):
        end = datetime.combine(edge + timedelta(days=1), datetime.min.time(), timezone.utc) if start else None
        kept = ("SELECT tag, variant, method, platform, first_seen, posts, labelled, flagged "
                "FROM radar_hits WHERE day > ?", "SELECT tag, platform, first_seen, posts, labelled, "
                "flagged FROM radar_hit_posts WHERE day > ?", [edge])
    else:
        end, kept = "infinity", ("SELECT * FROM variant_rows WHERE FALSE",
                                 "SELECT * FROM total_rows WHERE FALSE", [])
    if start is None and end is None:      # everything kept: an empty range of posts
        start = end = datetime(1970, 1, 1, tzinfo=timezone.utc)
    rows = dict_rows(con.execute(
        f"""
        WITH {radar_days.hits_sql(False)},
        variants AS (SELECT * FROM variant_rows UNION ALL {kept[0]}),
        totals AS (SELECT * FROM total_rows UNION ALL {kept[1]})
        SELECT 'variant' AS kind, tag, variant, method, platform, min(first_seen) AS first_seen,
               sum(posts)::BIGINT AS posts, sum(flagged) / nullif(sum(labelled), 0) AS share_flagged,
               NULL AS platforms
        FROM variants GROUP BY tag, variant, method, platform
        UNION ALL
        SELECT 'total', tag, NULL, NULL, NULL, min(first_seen), sum(posts)::BIGINT,
               sum(flagged) / nullif(sum(labelled), 0), list(DISTINCT platform ORDER BY platform)
        FROM totals GROUP BY tag
        ORDER BY kind DESC, tag, first_seen, variant, platform
        """, [start or "-infinity", end] + kept[2] * 2))
    alerts = []
    for total in (r for r in rows if r["kind"] == "total"):
        variants = [{k: v[k] for k in ("variant", "method", "platform", "first_seen", "posts", "share_flagged")}
                    for v in rows if v["kind"] == "variant" and v["tag"] == total["tag"]]
        alerts.append({**{k: total[k] for k in ("tag", "first_seen", "posts", "share_flagged", "platforms")},
                       "variants": variants})
    alerts.sort(key=lambda a: (-a["posts"], a["tag"]))
    return alerts


def resurfacing_view(con, since: datetime | None, limit: int = 20,
                     now: datetime | None = None) -> dict:
    """Everything union staff see each morning, as plain data (read-only)."""
    since_for_spikes = since or (datetime.now(timezone.utc) - WINDOW)
    return {
        "since": since,
        "resurfaced": resurfaced(con, since),
        "proposals": proposals(con, "proposed", limit=limit),
        "spikes": volume_spikes(con, since_for_spikes, now=now)[:limit],
    }
