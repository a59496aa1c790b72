"""The radar in the warehouse: synonyms, matching every observed tag once, one alert per
banned tag across platforms, proposals accepted or rejected, spikes."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pyarrow as pa
import pytest

from radar.volume import spikes
from warehouse import queries, resurfacing, tag_totals
from warehouse.db import WarehouseError, session

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc)


def add_posts(con, rows):
    """rows: (platform, post_id, hashtags, first_seen_at); invented posts."""
    incoming = pa.table({  # noqa: F841
        "platform": [r[0] for r in rows], "post_id": [r[1] for r in rows],
        "hashtags": [r[2] for r in rows], "seen": [r[3] for r in rows],
    })
    con.execute("INSERT INTO posts (platform, post_id, text, hashtags, created_at, first_seen_at, last_seen_at) "
                "SELECT platform, post_id, 'invented', hashtags, seen, seen, seen FROM incoming")
    tag_totals.recount(con)   # written here, not by the loader: count the tags again


def add_scores(con, flagged_ids, all_ids):
    scored = pa.table({"post_id": all_ids, "label": [i in flagged_ids for i in all_ids]})  # noqa: F841
    con.execute("INSERT INTO scores (platform, post_id, model_version, score, label, scored_at) "
                "SELECT p.platform, s.post_id, 'm1', s.label::INT, s.label, now() "
                "FROM scored s JOIN posts p USING (post_id)")


@pytest.fixture
def con(tmp_path):
    with session(tmp_path / "w.duckdb") as c:
        queries.watchlist_add(c, "slapateacher", "banned")
        queries.watchlist_add(c, "exposeyourteacher", "flagged")
        queries.watchlist_add(c, "teachersoftiktok", "watch")
        yield c


def test_synonyms_need_a_watched_tag_and_are_removed_with_it(con):
    with pytest.raises(WarehouseError, match="not on the watchlist"):
        resurfacing.synonyms_add(con, "nosuchtag", ["x"])
    resurfacing.synonyms_add(con, "slapateacher", ["SmackTheSir", "#smackthesir", "slapthestaff"])
    assert resurfacing.synonyms(con) == {"slapateacher": ["slapthestaff", "smackthesir"]}
    assert resurfacing.match_tags(con, ["sm4ck_the_sir"])[0].tag == "slapateacher"
    queries.watchlist_remove(con, "slapateacher")
    assert resurfacing.synonyms(con) == {}


def test_one_alert_per_banned_tag_across_platforms_and_spellings(con):
    day = NOW - timedelta(days=1)
    add_posts(con, [
        ("mastodon", "m1", ["sl4pateacher", "schoolday"], day),
        ("bluesky", "b1", ["slap_a_teacher"], day + timedelta(hours=1)),
        ("tiktok", "t1", ["ѕlapateacher"], day + timedelta(hours=2)),
        ("tiktok", "t2", ["slapstick"], day),
        ("mastodon", "old", ["slapateacher"], NOW - timedelta(days=30)),
    ])
    add_scores(con, {"m1", "t1"}, ["m1", "b1", "t1", "t2"])
    assert resurfacing.refresh_matches(con) == 6
    assert resurfacing.refresh_matches(con) == 0          # nothing new, nothing redone
    alerts = resurfacing.resurfaced(con, NOW - timedelta(days=7))
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["tag"] == "slapateacher" and alert["posts"] == 3
    assert alert["platforms"] == ["bluesky", "mastodon", "tiktok"]
    assert alert["share_flagged"] == pytest.approx(2 / 3)
    assert {(v["variant"], v["method"]) for v in alert["variants"]} == {
        ("sl4pateacher", "leet"), ("slap_a_teacher", "separator"), ("ѕlapateacher", "lookalike")}
    # the month-old sighting counts once the window covers it
    assert resurfacing.resurfaced(con, None)[0]["posts"] == 4


def test_a_watchlist_change_rematches_every_tag(con):
    add_posts(con, [("mastodon", "m1", ["hug_a_teacher"], NOW)])
    resurfacing.refresh_matches(con)
    assert con.execute("SELECT canonical, matched_tag FROM tag_matches").fetchall() == [("hugateacher", None)]
    queries.watchlist_add(con, "hugateacher", "watch")
    assert resurfacing.refresh_matches(con) == 1
    assert con.execute("SELECT canonical, matched_tag, method FROM tag_matches").fetchall() == [
        ("hugateacher", "hugateacher", "separator")]


def _mined_world(con):
    rows, flagged = [], set()
    for i in range(6):   # "newtrend" rides on flagged posts and banned tags this week
        rows.append(("mastodon", f"n{i}", ["newtrend", "teachersoftiktok"], NOW - timedelta(days=1)))
        flagged.add(f"n{i}")
    for i in range(20):  # "teacherlife" is everywhere and harmless
        rows.append(("mastodon", f"h{i}", ["teacherlife", "teachersoftiktok"], NOW - timedelta(days=2)))
    rows.append(("mastodon", "h20", ["teacherlife", "slapateacher"], NOW - timedelta(days=2)))
    add_posts(con, rows)
    add_scores(con, flagged, [r[1] for r in rows])
    resurfacing.refresh_matches(con)


def test_proposals_come_from_lift_with_support_and_decisions_stick(con):
    _mined_world(con)
    found = resurfacing.mine_proposals(con, now=NOW)
    assert [r["tag"] for r in found] == ["newtrend"]
    assert found[0]["support"] == 6 and found[0]["previous_posts"] == 0
    assert found[0]["lift"] == pytest.approx(27 / 7)
    resurfacing.decide(con, "newtrend", accept=False, by="analyst")
    resurfacing.mine_proposals(con, now=NOW)
    assert resurfacing.proposals(con) == []                    # rejected: not proposed again
    assert resurfacing.proposals(con, "rejected")[0]["decided_by"] == "analyst"
    with pytest.raises(WarehouseError, match="has not been proposed"):
        resurfacing.decide(con, "teacherlife", accept=True, by="analyst")


def test_an_accepted_proposal_is_collected_on_the_next_run(con, settings):
    _mined_world(con)
    resurfacing.mine_proposals(con, now=NOW)
    resurfacing.decide(con, "NewTrend", accept=True, by="analyst", status="flagged")
    assert ("newtrend", "flagged") in [(w["tag"], w["status"]) for w in queries.watchlist(con)]


def test_spikes_against_own_history():
    days = [date(2026, 3, d) for d in range(1, 21)]   # more than the 14 days of history
    quiet = {d: 2 for d in days}
    assert spikes(quiet, days[-3:]) == []
    jumped = {**quiet, days[-1]: 20}
    found = spikes(jumped, days[-3:])
    assert [s["day"] for s in found] == [days[-1]] and found[0]["ratio"] == 10.0
    assert spikes({days[-1]: 4}, days[-1:]) == []              # below the minimum volume


def test_volume_spikes_per_canonical_tag_and_platform(con):
    rows = [("mastodon", f"q{i}", ["teacher_life"], NOW - timedelta(days=3 + i % 10)) for i in range(10)]
    rows += [("mastodon", f"s{i}", ["TeacherLife" if i % 2 else "teacher.life"], NOW - timedelta(hours=1))
             for i in range(12)]
    add_posts(con, rows)
    resurfacing.refresh_matches(con)
    found = resurfacing.volume_spikes(con, NOW - timedelta(days=1), now=NOW)
    assert [(s["tag"], s["platform"], s["posts"]) for s in found] == [("teacherlife", "mastodon", 12)]
