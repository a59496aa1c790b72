"""The radar's commands as a user runs them: watchlist synonyms, tags match, proposals,
resurfacing (a real process against a real warehouse)."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from test_cli import query, run  # the same subprocess helpers as the other CLI tests
from warehouse import tag_totals
from warehouse.db import session


@pytest.mark.slow
def test_watchlist_synonyms_and_tags_match(settings, tmp_path):
    run(settings, "watchlist", "add", "#SlapATeacher", "--status", "banned",
        "--synonym", "smackthesir", "--synonym", "slapthestaff")
    run(settings, "watchlist", "add", "ratemyteacher")
    listing = list(csv.DictReader(io.StringIO(run(settings, "watchlist", "list", "--format", "csv").stdout)))
    assert {r["tag"]: r["synonyms"] for r in listing} == {
        "slapateacher": "slapthestaff smackthesir", "ratemyteacher": ""}
    candidates = tmp_path / "candidates.txt"
    candidates.write_text("sl4pateacher\n\nSm4ck_The_Sir\nr@temyteacherss\nslapstick\n\x1b[31mx\n",
                          encoding="utf-8")
    out = run(settings, "tags", "match", "--input", str(candidates)).stdout
    rows = list(csv.reader(io.StringIO(out)))
    assert rows == [["candidate", "matched_tag", "method"],
                    ["sl4pateacher", "slapateacher", "leet"],
                    ["Sm4ck_The_Sir", "slapateacher", "synonym+separator+leet"],
                    ["r@temyteacherss", "ratemyteacher", "leet+repeat+affix"],
                    ["slapstick", "", ""],
                    ["\x1b[31mx", "", ""]]


@pytest.mark.parametrize("args, message", [
    (["watchlist", "add", "newtag", "--synonym", "two words"], "not a hashtag"),
    (["watchlist", "add", "newtag", "--synonym"], "expected at least one argument"),
    (["tags", "match", "--input", "/no/such/candidates.txt"], "cannot read /no/such/candidates.txt"),
    (["tags", "accept", "neverproposed"], "has not been proposed"),
    (["resurfacing", "--since", "lately"], "cannot read the period"),
    (["resurfacing", "--format", "xml"], "invalid choice"),
])
@pytest.mark.slow
def test_radar_commands_refuse_bad_input_and_change_nothing(settings, args, message):
    run(settings, "watchlist", "add", "slapateacher", "--synonym", "smackthesir")
    before = query(settings, "SELECT * FROM watchlist"), query(settings, "SELECT * FROM watchlist_synonyms")
    proc = run(settings, *args, check=False)
    assert proc.returncode in (1, 2) and message in proc.stderr and "Traceback" not in proc.stderr
    assert (query(settings, "SELECT * FROM watchlist"), query(settings, "SELECT * FROM watchlist_synonyms")) == before


def test_tags_match_refuses_a_file_that_is_not_text(settings, tmp_path):
    binary = tmp_path / "dump.bin"
    binary.write_bytes(b"\xff\xfe\x00slap")
    proc = run(settings, "tags", "match", "--input", str(binary), check=False)
    assert proc.returncode == 1 and "not UTF-8 text" in proc.stderr


def _seed_warehouse(settings):
    """Invented posts: a banned tag back under three spellings on three platforms, and a
    new tag riding on flagged posts."""
    now = datetime.now(timezone.utc)
    posts = [("mastodon", "m1", ["sl4pateacher"]), ("bluesky", "b1", ["slap_a_teacher", "newtrend"]),
             ("tiktok", "t1", ["ѕlapateacher", "newtrend"]), ("tiktok", "t2", ["newtrend"])]
    posts += [("mastodon", f"h{i}", ["teacherlife"]) for i in range(12)]
    with session(settings.db_path) as con:
        con.execute("INSERT INTO watchlist (tag, status) VALUES ('slapateacher', 'banned')")
        for platform, post_id, tags in posts:
            con.execute("INSERT INTO posts (platform, post_id, text, hashtags, created_at, first_seen_at, "
                        "last_seen_at) VALUES (?, ?, 'invented', ?, ?, ?, ?)",
                        [platform, post_id, tags, now - timedelta(days=30), now - timedelta(hours=2), now])
            con.execute("INSERT INTO scores (platform, post_id, model_version, score, label, scored_at) "
                        "VALUES (?, ?, 'm', ?, ?, now())", [platform, post_id, 0.9 if tags != ["teacherlife"] else 0.1,
                                                              tags != ["teacherlife"]])
        tag_totals.recount(con)   # written here, not by the loader: count the tags again


@pytest.mark.slow
def test_resurfacing_one_alert_proposals_and_decisions(settings):
    _seed_warehouse(settings)
    view = json.loads(run(settings, "resurfacing", "--since", "1d", "--format", "json").stdout)
    [alert] = view["resurfaced"]
    assert alert["tag"] == "slapateacher" and alert["posts"] == 3 and alert["share_flagged"] == 1.0
    assert alert["platforms"] == ["bluesky", "mastodon", "tiktok"]
    assert sorted(v["method"] for v in alert["variants"]) == ["leet", "lookalike", "separator"]
    assert [p["tag"] for p in view["proposals"]] == ["newtrend"]
    table = run(settings, "resurfacing").stdout
    assert "#slapateacher" in table and "#newtrend" in table
    flat = list(csv.DictReader(io.StringIO(run(settings, "resurfacing", "--format", "csv").stdout)))
    assert [r["section"] for r in flat] == ["resurfaced"] * 3 + ["proposal"]

    run(settings, "tags", "accept", "newtrend", "--status", "flagged", "--by", "analyst")
    assert ("newtrend", "flagged") in query(settings, "SELECT tag, status FROM watchlist")
    assert run(settings, "tags", "proposals").stdout.strip() == "nothing proposed"
    accepted = run(settings, "tags", "proposals", "--status", "accepted", "--format", "csv").stdout
    assert "newtrend,newtrend,accepted" in accepted
