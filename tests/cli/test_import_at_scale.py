"""`tagwatch import` of large exports: the capture time the extension recorded is the posts'
first sighting (an export gathered over weeks keeps its days, so the day's lists read only
the day), repeats are dropped with a few bytes per id, and a broken time is a one-line error."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from collectors.staging import SeenIds
from tagwatch import cli
from warehouse.db import session


def item(n: int, captured_ms=None) -> str:
    data = {"id": str(7300000000000000000 + n), "desc": f"invented post {n} #schoollife",
            "createTime": 1767225600 + n, "author": {"uniqueId": f"pupil{n}"},
            "challenges": [{"title": "schoollife"}]}
    record = {"item_id": data["id"], "source_platform": "tiktok.com", "data": data}
    if captured_ms is not None:
        record["timestamp_collected"] = captured_ms
    return json.dumps(record)


def run(capsys, *args) -> tuple[int, str]:
    code = cli.main(list(args))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_capture_time_becomes_first_seen_and_a_future_one_is_now(settings, tmp_path, capsys):
    now = datetime.now(timezone.utc)  # when the test runs, not when it was collected
    week_ago = now - timedelta(days=7)
    export = tmp_path / "export.ndjson"
    export.write_text("\n".join([
        item(1, int(week_ago.timestamp() * 1000)),
        item(2, int((now + timedelta(days=400)).timestamp() * 1000)),   # a clock gone wrong
        item(3),                                                         # 4CAT-like: no capture time
        item(1, int(week_ago.timestamp() * 1000)),                       # a repeat
    ]) + "\n", encoding="utf-8")
    code, err = run(capsys, "import", "--format", "zeeschuimer", str(export), "--no-score")
    done = datetime.now(timezone.utc)
    assert code == 0, err
    with session(settings.db_path, read_only=True) as con:
        seen = dict(con.execute("SELECT post_id, first_seen_at FROM posts").fetchall())
        duplicates = con.execute("SELECT sum(duplicates) FROM collection_runs").fetchone()[0]
    assert len(seen) == 3 and duplicates == 1
    assert abs(seen["7300000000000000001"] - week_ago) < timedelta(seconds=1)
    for later in ("7300000000000000002", "7300000000000000003"):
        assert now - timedelta(seconds=1) <= seen[later] <= done + timedelta(seconds=1)
    code, err = run(capsys, "flagged", "--since", "1d", "--format", "csv")   # the day only
    assert code == 0


def test_a_capture_time_that_is_not_a_time_is_refused_and_nothing_changes(settings, tmp_path, capsys):
    export = tmp_path / "bad.ndjson"
    export.write_text(item(1, 1767225600000) + "\n" + item(2, "yesterday") + "\n", encoding="utf-8")
    code, err = run(capsys, "import", "--format", "zeeschuimer", str(export), "--no-score")
    assert code == 1
    assert "line 2" in err and "timestamp_collected" in err and len(err.strip().splitlines()) == 1
    with session(settings.db_path) as con:
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 0
    big = tmp_path / "big.ndjson"
    big.write_text(item(1, 10 ** 30) + "\n", encoding="utf-8")
    code, err = run(capsys, "import", "--format", "zeeschuimer", str(big), "--no-score")
    assert code == 1 and "timestamp_collected" in err


def test_seen_ids_drop_repeats_across_merges_in_eight_bytes_an_id():
    seen = SeenIds()
    seen.MERGE_EVERY = 64
    assert all(seen.add(f"https://example.invalid/{n}") for n in range(1000))
    assert not any(seen.add(f"https://example.invalid/{n}") for n in range(1000))
    assert "https://example.invalid/999" in seen and "https://example.invalid/1000" not in seen
    assert len(seen) == 1000
    assert 8 * 900 <= seen.merged_bytes <= 8 * 1000


def test_an_import_keeps_the_radar_tag_totals_as_a_recount_finds_them(settings, tmp_path, capsys):
    """`tagwatch import` goes through the one loader: the tags the radar reads (tags_seen,
    tag_days) count each imported post once, a re-imported post not again."""
    from warehouse import tag_totals

    first, second = tmp_path / "first.ndjson", tmp_path / "second.ndjson"
    first.write_text("\n".join(item(n, 1767225600000 + n) for n in (1, 2, 3)) + "\n", encoding="utf-8")
    second.write_text("\n".join(item(n, 1767312000000 + n) for n in (3, 4)) + "\n", encoding="utf-8")
    for export in (first, second, second):
        code, err = run(capsys, "import", "--format", "zeeschuimer", str(export), "--no-score")
        assert code == 0, err
    with session(settings.db_path) as con:
        kept = tag_totals.totals(con)
        assert [(r[0], r[3]) for r in kept["tags_seen"]] == [("schoollife", 4)]
        tag_totals.recount(con)
        assert tag_totals.totals(con) == kept



class Undone(Exception):
    """Raised to roll a transaction back."""


def test_resurfacing_keeps_the_radar_counts_per_day_as_a_recount_finds_them(settings, tmp_path, capsys):
    """`tagwatch resurfacing` refreshes the radar's counts per day after each import (the new
    days only) and all of them after a watchlist change: each time what a recount finds (the
    recount rolled back, so that the next refresh starts from the kept counts)."""
    from warehouse import radar_days, resurfacing
    from warehouse.db import transaction

    first, second = tmp_path / "first.ndjson", tmp_path / "second.ndjson"
    now_ms = int(datetime.now(timezone.utc).timestamp() * 1000)
    first.write_text("\n".join(item(n, now_ms - 3 * 86_400_000 + n) for n in (1, 2, 3)) + "\n", encoding="utf-8")
    second.write_text("\n".join(item(n, now_ms - 3_600_000 + n) for n in (3, 4)) + "\n", encoding="utf-8")
    steps = [("import", "--format", "zeeschuimer", str(first), "--no-score"), ("resurfacing",),
             ("import", "--format", "zeeschuimer", str(second), "--no-score"), ("resurfacing",),
             ("watchlist", "add", "schoollife", "--status", "banned"), ("resurfacing",)]
    for step in steps:
        code, err = run(capsys, *step)
        assert code == 0, err
        if step[0] != "resurfacing":
            continue
        with session(settings.db_path) as con:
            kept = radar_days.counts(con)
            try:
                with transaction(con):
                    radar_days.recount(con, resurfacing.watch_index(con)[2])
                    assert radar_days.counts(con) == kept
                    raise Undone
            except Undone:
                pass
    assert [(r[1], r[4], r[5], r[6]) for r in kept["radar_days"]] == [
        ("schoollife", False, 3, 3), ("schoollife", False, 1, 1)]         # banned: focus posts
    assert [(r[1], r[2], r[4]) for r in kept["radar_hit_posts"]] == [
        ("schoollife", "tiktok", 3), ("schoollife", "tiktok", 1)]
    assert cli.main(["resurfacing", "--format", "json"]) == 0
    alerts = json.loads(capsys.readouterr().out)["resurfaced"]
    assert [(a["tag"], a["posts"]) for a in alerts] == [("schoollife", 4)]
