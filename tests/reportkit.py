"""A fixture warehouse for the education report: two weeks of invented posts, reviews,
reports, platform answers and re-checks, made through the review code itself
(review.cases, review.rechecks) with the clock set by hand.

The period under test is Mon 2 March 2026 00:00 UTC to Mon 9 March 00:00 (7 days,
`--end 2026-03-08`); the previous period is 23 February to 2 March. Every person,
handle, school and address here is invented. The expected figures are worked out by
hand in tests/test_report.py from the times below.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from review import cases as cs
from review import rechecks
from warehouse import queries
from warehouse.db import session

START = datetime(2026, 3, 2, tzinfo=timezone.utc)
END = datetime(2026, 3, 9, tzinfo=timezone.utc)
PREVIOUS_START = datetime(2026, 2, 23, tzinfo=timezone.utc)

# What must never appear in any output: author handles (they are in URLs and mentions),
# the staff, pupils and schools named in post text, contact details, and a name-bearing tag.
HANDLES = ("grimwald_fox", "tansy_brook99", "ollerton_jay", "quillmere")
NAMES = ("Hallorann", "Pendleby", "Wistowe", "Larchwood", "Corvinia", "Brackenfold")
CONTACTS = ("pendleby@larchwood.example", "07700 900123", "14 Birchmoor Lane", "sackpendleby")
SECRETS = HANDLES + NAMES + CONTACTS

_TEXTS = {
    "p1": "Mrs Hallorann at Larchwood Primary is a liar, everyone report her @quillmere #sackpendleby",
    "p2": "@tansy_brook99 says Mr Pendleby lives at 14 Birchmoor Lane, ring him on 07700 900123",
    "p3": "great assembly today from the head at Brackenfold",
    "p4": "mail pendleby@larchwood.example and tell him what you think of him",
    "p5": "which teacher gives the most homework",
    "p6": "Ms Wistowe should be slapped, Corvinia knows why",
    "p7": "someone needs to sort out that teacher",
    "q1": "Hallorann is a disgrace to Larchwood",
    "q2": "joke video of a teacher",
    "q3": "best teacher ever",
}


def _h(day: int, hour: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=timezone.utc)


def _post(con, key, platform, handle, tags, first_seen, score, model, scored_at) -> None:
    host = "mastodon.example" if platform == "mastodon" else "bsky.example"
    con.execute(
        "INSERT INTO posts (platform, post_id, url, text, created_at, hashtags, author_key, source, "
        "source_post_id, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [platform, f"https://{host}/users/{handle}/statuses/{key}", f"https://{host}/@{handle}/{key}",
         _TEXTS[key], first_seen - timedelta(hours=1), tags, f"pseudo-{key}", f"https://{host}", key,
         first_seen, first_seen])
    con.execute(
        "INSERT INTO scores (platform, post_id, model_version, score, label, scored_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [platform, f"https://{host}/users/{handle}/statuses/{key}", model, score, score >= 0.5, scored_at])


def _case(con, key: str) -> int:
    return con.execute("SELECT case_id FROM cases WHERE post_id LIKE ?", [f"%/{key}"]).fetchone()[0]


def _seen(state: str) -> dict:
    return {"url": "https://mastodon.example/api/v1/statuses/x", "state": state,
            "http_status": 200 if state == "online" else 404, "detail": None}


def build(settings) -> dict[str, int]:
    """Fill the warehouse at settings.db_path; returns case ids by post key."""
    with session(settings.db_path) as con:
        queries.watchlist_add(con, "slapateacher", "banned")
        queries.watchlist_add(con, "exposeyourteacher", "flagged")
        queries.watchlist_add(con, "ratemyteacher", "watch")
        # previous period
        _post(con, "q1", "mastodon", "grimwald_fox", ["exposeyourteacher"], _h(24, 0, 2), 0.9, "model-a", _h(24, 0, 2))
        _post(con, "q2", "mastodon", "ollerton_jay", ["slapateacher"], _h(25, 0, 2), 0.8, "model-a", _h(25, 0, 2))
        _post(con, "q3", "mastodon", "ollerton_jay", ["ratemyteacher"], _h(26, 0, 2), 0.1, "model-a", _h(26, 0, 2))
        cs.open_flagged(con, now=_h(26, 1, 2))
        c = {k: _case(con, k) for k in ("q1", "q2")}
        cs.review(con, c["q1"], "confirm", "ana", now=_h(26, 2, 2))
        cs.review(con, c["q2"], "dismiss", "ana", now=_h(26, 2, 2))
        cs.report(con, c["q1"], "in-app", "MST-REF-0999", "ana", sent_at=_h(24, 3, 2), now=_h(26, 3, 2))
        cs.apply_deadlines(con, now=_h(28, 4, 2))
        # this period
        _post(con, "p1", "mastodon", "grimwald_fox", ["exposeyourteacher", "sackpendleby"], _h(3), 0.9, "model-a", _h(3))
        _post(con, "p2", "mastodon", "tansy_brook99", ["slapateacher"], _h(3, 12), 0.8, "model-a", _h(3, 12))
        _post(con, "p3", "bluesky", "ollerton_jay", ["exposeyourteacher", "ratemyteacher"], _h(5), 0.7, "model-a", _h(5))
        _post(con, "p4", "mastodon", "quillmere", ["sl4pateacher"], _h(4), 0.95, "model-a", _h(4))
        _post(con, "p5", "mastodon", "ollerton_jay", ["ratemyteacher"], _h(6), 0.1, "model-b", _h(6))
        _post(con, "p6", "bluesky", "tansy_brook99", ["slapateacher"], _h(5), 0.85, "model-b", _h(5))
        _post(con, "p7", "mastodon", "grimwald_fox", ["exposeyourteacher"], _h(8, 12), 0.6, "model-b", _h(8, 12))
        cs.open_flagged(con, now=_h(5, 1))
        c.update({k: _case(con, k) for k in ("p1", "p2", "p3", "p4", "p6", "p7")})
        for key in ("p1", "p2", "p4", "p6"):
            cs.review(con, c[key], "confirm", "ana", target_role="teacher", now=_h(5, 1))
        cs.review(con, c["p3"], "dismiss", "ana", now=_h(5, 1))
        # first seen -> reported: p1 4 h, p2 12 h, p4 20 h, p6 2 h
        cs.report(con, c["p1"], "in-app", "MST-REF-1001", "ana", sent_at=_h(3, 4), now=_h(5, 1))
        cs.report(con, c["p2"], "form", "MST-REF-1002", "ana", sent_at=_h(4, 0), now=_h(5, 1))
        cs.report(con, c["p4"], "in-app", "MST-REF-1004", "ana", sent_at=_h(4, 20), now=_h(5, 1))
        cs.report(con, c["p6"], "in-app", "BSK-REF-1006", "ana", sent_at=_h(5, 2), now=_h(5, 3))
        # reported -> answer: p1 10 h (removed), p2 30 h (no violation), p6 24 h (removed)
        # with the DSA statement-of-reasons fields the platforms gave (short forms and constants)
        cs.answer(con, c["p1"], "removed", "We removed the content.", "ana", answered_at=_h(3, 14), now=_h(5, 4),
                  statement={"decision_ground": "terms_of_service", "category": "illegal_or_harmful_speech",
                             "automated_detection": "no", "automated_decision": "not_automated",
                             "application_date": "2026-03-03", "restriction": "removed"})
        cs.answer(con, c["p2"], "no_violation", "No violation found.", "ana", answered_at=_h(5, 6), now=_h(5, 7),
                  statement={"restriction": "no_action"})
        cs.answer(con, c["p6"], "removed", "Removed.", "ana", answered_at=_h(6, 2), now=_h(6, 3),
                  statement={"decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
                             "automated_detection": "yes", "automated_decision": "AUTOMATED_DECISION_PARTIALLY",
                             "restriction": "DECISION_ACCOUNT_SUSPENDED"})
        rechecks.record(con, c["p1"], _seen("online"), _h(6, 3))    # said removed, still online: MISMATCH
        rechecks.record(con, c["p2"], _seen("gone"), _h(6, 0))      # reported -> offline 48 h
        rechecks.record(con, c["p6"], _seen("gone"), _h(6, 4))      # reported -> offline 26 h
        rechecks.record(con, c["p6"], _seen("online"), _h(7, 0))    # back online: RESURFACED
        cs.apply_deadlines(con, now=_h(6, 21))                      # p4: no answer within 48 h
        # after the end of the period: must not count
        cs.answer(con, c["p4"], "removed", "Removed late.", "ana", answered_at=_h(9, 6), now=_h(9, 6))
    return c
