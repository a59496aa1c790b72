"""`tagwatch doctor` on a healthy installation, then with each problem it must name."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import duckdb
import pytest

TAGWATCH = [sys.executable, "-m", "tagwatch.cli"]


def run(settings, *args):
    env = {**os.environ, **settings.to_env()}
    env.pop("TAGWATCH_PSEUDONYM_KEY", None)  # the key file beside the data is checked
    return subprocess.run([*TAGWATCH, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
def test_doctor_passes_a_healthy_installation_and_names_each_problem(settings, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(settings.models_dir, models)
    where = dataclasses.replace(settings, models_dir=models)
    export = tmp_path / "export.ndjson"
    export.write_text(json.dumps({"id": "1", "desc": "lovely school trip", "createTime": 1767225600}))
    assert run(where, "import", "--format", "4cat", str(export)).returncode == 0
    assert run(where, "sources", "add", "--platform", "mastodon", "--base-url",
               "https://mastodon.example").returncode == 0
    with duckdb.connect(str(where.db_path)) as con:  # the source once gave a post, 5 days ago
        con.execute("INSERT INTO posts (platform, post_id, source, first_seen_at, last_seen_at) "
                    "VALUES ('mastodon', 'https://mastodon.example/1', 'https://mastodon.example', "
                    "now() - INTERVAL 5 DAY, now() - INTERVAL 5 DAY)")
    healthy = run(where, "doctor", "--no-airflow")
    assert "Traceback" not in healthy.stderr
    assert "PROBLEM  source" in healthy.stdout and "(silent: dead?)" in healthy.stdout
    assert healthy.returncode == 1
    with duckdb.connect(str(where.db_path)) as con:
        con.execute("UPDATE posts SET first_seen_at = now() WHERE platform = 'mastodon'")
    healthy = run(where, "doctor", "--no-airflow")
    assert healthy.returncode == 0, healthy.stdout
    assert "ok       models" in healthy.stdout and "newest post seen 0.0 h ago" in healthy.stdout

    version = next(p for p in models.iterdir() if p.is_dir())
    model_file = version / json.loads((version / "meta.json").read_text())["model_file"]
    model_file.write_bytes(model_file.read_bytes() + b"tampered")
    (where.staging_dir / "run-x").mkdir(parents=True)
    (where.staging_dir / "run-x" / "killed-task.parquet").write_bytes(b"PAR1")
    (where.data_dir / "pseudonym.key").write_text("k" * 64)
    (where.data_dir / "pseudonym.key").chmod(0o644)
    sick = run(where, "doctor", "--no-airflow")
    assert sick.returncode == 1
    assert "does not match its checksum" in sick.stdout
    assert "PROBLEM  staging orphans" in sick.stdout
    assert "can be read by others" in sick.stdout
    assert "Traceback" not in sick.stderr
