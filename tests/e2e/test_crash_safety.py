"""kill -9 at any moment, then the same command again: the warehouse a clean run would leave.

Deterministic moments come from TAGWATCH_CRASH_AT (the process SIGKILLs itself at a named
point: collectors/crashpoints.py); one test kills a running import from outside instead.
Compared: posts, scores, cases, collection_runs, watermarks (never ahead of what is loaded)
and staging (no data file without its manifest).
"""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from fakes.mastodon import MastodonReplayServer, load_sample

TAGWATCH = [sys.executable, "-m", "tagwatch.cli"]
WORDS = ["teacher", "slap", "liar", "trip", "assembly", "head", "useless", "lovely", "hit", "maths"]


def place(settings, name: str, tmp_path: Path):
    """A warehouse, staging and state of its own, sharing the session's trained model."""
    data = tmp_path / name
    return dataclasses.replace(settings, data_dir=data, db_path=data / "tagwatch.duckdb",
                               staging_dir=data / "staging", state_dir=data / "state")


def tagwatch(where, *args, crash_at: str | None = None, wait=True):
    env = {**os.environ, **where.to_env()}
    env.pop("TAGWATCH_CRASH_AT", None)
    if crash_at:
        env["TAGWATCH_CRASH_AT"] = crash_at
    proc = subprocess.Popen([*TAGWATCH, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    if not wait:
        return proc
    out, err = proc.communicate(timeout=600)
    return proc.returncode, out, err


def state(where) -> dict:
    with duckdb.connect(str(where.db_path), read_only=True) as con:
        one = lambda sql: con.execute(sql).fetchall()  # noqa: E731
        got = {
            "posts": one("SELECT platform, post_id, text, view_count FROM posts ORDER BY ALL"),
            "scores": one("SELECT platform, post_id, model_version, round(score, 6) FROM scores ORDER BY ALL"),
            "cases": one("SELECT platform, post_id, origin FROM cases ORDER BY ALL"),
            "collection_runs": one("SELECT platform, source, tag, received, new, status "
                                   "FROM collection_runs ORDER BY ALL"),
            "watermarks": one("SELECT platform, source, tag, value FROM watermarks ORDER BY ALL"),
        }
        for platform, source, tag, value in got["watermarks"]:  # never ahead of loaded posts
            newest = one(f"SELECT max(source_post_id::HUGEINT) FROM posts WHERE platform = "
                         f"'{platform}' AND source = '{source}'")[0][0]
            assert newest is not None and int(value) <= newest
    got["orphans"] = orphans(where.staging_dir)
    return got


def orphans(staging: Path) -> list[str]:
    return sorted(str(p) for p in Path(staging).rglob("*.parquet")
                  if not p.with_name(p.name[: -len(".parquet")] + ".manifest.json").exists())


@pytest.fixture
def export(tmp_path) -> Path:
    """2,500 TikTok items (three staging batches of 1,000), some abusive."""
    path = tmp_path / "export.ndjson"
    with path.open("w") as fh:
        for i in range(2500):
            words = " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(6))
            text = f"that teacher is a liar, slap her {i}" if i % 5 == 0 else f"{words} {i}"
            fh.write(json.dumps({"id": str(7_000_000 + i), "desc": text, "createTime": 1767225600 + i,
                                 "author": {"uniqueId": f"student{i % 40}"},
                                 "stats": {"playCount": i * 3}}) + "\n")
    return path


@pytest.fixture
def clean_import(settings, tmp_path, export):
    where = place(settings, "clean", tmp_path)
    code, out, err = tagwatch(where, "import", "--format", "4cat", str(export))
    assert code == 0, err
    return state(where)


@pytest.mark.parametrize("moment", [
    "staging.page:2",        # half-way through staging the file
    "import.manifest",       # staged, not loaded
    "load.before_commit",    # inside the load's transaction
    "score.batch",           # loaded and scored, cases not opened yet
])
def test_an_import_killed_at_any_moment_then_rerun_equals_a_clean_import(
        settings, tmp_path, export, clean_import, moment):
    where = place(settings, "crashed", tmp_path)
    code, _, _ = tagwatch(where, "import", "--format", "4cat", str(export), crash_at=moment)
    assert code == -signal.SIGKILL
    code, out, err = tagwatch(where, "import", "--format", "4cat", str(export))
    assert code == 0, err
    assert state(where) == clean_import
    assert len(clean_import["posts"]) == 2500 and clean_import["cases"]


def test_an_import_killed_from_outside_while_it_runs_then_rerun_equals_a_clean_import(
        settings, tmp_path, export, clean_import):
    where = place(settings, "killed", tmp_path)
    proc = tagwatch(where, "import", "--format", "4cat", str(export), wait=False)
    staged = where.staging_dir
    while proc.poll() is None and not any(staged.rglob("*.parquet")):
        time.sleep(0.01)  # until it has begun writing staging (not a timing assertion)
    proc.kill()  # SIGKILL
    proc.communicate()
    code, out, err = tagwatch(where, "import", "--format", "4cat", str(export))
    assert code == 0, err
    assert state(where) == clean_import


@pytest.fixture
def server():
    with MastodonReplayServer(load_sample(), max_lifetime=300) as srv:
        yield srv


def collect(where, server, **crash):
    return tagwatch(where, "collect", "--platform", "mastodon", "--base-url", server.url,
                    "--tag", "exposeyourteacher", "--tag", "ratemyteacher", **crash)


@pytest.mark.parametrize("moment", ["staging.page:2", "load.before_commit", "run.loaded"])
def test_a_collection_killed_half_way_then_rerun_equals_a_clean_collection(
        settings, tmp_path, server, moment):
    clean = place(settings, "clean", tmp_path)
    assert collect(clean, server)[0] == 0
    where = place(settings, "crashed", tmp_path)
    assert collect(where, server, crash_at=moment)[0] == -signal.SIGKILL
    code, out, err = collect(where, server)
    assert code == 0, err
    assert "continuing the interrupted run" in err
    assert state(where) == state(clean)
    assert len(state(clean)["posts"]) > 40  # more than one page of 40
