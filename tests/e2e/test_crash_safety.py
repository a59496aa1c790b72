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


# --- labels import: one transaction, checked whole first --------------------------------

def labels(where) -> list[tuple]:
    with duckdb.connect(str(where.db_path), read_only=True) as con:
        return con.execute("SELECT text, label, category, platform, post_id, source, added_by "
                           "FROM labels ORDER BY ALL").fetchall()


@pytest.fixture
def label_files(tmp_path) -> list[Path]:
    """An earlier import, then two files imported together (repeats inside and across them)."""
    files = []
    for name, start in (("week1.csv", 0), ("week2.csv", 300), ("week3.csv", 450)):
        path = tmp_path / name
        with path.open("w") as fh:
            fh.write("text,label,category\n")
            for i in range(start, start + 300):
                n = i % 520  # week3 repeats part of week2 and week1
                abusive = n % 3 == 0
                fh.write(f"\"{'that teacher is a liar, slap her' if abusive else 'lovely assembly'} "
                         f"{n}\",{int(abusive)},{'threat' if abusive else 'none'}\n")
        files.append(path)
    return files


@pytest.mark.parametrize("moment", [
    "labels.read",            # the first file checked, the second not yet
    "labels.read:2",          # every file checked, nothing written
    "labels.before_commit",   # inside the transaction, rows inserted, not committed
])
def test_a_labels_import_killed_at_any_moment_then_rerun_equals_a_clean_import(
        settings, tmp_path, label_files, moment):
    earlier, *files = map(str, label_files)
    results = {}
    for name, crash in (("clean", None), ("crashed", moment)):
        where = place(settings, name, tmp_path)
        assert tagwatch(where, "labels", "import", earlier, "--by", "ana")[0] == 0
        before = labels(where)
        if crash:
            code, _, _ = tagwatch(where, "labels", "import", *files, "--by", "ana", crash_at=crash)
            assert code == -signal.SIGKILL
            assert labels(where) == before  # all or nothing
        code, out, err = tagwatch(where, "labels", "import", *files, "--by", "ana")
        assert code == 0, err
        results[name] = labels(where)
    assert results["crashed"] == results["clean"]
    assert len(results["clean"]) == 520


# --- train: the registry never holds a half-written or promoted-but-missing model --------

PROBE = ["that teacher is a liar, slap her", "lovely assembly today", "the head is useless"]


@pytest.fixture(scope="module")
def train_input(tmp_path_factory) -> Path:
    """600 rows of the seed set: a model in seconds (the mechanism is what is tested)."""
    import csv
    import random

    from classifiers.data import SEED_PATH

    with SEED_PATH.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    random.Random(7).shuffle(rows)
    path = tmp_path_factory.mktemp("train") / "labelled.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows([r["text"], r["label"]] for r in rows[:600])
    return path


def trainer(settings, name: str, tmp_path: Path):
    where = place(settings, name, tmp_path)
    empty = tmp_path / "no-corpora"
    empty.mkdir(exist_ok=True)
    return dataclasses.replace(where, models_dir=where.data_dir / "models", corpora_dir=empty)


def train(where, train_input, crash_at=None):
    return tagwatch(where, "train", "--offline", "--no-default-data", "--input", str(train_input),
                    crash_at=crash_at)


def registry(where) -> dict:
    """The registry's invariants checked; what a clean training would also have."""
    from classifiers import store
    from classifiers.corpora import sha256_of

    models = Path(where.models_dir)
    with duckdb.connect(str(where.db_path), read_only=True) as con:
        rows = con.execute("SELECT version, promoted, decision, file_path, file_sha256 FROM models "
                           "ORDER BY trained_at").fetchall()
    for version, promoted, decision, path, sha in rows:  # none half-written, none missing
        assert Path(path).is_file() and sha256_of(Path(path)) == sha, version
        assert decision is not None, version
    [promoted] = [r[0] for r in rows if r[1]]
    assert store.current_version(models) == promoted  # what scorers load is what was promoted
    assert [p.name for p in models.iterdir() if p.name.startswith(".")] == []  # no staging left
    for folder in models.iterdir():  # every model folder complete and loadable
        if folder.is_dir():
            store.load(models, folder.name)
    scores = store.load(models).score(PROBE)
    return {"promoted_scores": [round(float(s), 6) for s in scores],
            "decisions": [r[2].split(":")[0] for r in rows]}


@pytest.fixture(scope="module")
def clean_training(tmp_path_factory, train_input):
    from tagwatch.config import Settings

    tmp = tmp_path_factory.mktemp("clean-training")
    where = trainer(Settings.from_env(data_dir=tmp), "clean", tmp)
    code, out, err = train(where, train_input)
    assert code == 0, err
    return registry(where)


@pytest.mark.parametrize("moment, decisions, said", [
    ("train.saving", ["promoted"], "left half-written"),       # the model folder half-written
    ("train.saved", ["promoted"], None),                     # saved, not registered yet
    ("train.registered", ["not promoted", "promoted"], "never compared"),  # no decision yet
    ("train.promoted", ["promoted", "promoted"], "CURRENT now names"),   # flag set, CURRENT not
])
def test_a_training_killed_at_any_moment_then_rerun_leaves_a_whole_registry(
        settings, tmp_path, train_input, clean_training, moment, decisions, said):
    where = trainer(settings, "crashed", tmp_path)
    code, _, _ = train(where, train_input, crash_at=moment)
    assert code == -signal.SIGKILL
    code, out, err = train(where, train_input)
    assert code == 0, err
    if said:
        assert "recovered: " in err and said in err
    got = registry(where)
    assert got["promoted_scores"] == clean_training["promoted_scores"]  # the same model scores
    assert got["decisions"] == decisions
    assert clean_training["decisions"] == ["promoted"]


def test_only_a_dead_trainings_leftovers_are_removed(tmp_path):
    from classifiers.store import remove_abandoned

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    mine = tmp_path / f".20260101T000000Z-0123abcd.{os.getpid()}.x1"   # being written now
    theirs = tmp_path / f".20260101T000000Z-0123abcd.{dead.pid}.x2"    # its writer is gone
    pointer = tmp_path / f".CURRENT.{dead.pid}"
    for folder in (mine, theirs):
        folder.mkdir()
        (folder / "model.skops").write_bytes(b"half")
    pointer.write_text("20260101T000000Z-0123abcd\n")
    assert remove_abandoned(tmp_path) == sorted([theirs.name, pointer.name])
    assert [p.name for p in tmp_path.iterdir()] == [mine.name]
