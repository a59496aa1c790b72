"""Warehouse: migrations, the single-writer loader, idempotency, watermarks, bad staging."""
from __future__ import annotations

import multiprocessing
import time

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collectors.staging import Manifest, StagingWriter, find_manifests
from warehouse import queries
from warehouse.db import WarehouseError, connect, migrations, session
from warehouse.loader import load_manifests, load_staging, watermarks


def _post(n: int, **extra) -> dict:
    post = {
        "platform": "mastodon", "post_id": f"https://school.example/users/u{n}/statuses/{n}",
        "url": f"https://school.example/@u{n}/{n}", "text": f"post number {n}",
        "created_at": "2021-11-20T10:00:00Z", "hashtags": ["teachersoftiktok"],
        "author_key": f"{n:032x}", "lang": "en", "reply_count": 1, "share_count": 2,
        "like_count": 3, "view_count": None, "source": "https://school.example",
        "source_post_id": str(n), "collected_at": "2021-11-21T00:00:00Z",
    }
    post.update(extra)
    return post


def _stage(staging, run_id, tag, posts, status="ok", watermark=None, source="https://school.example"):
    with StagingWriter(staging, run_id, "mastodon", source, tag) as writer:
        writer.write_posts(posts)
        writer.manifest.watermark_after = watermark
        return writer.close(status, "boom" if status == "failed" else None)


def _rows(con, sql):
    return con.execute(sql).fetchall()


def test_migrations_apply_in_order_once_and_are_recorded(tmp_path):
    db = tmp_path / "w.duckdb"
    with session(db) as con:
        recorded = _rows(con, "SELECT version, name FROM schema_migrations ORDER BY version")
    assert recorded == [(n, name) for n, name, _ in migrations()]
    with session(db) as con:  # opening again applies nothing twice
        assert _rows(con, "SELECT count(*) FROM schema_migrations") == [(len(recorded),)]
        tables = {r[0] for r in _rows(con, "SELECT table_name FROM duckdb_tables()")}
    assert {"watchlist", "posts", "collection_runs", "scores", "watermarks", "sources"} <= tables


def test_posts_primary_key_is_platform_and_post_id(tmp_path):
    with session(tmp_path / "w.duckdb") as con:
        con.execute("INSERT INTO posts (platform, post_id, first_seen_at, last_seen_at) "
                    "VALUES ('mastodon', 'x', now(), now())")
        with pytest.raises(duckdb.ConstraintException):
            con.execute("INSERT INTO posts (platform, post_id, first_seen_at, last_seen_at) "
                        "VALUES ('mastodon', 'x', now(), now())")


def test_loading_the_same_staging_twice_changes_nothing(tmp_path):
    staging = tmp_path / "staging"
    _stage(staging, "run1", "teachersoftiktok", [_post(i) for i in range(50)], watermark="49")
    _stage(staging, "run1", "ratemyteacher", [_post(i) for i in range(40, 60)], watermark="59")
    with session(tmp_path / "w.duckdb") as con:
        first = load_staging(con, staging)
        snapshot = _rows(con, "SELECT * FROM posts ORDER BY post_id")
        runs = _rows(con, "SELECT tag, received, new, status FROM collection_runs ORDER BY tag")
        second = load_staging(con, staging)
        assert _rows(con, "SELECT * FROM posts ORDER BY post_id") == snapshot
        assert _rows(con, "SELECT tag, received, new, status FROM collection_runs ORDER BY tag") == runs
    assert first.new_posts == 60 and first.received == 70
    assert second.skipped == 2 and second.files == 0 and second.new_posts == 0
    assert len(snapshot) == 60
    assert [(t, received, status) for t, received, _, status in runs] == [
        ("ratemyteacher", 20, "ok"), ("teachersoftiktok", 50, "ok")]
    assert sum(new for _, _, new, _ in runs) == 60  # a post under both tags counts once


def test_a_rerun_task_adds_only_what_is_new_and_keeps_one_run_row(tmp_path):
    staging = tmp_path / "staging"
    _stage(staging, "run1", "t", [_post(i) for i in range(10)])
    with session(tmp_path / "w.duckdb") as con:
        load_staging(con, staging)
        # The task is re-run in the same run and now sees two more posts.
        _stage(staging, "run1", "t", [_post(i) for i in range(12)])
        report = load_staging(con, staging)
        assert report.new_posts == 2
        assert _rows(con, "SELECT count(*) FROM posts") == [(12,)]
        assert _rows(con, "SELECT received, new FROM collection_runs") == [(12, 12)]


def test_seen_again_updates_counts_and_last_seen_but_keeps_first_capture(tmp_path):
    staging = tmp_path / "staging"
    _stage(staging, "run1", "t", [_post(1)])
    _stage(staging, "run2", "t", [_post(1, like_count=99, text="edited later",
                                         collected_at="2021-11-22T00:00:00Z")])
    with session(tmp_path / "w.duckdb") as con:
        load_staging(con, staging, "run1")
        load_staging(con, staging, "run2")
        row = _rows(con, "SELECT like_count, text, first_seen_at < last_seen_at FROM posts")
    assert row == [(99, "post number 1", True)]


def test_repeats_across_files_of_one_load_are_stored_once(tmp_path):
    staging = tmp_path / "staging"
    _stage(staging, "r", "a", [_post(i) for i in range(5)])
    _stage(staging, "r", "b", [_post(i) for i in range(5)], source="https://other.example")
    with session(tmp_path / "w.duckdb") as con:
        report = load_staging(con, staging)
        assert _rows(con, "SELECT count(*) FROM posts") == [(5,)]
        assert _rows(con, "SELECT sum(new), sum(received) FROM collection_runs") == [(5, 10)]
    assert report.new_posts == 5


def test_watermark_advances_only_for_a_finished_collection(tmp_path):
    staging = tmp_path / "staging"
    _stage(staging, "r1", "ok-tag", [_post(1)], watermark="100")
    _stage(staging, "r1", "bad-tag", [_post(2)], status="failed", watermark="200")
    with session(tmp_path / "w.duckdb") as con:
        report = load_staging(con, staging)
        marks = watermarks(con)
        # A failed collection is recorded, and what it did fetch is kept.
        assert _rows(con, "SELECT status, error FROM collection_runs WHERE tag = 'bad-tag'") == [("failed", "boom")]
        assert _rows(con, "SELECT count(*) FROM posts") == [(2,)]
    assert marks == {("mastodon", "https://school.example", "ok-tag"): "100"}
    assert report.failed and "bad-tag" in report.failed[0]


def test_watermark_never_moves_backwards(tmp_path):
    staging = tmp_path / "staging"
    _stage(staging, "r1", "t", [_post(1)], watermark="900")
    _stage(staging, "r2", "t", [_post(2)], watermark="95")  # e.g. an old run loaded late
    with session(tmp_path / "w.duckdb") as con:
        load_staging(con, staging, "r1")
        load_staging(con, staging, "r2")
        assert watermarks(con)[("mastodon", "https://school.example", "t")] == "900"


def test_a_broken_staging_file_is_refused_and_the_warehouse_is_unchanged(tmp_path):
    staging = tmp_path / "staging"
    _stage(staging, "r1", "good", [_post(1)])
    with session(tmp_path / "w.duckdb") as con:
        load_staging(con, staging)
        before = _rows(con, "SELECT * FROM posts"), _rows(con, "SELECT * FROM collection_runs")
        good = _stage(staging, "r2", "good2", [_post(2)])
        bad = _stage(staging, "r2", "bad", [_post(3)])
        data = bad.parent / Manifest.read(bad).data_file
        data.write_bytes(b"PAR1 this is not parquet")
        with pytest.raises(WarehouseError, match="staging file could not be read"):
            load_manifests(con, [good, bad])
        after = _rows(con, "SELECT * FROM posts"), _rows(con, "SELECT * FROM collection_runs")
    assert after == before


def test_a_manifest_whose_data_file_is_missing_is_a_clear_error(tmp_path):
    staging = tmp_path / "staging"
    manifest = _stage(staging, "r1", "t", [_post(1)])
    (manifest.parent / Manifest.read(manifest).data_file).unlink()
    with session(tmp_path / "w.duckdb") as con, pytest.raises(WarehouseError, match="missing data file"):
        load_staging(con, staging)


def test_unfinished_task_without_manifest_is_not_loaded(tmp_path):
    staging = tmp_path / "staging"
    writer = StagingWriter(staging, "r1", "mastodon", "https://school.example", "t")
    writer.write_posts([_post(1)])  # never closed: the task died
    assert find_manifests(staging) == []
    with session(tmp_path / "w.duckdb") as con:
        assert load_staging(con, staging).files == 0


def test_bulk_first_load_keeps_later_indexes_and_the_key(tmp_path):
    staging = tmp_path / "staging"
    with session(tmp_path / "w.duckdb") as con:
        con.execute("CREATE INDEX posts_created ON posts (created_at)")
        _stage(staging, "r1", "t", [_post(i) for i in range(100)])
        load_staging(con, staging)
        indexes = {r[0] for r in _rows(con, "SELECT index_name FROM duckdb_indexes() WHERE table_name = 'posts'")}
        assert "posts_created" in indexes
        with pytest.raises(duckdb.ConstraintException):
            con.execute("INSERT INTO posts SELECT * FROM posts LIMIT 1")


def _hold_lock(path, seconds, ready):
    con = duckdb.connect(str(path))
    ready.set()
    time.sleep(seconds)
    con.close()


def test_a_writer_waits_for_another_process_to_release_the_file(tmp_path):
    db = tmp_path / "w.duckdb"
    connect(db).close()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(db, 1.5, ready))
    holder.start()
    try:
        assert ready.wait(30)
        started = time.monotonic()
        con = connect(db, lock_wait=30)
        waited = time.monotonic() - started
        con.close()
    finally:
        holder.join(30)
    assert waited > 0.2  # it had to wait, and then it got in


@pytest.mark.slow
def test_a_writer_gives_up_with_a_clear_message_when_the_lock_stays(tmp_path):
    db = tmp_path / "w.duckdb"
    connect(db).close()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(db, 3, ready))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(WarehouseError, match="locked by another process"):
            connect(db, lock_wait=0.3)
    finally:
        holder.join(30)


def test_reading_a_missing_warehouse_is_a_clear_error(tmp_path):
    with pytest.raises(WarehouseError, match="no warehouse at"):
        connect(tmp_path / "nope.duckdb", read_only=True)


def test_watchlist_refuses_bad_tags_and_statuses(tmp_path):
    with session(tmp_path / "w.duckdb") as con:
        assert queries.watchlist_add(con, "#TeachersOfTikTok", "flagged") == "teachersoftiktok"
        with pytest.raises(WarehouseError, match="not a hashtag"):
            queries.watchlist_add(con, "two words")
        with pytest.raises(WarehouseError, match="status must be one of"):
            queries.watchlist_add(con, "ok", "maybe")
        assert [r["tag"] for r in queries.watchlist(con)] == ["teachersoftiktok"]


def test_parse_since():
    assert queries.parse_since("all") is None
    assert queries.parse_since("1d") is not None
    with pytest.raises(WarehouseError, match="cannot read the period"):
        queries.parse_since("yesterday")


def test_a_first_load_that_fails_midway_leaves_no_trace(tmp_path):
    """The bulk path writes a scratch table before its transaction: a failure must
    leave `posts`, the ledger and the catalogue as they were."""
    staging = tmp_path / "staging"
    manifest = _stage(staging, "r1", "t", [_post(1), _post(2)])
    data = manifest.parent / Manifest.read(manifest).data_file
    table = pq.read_table(data)  # a row with no collected_at breaks first_seen_at NOT NULL
    at = table.schema.get_field_index("collected_at")
    pq.write_table(table.set_column(at, "collected_at", pa.array(
        [table["collected_at"][0].as_py(), None], table.schema.field(at).type)), data)
    with session(tmp_path / "w.duckdb") as con:
        tables = _rows(con, "SELECT table_name FROM duckdb_tables() ORDER BY 1")
        with pytest.raises(WarehouseError, match="nothing was loaded"):
            load_staging(con, staging)
        assert _rows(con, "SELECT count(*) FROM posts") == [(0,)]
        assert _rows(con, "SELECT count(*) FROM collection_runs") == [(0,)]
        assert _rows(con, "SELECT table_name FROM duckdb_tables() ORDER BY 1") == tables
        assert watermarks(con) == {}


def test_several_collections_of_one_tag_in_one_load(tmp_path):
    """Bookkeeping is written in one statement per table: repeats of a (source, tag)
    must still end as if loaded one by one."""
    staging = tmp_path / "staging"
    first = StagingWriter(staging, "r1", "mastodon", "https://school.example", "t")
    first.write_posts([_post(1)])
    first.manifest.watermark_after = "900"
    first.manifest.checkpoint = {"max_id": "5"}
    first.close("quota", "daily budget")
    _stage(staging, "r2", "t", [_post(2)], watermark="95")   # an older position, finished ok
    _stage(staging, "r3", "u", [_post(3)], watermark="7")
    with session(tmp_path / "w.duckdb") as con:
        report = load_staging(con, staging)
        assert watermarks(con) == {("mastodon", "https://school.example", "t"): "95",
                                   ("mastodon", "https://school.example", "u"): "7"}
        assert _rows(con, "SELECT count(*) FROM collection_checkpoints") == [(0,)]
        assert _rows(con, "SELECT run_id, new FROM collection_runs ORDER BY 1") == [
            ("r1", 1), ("r2", 1), ("r3", 1)]
    assert report.files == 3 and report.new_posts == 3 and report.stopped


def test_migration_010_rebuilds_posts_keeping_rows_and_key(tmp_path):
    db = tmp_path / "w.duckdb"
    staging = tmp_path / "staging"
    _stage(staging, "r1", "t", [_post(i) for i in range(3)])
    with session(db) as con:
        load_staging(con, staging)
        before = _rows(con, "SELECT * FROM posts ORDER BY post_id")
        con.execute("DELETE FROM schema_migrations WHERE version = 10")
    with session(db) as con:  # 010 runs again on a table with rows
        assert _rows(con, "SELECT * FROM posts ORDER BY post_id") == before
        ddl = _rows(con, "SELECT sql FROM duckdb_tables() WHERE table_name = 'posts'")[0][0]
        assert "PRIMARY KEY(platform, post_id)" in ddl
        assert ddl.count("USING COMPRESSION") == 4
        with pytest.raises(duckdb.ConstraintException):
            con.execute("INSERT INTO posts SELECT * FROM posts LIMIT 1")


def test_prune_removes_only_staging_the_warehouse_holds(tmp_path):
    from datetime import datetime, timedelta, timezone

    from warehouse.loader import prune_staging

    staging = tmp_path / "staging"
    loaded = _stage(staging, "r1", "a", [_post(1)])
    changed = _stage(staging, "r1", "b", [_post(2)])
    with session(tmp_path / "w.duckdb") as con:
        load_staging(con, staging)
        _stage(staging, "r1", "b", [_post(2), _post(3)])   # a re-run task: not loaded yet
        waiting = _stage(staging, "r2", "a", [_post(4)])   # never loaded
        later = datetime.now(timezone.utc) + timedelta(minutes=1)
        assert prune_staging(con, staging, later - timedelta(hours=1)).removed == []  # too recent
        dry = prune_staging(con, staging, later, dry_run=True)
        assert dry.removed == [loaded] and loaded.exists()
        report = prune_staging(con, staging, later)
        assert report.removed == [loaded] and report.kept_unloaded == 2 and report.freed_bytes > 0
        assert not loaded.exists() and changed.exists() and waiting.exists()
        assert load_staging(con, staging).new_posts == 2   # nothing that was still needed is gone
        assert _rows(con, "SELECT count(*) FROM posts") == [(4,)]


def test_prune_command_says_what_it_did_and_refuses_a_bad_period(tmp_path, monkeypatch, capsys):
    from tagwatch.cli import main

    staging = tmp_path / "staging"
    monkeypatch.setenv("TAGWATCH_STAGING_DIR", str(staging))
    db = str(tmp_path / "w.duckdb")
    _stage(staging, "r1", "a", [_post(1)])
    with session(db) as con:
        load_staging(con, staging)
    assert main(["staging", "prune", "--db", db, "--older-than", "all"]) == 0
    assert "removed 1 loaded staging task(s)" in capsys.readouterr().out
    assert find_manifests(staging) == []
    assert main(["staging", "prune", "--db", db, "--older-than", "soon"]) == 1
    assert "cannot read the period" in capsys.readouterr().err
    monkeypatch.setenv("TAGWATCH_STAGING_DIR", str(tmp_path / "nowhere"))
    assert main(["staging", "prune", "--db", db]) == 1
    assert "no staging directory" in capsys.readouterr().err


def test_tag_history_of_several_manifests_in_one_load_reads_numbers_leniently(tmp_path):
    staging = tmp_path / "staging"
    for run, tag, history in (
            ("r1", "a", [{"day": "2026-11-20", "uses": "12", "accounts": 3},   # Mastodon sends strings
                         {"day": "not a day", "uses": 1}]),                     # skipped, not fatal
            ("r1", "b", [{"day": "2026-11-20", "uses": 4, "accounts": "many"}])):
        with StagingWriter(staging, run, "mastodon", "https://school.example", tag) as writer:
            writer.write_posts([])
            writer.manifest.extra["tag_history"] = history
    with session(tmp_path / "w.duckdb") as con:
        load_staging(con, staging)
        assert _rows(con, "SELECT tag, day::VARCHAR, uses, accounts FROM tag_history ORDER BY tag") == [
            ("a", "2026-11-20", 12, 3), ("b", "2026-11-20", 4, None)]


def test_a_first_load_refuses_to_replace_posts_that_arrived_meanwhile(tmp_path):
    """Between writing the scratch table and swapping it in, posts may no longer be empty
    (another connection wrote): the swap refuses rather than drop them."""
    from warehouse import loader
    from warehouse.db import transaction

    staging = tmp_path / "staging"
    manifest = _stage(staging, "r1", "t", [_post(1)])
    data = str(manifest.parent / Manifest.read(manifest).data_file)
    with session(tmp_path / "w.duckdb") as con:
        loader.stage_view(con, [data])
        loader.keep_table(con, check_warehouse=False)
        loader.build_posts_load(con)
        con.execute("INSERT INTO posts (platform, post_id, first_seen_at, last_seen_at) "
                    "VALUES ('mastodon', 'meanwhile', now(), now())")
        with pytest.raises(WarehouseError, match="run the load again"):
            with transaction(con):
                loader.swap_in_posts_load(con)
        assert _rows(con, "SELECT post_id FROM posts") == [("meanwhile",)]
