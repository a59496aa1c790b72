"""The `tagwatch` command given bad arguments, or a reader that goes away: one line, never a traceback."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import duckdb
import pytest

TAGWATCH = [sys.executable, "-m", "tagwatch.cli"]


def run(settings, *args, stdout=subprocess.PIPE):
    env = {**os.environ, **settings.to_env()}
    return subprocess.run([*TAGWATCH, *args], stdout=stdout, stderr=subprocess.PIPE, text=True,
                          env=env, timeout=300)


@pytest.fixture(scope="module")
def _filled_data_dir(tmp_path_factory, trained_models_dir):
    """Built once per module: a data dir with a few imported TikTok posts and one open case."""
    from tagwatch.config import Settings

    root = tmp_path_factory.mktemp("robustness")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TAGWATCH_DATA_DIR", str(root / "data"))
        env.setenv("TAGWATCH_DB", str(root / "data" / "tagwatch.duckdb"))
        env.setenv("TAGWATCH_MODELS_DIR", str(trained_models_dir))
        template = Settings.from_env()
    export = root / "export.ndjson"
    export.write_text("\n".join(json.dumps({"id": str(100 + i), "desc": text, "createTime": 1767225600})
                                for i, text in enumerate([
                                    "ms jones the maths teacher is a disgusting liar, slap her",
                                    "lovely school trip today", "our head teacher is useless trash"])))
    assert run(template, "import", "--format", "4cat", str(export)).returncode == 0
    assert run(template, "case", "open", "--platform", "tiktok", "--post-id", "101").returncode == 0
    return template.data_dir


@pytest.fixture
def warehouse(settings, _filled_data_dir):
    """Each test's own copy of the module's filled data dir (a test may try to change it)."""
    shutil.copytree(_filled_data_dir, settings.data_dir)
    return settings


@pytest.mark.parametrize("args, says", [
    (["flagged", "--limit", "-1"], "a limit must be from 0"),
    (["flagged", "--limit", "ten"], "'ten' is not a whole number"),
    (["flagged", "--since", "99999999999w"], "too long"),
    (["case", "list", "--limit", "-5"], "a limit must be from 0"),
    (["case", "show", "-7"], "a case id must be from 1"),
    (["case", "show", "99999999999999999999"], "a case id must be from 1"),
    (["case", "show", "twelve"], "not a whole number"),
    (["case", "report", "1", "--channel", "form", "--reference", "x", "--sent-at", "2026-02-31"],
     "not an ISO 8601 time"),
    (["resurfacing", "--limit", "-1"], "a limit must be from 0"),
    (["tags", "proposals", "--limit", "-1"], "a limit must be from 0"),
    (["score", "--input", "x.csv", "--output", "y.csv", "--batch-size", "0"], "a batch size"),
    (["serve", "--port", "70000"], "a port must be from 0"),
    (["report", "--period", "9999w", "--out", "r"], "1 day to 10 years"),
    (["report", "--end", "9999-12-31", "--out", "r"], "cannot read the end"),
    (["collect", "--platform", "mastodon", "--base-url", "http://127.0.0.1:9", "--tag", "x",
      "--since", "2026-13-01"], "cannot read the date"),
])
def test_a_bad_argument_is_one_line_and_changes_nothing(warehouse, args, says):
    before = counts(warehouse.db_path)
    proc = run(warehouse, *args)
    assert proc.returncode in (1, 2)
    assert says in proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and says in errors[0]  # argparse adds its usage lines above
    assert counts(warehouse.db_path) == before


@pytest.mark.parametrize("args", [
    ["flagged", "--since", "all"], ["flagged", "--since", "all", "--format", "csv"],
    ["case", "show", "1"], ["case", "list"], ["resurfacing"], ["models", "list"],
])
def test_a_reader_that_goes_away_ends_the_command_quietly(warehouse, args):
    env = {**os.environ, **warehouse.to_env()}
    proc = subprocess.Popen([*TAGWATCH, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)
    proc.stdout.close()  # like `| head` that has read enough, before a line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == ""


def test_evaluate_into_a_closed_pipe_ends_quietly(warehouse, tmp_path):
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("text,label\nslap that teacher,1\nnice assembly today,0\n")
    env = {**os.environ, **warehouse.to_env()}
    proc = subprocess.Popen([*TAGWATCH, "evaluate", "--input", str(labelled), "--plot",
                             str(tmp_path / "pr.png")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err


def counts(db) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()]
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
