"""Re-checks: is a reported post really gone? Asked of the platform's own lookup
(Mastodon statuses/:id, Bluesky getPosts + getProfile, TikTok's Research API video query by id).

Due times: +1 h, +24 h, +48 h, +7 d, +30 d after each report and after each
platform answer. A re-check is due when one of those moments has passed since the
case's last re-check. The network is asked with no warehouse connection open
(the file is shared with the loader): read what is due, close, look up, then write.

What a lookup finds becomes an automated move where the lifecycle allows one:
online after a "removed" answer -> MISMATCH; online after OFFLINE_VERIFIED ->
RESURFACED; gone -> OFFLINE_VERIFIED with the reason.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from collectors import platforms
from collectors.base import CollectOptions, MissingCredential
from collectors.http import PoliteClient
from review import cases as cs
from review import states as st
from warehouse.db import session, transaction
from warehouse.queries import dict_rows

SCHEDULE = (timedelta(hours=1), timedelta(hours=24), timedelta(hours=48), timedelta(days=7),
            timedelta(days=30))
# Each platform's re-check is its registry entry's `lookup` (collectors.platforms):
# lookup(client, target, options) -> {"url", "http_status", "state", "detail"}, state one of
# online | gone (who removed it not said) | removed_by_platform | account_gone | error.
# Every lookup uses the platform's own API, with the collection's credentials and state.


def _lookup(platform: str) -> Callable[[PoliteClient, dict, CollectOptions], dict] | None:
    entry = platforms.PLATFORMS.get(platform)
    return entry.lookup if entry else None


def due(con, now: datetime) -> list[int]:
    """Watched cases with a scheduled moment passed since their last re-check."""
    offsets = ", ".join(f"INTERVAL {int(o.total_seconds())} SECOND" for o in SCHEDULE)
    rows = con.execute(
        f"""
        WITH anchors AS (
            SELECT case_id, sent_at AS anchor_at FROM reports WHERE withdrawn_at IS NULL
            UNION ALL SELECT case_id, answered_at FROM platform_answers),
        slots AS (
            SELECT case_id, max(anchor_at + o) AS latest_slot
            FROM anchors, (SELECT unnest([{offsets}]) AS o)
            WHERE anchor_at + o <= ? GROUP BY case_id),
        last AS (SELECT case_id, max(checked_at) AS checked_at FROM rechecks GROUP BY case_id)
        SELECT s.case_id FROM slots s JOIN case_state cs USING (case_id)
        LEFT JOIN last l USING (case_id)
        WHERE cs.state IN ({', '.join('?' * len(st.WATCHED))})
          AND (l.checked_at IS NULL OR l.checked_at < s.latest_slot)
        ORDER BY s.case_id
        """, [now, *st.WATCHED]).fetchall()
    return [r[0] for r in rows]


def targets(con, case_ids: list[int]) -> list[dict]:
    """Where to look each case's post up: the source and id it was collected with."""
    if not case_ids:
        return []
    found = dict_rows(con.execute(
        f"""
        SELECT c.case_id, c.platform, p.source, p.source_post_id, p.created_at, s.state
        FROM cases c JOIN case_state s USING (case_id) LEFT JOIN posts p USING (platform, post_id)
        WHERE c.case_id IN ({', '.join('?' * len(case_ids))}) ORDER BY c.case_id
        """, [int(i) for i in case_ids]))
    missing = set(int(i) for i in case_ids) - {t["case_id"] for t in found}
    if missing:
        raise cs.CaseError(f"no case {', '.join(map(str, sorted(missing)))}")
    for t in found:
        if t["state"] in st.OPEN_FOR_REVIEW + (st.DISMISSED, st.CLOSED):
            raise cs.CaseError(f"case {t['case_id']} is {t['state']}: only confirmed cases are re-checked")
        if _lookup(t["platform"]) is None or not t["source"]:
            raise cs.CaseError(f"case {t['case_id']}: no way to look up a {t['platform']} post")
    return found


def observe(client: PoliteClient, target: dict, options: CollectOptions | None = None) -> dict:
    """Ask the platform (no warehouse connection needed)."""
    # The source the post was collected from was configured then (or screened, for a post
    # a person reported); redirects and links away from it are refused by the client.
    client.configure(target["source"])
    try:
        return _lookup(target["platform"])(client, target, options or CollectOptions())
    except MissingCredential as exc:  # nothing was asked: nothing can be concluded
        return {"url": target["source"] or "", "http_status": None, "state": "error", "detail": str(exc)}


def record(con, case_id: int, seen: dict, now: datetime) -> dict:
    """Store one observation and make the move it calls for; returns {outcome, moved_to}."""
    with transaction(con):
        state = cs.state_of(con, case_id)
        outcome = _outcome(con, case_id, seen)
        con.execute(
            "INSERT INTO rechecks (case_id, checked_at, url, http_status, outcome, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [case_id, now, seen["url"], seen["http_status"], outcome, seen["detail"]])
        target, note = _finding(con, case_id, state, outcome, seen, now)
        if target and st.MOVES.get((state, target)) == st.AUTOMATED:
            cs.append_move(con, case_id, target, cs.AUTOMATION, st.AUTOMATED, note, now)
        else:
            target = None
    return {"case_id": case_id, "outcome": outcome, "http_status": seen["http_status"],
            "moved_to": target}


def _outcome(con, case_id: int, seen: dict) -> str:
    """A 404 (Mastodon), an absent post (Bluesky getPosts, TikTok's Research API) does not
    say who removed it: it counts as the platform's removal only when the platform told us
    it removed it."""
    if seen["state"] != "gone":
        return seen["state"]
    claimed = con.execute("SELECT 1 FROM platform_answers WHERE case_id = ? AND outcome = 'removed'",
                          [case_id]).fetchone()
    return "removed_by_platform" if claimed else "deleted_by_author"


_REASONS = {
    "removed_by_platform": "removed by the platform",
    "deleted_by_author": "deleted (by its author; the platform claimed no removal)",
    "account_gone": "its account is gone (suspended or deleted)",
}


def _finding(con, case_id, state, outcome, seen, now) -> tuple[str | None, str | None]:
    status = f"HTTP {seen['http_status']}" if seen["http_status"] else "no answer"
    if outcome in _REASONS:
        return st.OFFLINE_VERIFIED, f"offline: {_REASONS[outcome]} ({status} at {now:%Y-%m-%d %H:%M} UTC)"
    if outcome == "online" and state == st.PLATFORM_ACTIONED:
        said = con.execute("SELECT max(answered_at) FROM platform_answers WHERE case_id = ? "
                           "AND outcome = 'removed'", [case_id]).fetchone()[0]
        return st.MISMATCH, (f"the platform said removed on {said:%Y-%m-%d %H:%M}; "
                             f"still online at {now:%Y-%m-%d %H:%M} UTC ({status})")
    if outcome == "online" and state == st.OFFLINE_VERIFIED:
        return st.RESURFACED, f"online again at {now:%Y-%m-%d %H:%M} UTC ({status})"
    return None, None


def run(db_path, client: PoliteClient, case_ids: list[int] | None = None,
        now: datetime | None = None, options: CollectOptions | None = None) -> dict:
    """Apply the 48 h deadline, then re-check the given cases (or every due one).

    Short warehouse sessions around the network calls, so a load can run in between.
    """
    start = now or cs.utcnow()
    with session(db_path) as con:
        no_response = cs.apply_deadlines(con, start)
        wanted = targets(con, case_ids if case_ids is not None else due(con, start))
    results = []
    for target in wanted:
        seen = observe(client, target, options)
        with session(db_path) as con:
            results.append(record(con, target["case_id"], seen, now or cs.utcnow()))
    return {"no_response": no_response, "rechecked": results}
