"""The radar's counts per day (radar_days, radar_day_totals, radar_spellings) stay what a
count from every post finds: after a first load, a later load, rescoring, a watchlist change
and a post seen again; and a refresh that fails leaves them as they were."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timezone

import pytest

from loadkit import post, stage
from warehouse import queries, radar_days, resurfacing
from warehouse.db import session
from warehouse.loader import load_staging


def score(con, n: int, label: bool, at: str, model: str = "m1") -> None:
    con.execute("INSERT INTO scores (platform, post_id, model_version, score, label, scored_at) "
                "VALUES ('mastodon', ?, ?, ?, ?, ?::TIMESTAMPTZ)",
                [f"https://school.example/users/u{n}/statuses/{n}", model, float(label), label, at])


def from_posts(con) -> dict[str, list[tuple]]:
    """The counts worked out in Python from every post (the oracle)."""
    match = dict(con.execute("SELECT tag, canonical FROM tag_matches").fetchall())
    watched = {t for t, in con.execute("SELECT tag FROM tag_matches WHERE matched_tag IS NULL").fetchall()}
    strong = {t for t, in con.execute(
        "SELECT m.tag FROM tag_matches m JOIN watchlist w ON w.tag = m.matched_tag "
        "WHERE w.status IN ('banned', 'flagged')").fetchall()}
    labels = dict(con.execute("SELECT platform || post_id, arg_max(label, scored_at) FROM scores "
                              "GROUP BY ALL").fetchall())
    groups, totals, spellings = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0, 0]), defaultdict(int)
    for key, platform, seen, created, tags in con.execute(
            "SELECT platform || post_id, platform, first_seen_at, created_at, hashtags FROM posts").fetchall():
        day = seen.astimezone(timezone.utc).date()
        totals[day][0] += 1
        tags = [t for t in tags or [] if t in match]
        if not tags:
            continue
        focus = bool(labels.get(key)) or any(t in strong for t in tags)
        totals[day][1] += 1
        totals[day][2] += focus
        posted = (created or seen).astimezone(timezone.utc).date()
        for canonical in {match[t] for t in tags}:
            proposable = any(match[t] == canonical and t in watched for t in tags)
            counted = groups[(day, canonical, platform, posted, proposable)]
            counted[0] += 1
            counted[1] += focus
        for t in tags:
            if t in watched:
                spellings[(day, match[t], t)] += 1
    return {"radar_days": sorted((*k, *v) for k, v in groups.items()),
            "radar_day_totals": sorted((k, *v) for k, v in totals.items()),
            "radar_spellings": sorted((*k, v) for k, v in spellings.items()),
            **hits_from_posts(con, labels)}


def hits_from_posts(con, labels) -> dict[str, list[tuple]]:
    """The resurfaced alerts' counts per day, worked out in Python (the oracle)."""
    banned = {t: (w, method) for t, w, method in con.execute(
        "SELECT m.tag, m.matched_tag, m.method FROM tag_matches m JOIN watchlist w ON w.tag = m.matched_tag "
        "WHERE w.status = 'banned'").fetchall()}
    variants, totals = defaultdict(list), defaultdict(dict)
    for key, platform, seen, tags in con.execute(
            "SELECT platform || post_id, platform, first_seen_at, hashtags FROM posts").fetchall():
        day = seen.astimezone(timezone.utc).date()
        for t in [t for t in tags or [] if t in banned]:
            variants[(day, banned[t][0], t, banned[t][1], platform)].append((seen, key))
            totals[(day, banned[t][0], platform)][key] = seen

    def counted(rows):   # first seen, distinct posts, rows labelled, rows flagged
        return (min(r[0] for r in rows), len({r[1] for r in rows}),
                sum(labels.get(r[1]) is not None for r in rows), sum(bool(labels.get(r[1])) for r in rows))
    return {"radar_hits": sorted((*k, *counted(v)) for k, v in variants.items()),
            "radar_hit_posts": sorted((*k, *counted([(seen, key) for key, seen in v.items()]))
                                      for k, v in totals.items())}


def refreshed(con) -> dict:
    """Refresh as the radar does, check the kept counts against the oracle and a recount."""
    resurfacing.refresh_matches(con)
    fingerprint = resurfacing.watch_index(con)[2]
    radar_days.refresh(con, fingerprint)
    kept = radar_days.counts(con)
    assert kept == from_posts(con)
    radar_days.recount(con, fingerprint)
    assert radar_days.counts(con) == kept
    return kept


@pytest.fixture
def con(tmp_path):
    with session(tmp_path / "w.duckdb") as c:
        c.execute("SET TimeZone = 'UTC'")
        queries.watchlist_add(c, "slapateacher", "banned")
        queries.watchlist_add(c, "teachersoftiktok", "watch")
        yield c


def test_the_counts_follow_loads_scores_watchlist_and_posts_seen_again(con, tmp_path):
    staging = tmp_path / "staging"
    stage(staging, "r1", [post(1, ["maths", "Maths", "m_a_t_h_s", "exams"]),   # one group, once
                          post(2, ["sl4pateacher", "maths"], created="2026-03-02T01:00:00Z"),
                          post(3, ["teachersoftiktok", "teacher_s_of_tiktok"]),
                          post(4, [], collected="2026-03-03T08:00:00Z")])
    load_staging(con, staging)
    first = refreshed(con)
    assert ("maths",) in {(r[1],) for r in first["radar_days"]}
    assert [r[:3] for r in first["radar_day_totals"]] == [
        (first["radar_day_totals"][0][0], 3, 3), (first["radar_day_totals"][1][0], 1, 0)]

    # A later load (new days and an old one), and scores: post 1 flagged, then post 3 flagged
    # and cleared again (the latest score counts).
    stage(staging, "r2", [post(5, ["maths", "newtrend"], created=None, collected="2026-03-04T10:00:00Z")])
    stage(staging, "r3", [post(6, ["newtrend"], collected="2026-03-02T09:00:00Z")], platform="bluesky")
    load_staging(con, staging)
    score(con, 1, True, "2026-03-05T10:00:00Z")
    score(con, 3, True, "2026-03-05T10:00:00Z")
    score(con, 3, False, "2026-03-05T11:00:00Z", model="m2")   # a new model
    assert refreshed(con)["radar_day_totals"][0][3] == 2            # posts 1 and 2
    score(con, 5, True, "2026-03-06T10:00:00Z")                    # only post 5's day changes
    assert radar_days.dirty_days(con, resurfacing.watch_index(con)[2]) == [date(2026, 3, 4)]
    refreshed(con)

    # The watchlist changes: maths becomes watched (and flagged), every day is counted again.
    queries.watchlist_add(con, "maths", "flagged")
    counted = refreshed(con)
    assert not any(r[1] == "maths" and r[4] for r in counted["radar_days"])   # not proposable now
    assert all(r[1] != "maths" for r in counted["radar_spellings"])

    # Posts seen again (post 1 with other tags, later): nothing changes.
    stage(staging, "r4", [post(1, ["other"], collected="2026-03-07T08:00:00Z")])
    load_staging(con, staging)
    assert radar_days.dirty_days(con, resurfacing.watch_index(con)[2]) == []
    assert refreshed(con) == counted


def test_volume_and_alerts_are_the_same_from_the_counts_as_from_the_posts(con, tmp_path):
    staging = tmp_path / "staging"
    stage(staging, "r1", [post(1, ["maths", "Maths", "exams"]),
                          post(2, ["m_a_t_h_s"], created=None, collected="2026-03-03T08:00:00Z"),
                          post(3, ["sl4pateacher"], created="2026-02-20T10:00:00Z"),
                          post(4, ["maths"], collected="2026-03-09T08:00:00Z"),
                          post(5, ["slapateacher", "slap_a_teacher"], collected="2026-03-01T08:00:00Z"),
                          post(6, ["slap_a_teacher"], collected="2026-03-01T13:00:00Z")])
    stage(staging, "r2", [post(7, ["SlapATeacher"], collected="2026-03-05T13:00:00Z")], platform="bluesky")
    load_staging(con, staging)
    score(con, 5, True, "2026-03-06T10:00:00Z")
    score(con, 6, False, "2026-03-06T10:00:00Z")
    resurfacing.refresh_matches(con)
    fingerprint, since = resurfacing.watch_index(con)[2], datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    assert not radar_days.fresh_from(con, fingerprint, date(2026, 2, 28))
    from_posts_now = resurfacing.daily_volume(con, since)                 # the counts are not kept yet
    alerts = {s: resurfacing.resurfaced(con, s) for s in (since, None)}
    radar_days.refresh(con, fingerprint)
    assert radar_days.fresh_from(con, fingerprint, date(2026, 2, 28))
    assert resurfacing.daily_volume(con, since) == from_posts_now
    assert {s: resurfacing.resurfaced(con, s) for s in alerts} == alerts
    assert [(a["tag"], a["posts"], a["share_flagged"]) for a in alerts[since]] == [("slapateacher", 3, 0.0)]
    assert [(a["tag"], a["posts"], a["share_flagged"]) for a in alerts[None]] == [("slapateacher", 4, 0.5)]
    assert [(r["canonical"], str(r["day"]), r["posts"]) for r in from_posts_now] == [
        ("exams", "2026-03-01", 1), ("maths", "2026-03-01", 2),           # posts 1 (two spellings) and 4
        ("maths", "2026-03-03", 1), ("slapateacher", "2026-03-01", 3)]    # whole days from since's


def test_a_failed_refresh_leaves_the_counts_as_they_were(con, tmp_path):
    staging = tmp_path / "staging"
    stage(staging, "r1", [post(1, ["maths"])])
    load_staging(con, staging)
    before = refreshed(con)
    state = con.execute("SELECT * FROM radar_days_state").fetchall()
    stage(staging, "r2", [post(2, ["maths", "slapateacher"], collected="2026-03-04T08:00:00Z")])
    load_staging(con, staging)
    score(con, 1, True, "2026-03-05T10:00:00Z")
    queries.watchlist_add(con, "exams", "watch")
    resurfacing.refresh_matches(con)

    def fail():
        raise RuntimeError("the machine went away")

    with pytest.raises(RuntimeError):
        radar_days.refresh(con, resurfacing.watch_index(con)[2], before_commit=fail)
    assert radar_days.counts(con) == before
    assert con.execute("SELECT * FROM radar_days_state").fetchall() == state
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'radar_keyed'").fetchone()[0] == 0
    assert refreshed(con) != before                                   # counted on the next refresh
