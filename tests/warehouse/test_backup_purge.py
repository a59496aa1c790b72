"""`tagwatch backup` / `restore` and `tagwatch purge`, run as a user runs them."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import duckdb
import pytest

TAGWATCH = [sys.executable, "-m", "tagwatch.cli"]


def run(settings, *args, check=True):
    env = {**os.environ, **settings.to_env()}
    proc = subprocess.run([*TAGWATCH, *args], capture_output=True, text=True, env=env, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def counts(db) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()]
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


@pytest.fixture
def filled(settings, tmp_path):
    """3,000 imported posts with long texts, scored, with cases."""
    export = tmp_path / "export.ndjson"
    with export.open("w") as fh:
        for i in range(3000):
            text = (f"that teacher is a liar, slap her {i} " if i % 7 == 0 else f"school day {i} ") * 80
            fh.write(json.dumps({"id": str(9_000_000 + i), "desc": text, "createTime": 1767225600 + i,
                                 "author": {"uniqueId": f"pupil{i}"}}) + "\n")
    run(settings, "import", "--format", "4cat", str(export))
    return settings


@pytest.mark.slow
def test_backup_then_restore_gives_the_same_rows_in_every_table(filled, tmp_path):
    proc = run(filled, "backup", "--out", str(tmp_path / "bk"))
    assert "pseudonym key is NOT in the backup" in proc.stdout
    assert not (tmp_path / "bk" / "pseudonym.key").exists()
    restored = dataclasses.replace(filled, db_path=tmp_path / "restored" / "tagwatch.duckdb",
                                   models_dir=tmp_path / "restored-models")
    run(restored, "restore", str(tmp_path / "bk"))
    assert counts(restored.db_path) == counts(filled.db_path)
    assert counts(filled.db_path)["posts"] == 3000
    assert sorted(p.name for p in restored.models_dir.iterdir()) == \
        sorted(p.name for p in filled.models_dir.iterdir() if not p.name.startswith("."))

    again = run(restored, "restore", str(tmp_path / "bk"), check=False)  # it exists now
    assert again.returncode == 1 and "--force" in again.stderr and "Traceback" not in again.stderr
    run(restored, "restore", str(tmp_path / "bk"), "--force")


@pytest.mark.slow
def test_a_damaged_backup_is_refused_and_nothing_is_replaced(filled, tmp_path):
    run(filled, "backup", "--out", str(tmp_path / "bk"), "--include-key")
    assert (tmp_path / "bk" / "pseudonym.key").read_text() == "test-key-not-secret"
    with open(tmp_path / "bk" / "warehouse.duckdb", "r+b") as fh:
        fh.seek(40_000)
        fh.write(b"\x00garbage\x00")
    restored = dataclasses.replace(filled, db_path=tmp_path / "restored" / "tagwatch.duckdb")
    proc = run(restored, "restore", str(tmp_path / "bk"), check=False)
    assert proc.returncode == 1 and "does not match its checksum" in proc.stderr
    assert not restored.db_path.exists()


@pytest.mark.slow
def test_purge_strips_old_posts_outside_open_cases_records_it_and_shrinks_the_file(filled, capsys):
    db = str(filled.db_path)
    with duckdb.connect(db) as con:
        con.execute("UPDATE posts SET first_seen_at = first_seen_at - INTERVAL 200 DAY "
                    "WHERE post_id::BIGINT % 3 <> 0")  # two thirds are old
        in_case = con.execute("SELECT platform, post_id FROM cases c WHERE post_id::BIGINT % 3 <> 0 "
                              "ORDER BY case_id LIMIT 1").fetchone()
    assert in_case is not None
    dry = run(filled, "purge", "--older-than", "90d", "--dry-run")
    assert "would strip text, URL and author key of " in dry.stdout
    with duckdb.connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM posts WHERE text IS NULL").fetchone()[0] == 0
    size_before = os.path.getsize(db)
    proc = run(filled, "purge", "--older-than", "90d")
    size_after = os.path.getsize(db)
    with capsys.disabled():
        print(f"\npurge: warehouse {size_before:,} -> {size_after:,} bytes ({proc.stdout.strip()})")
    with duckdb.connect(db, read_only=True) as con:
        stripped = con.execute("SELECT count(*) FROM posts WHERE text IS NULL AND url IS NULL "
                               "AND author_key IS NULL").fetchone()[0]
        old_outside_cases = con.execute(
            "SELECT count(*) FROM posts p WHERE post_id::BIGINT % 3 <> 0 AND NOT EXISTS "
            "(SELECT 1 FROM cases c WHERE c.post_id = p.post_id)").fetchone()[0]
        kept = con.execute("SELECT text IS NOT NULL AND url IS NOT NULL FROM posts "
                           "WHERE platform = ? AND post_id = ?", list(in_case)).fetchone()[0]
        record = con.execute("SELECT posts, bytes_before, bytes_after, reason FROM purges").fetchall()
        listed = con.execute("SELECT count(*) FROM purged_posts").fetchone()[0]
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 3000
        assert con.execute("SELECT count(*) FROM scores").fetchone()[0] == 3000
    assert stripped == old_outside_cases > 1500
    assert kept  # a post in an open case keeps its evidence
    assert len(record) == 1 and record[0][0] == stripped == listed
    assert record[0][1] == size_before and record[0][2] == size_after < size_before
    assert "retention: first seen before" in record[0][3]
    again = run(filled, "purge", "--older-than", "90d")
    assert "of 0 post(s)" in again.stdout


@pytest.mark.slow
def test_purge_strips_the_evidence_of_cases_closed_long_enough_ago(filled):
    db = str(filled.db_path)
    case = run(filled, "case", "list", "--format", "json")
    case_id = json.loads(case.stdout)[0]["case_id"]
    run(filled, "case", "review", str(case_id), "--decision", "confirm", "--category", "threat",
        "--target-role", "teacher", "--severity", "high")
    run(filled, "case", "move", str(case_id), "--to", "CLOSED")
    with duckdb.connect(db) as con:
        con.execute("UPDATE posts SET first_seen_at = first_seen_at - INTERVAL 200 DAY")
        con.execute("UPDATE case_events SET occurred_at = occurred_at - INTERVAL 400 DAY "
                    "WHERE case_id = ?", [case_id])
    run(filled, "purge", "--older-than", "90d")
    with duckdb.connect(db, read_only=True) as con:
        evidence = con.execute("SELECT text, url, content_sha256 FROM evidence WHERE case_id = ?",
                               [case_id]).fetchone()
        purge = con.execute("SELECT evidence FROM purges").fetchone()
    assert evidence[0] is None and evidence[1] is None and evidence[2]  # the hash stays
    assert purge == (1,)


@pytest.mark.slow
def test_the_weekly_backup_keeps_the_last_n(filled, tmp_path):
    from tagwatch.commands.maintenance import backup_and_rotate

    where = dataclasses.replace(filled, backup_dir=tmp_path / "backups", backup_keep=2)
    (tmp_path / "backups").mkdir()
    (tmp_path / "backups" / "tagwatch-20260101T000000Z.partial").mkdir()  # an interrupted one
    made = []
    for stamp in ("20260102T000000Z", "20260109T000000Z", "20260116T000000Z"):
        old = tmp_path / "backups" / f"tagwatch-{stamp}"
        old.mkdir()
        (old / "MANIFEST.json").write_text("{}")
        made.append(old)
    result = backup_and_rotate(where)
    left = sorted(p.name for p in (tmp_path / "backups").iterdir())
    assert left == [made[2].name, os.path.basename(result["backup"])]
    assert result["rows"] == sum(counts(filled.db_path).values())
