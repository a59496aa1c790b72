"""Issue 13 item 7: what tagwatch writes is private (files 0600, directories 0700) even
when started from a shell whose umask lets others read, and the pseudonym key can live
outside the data directory (TAGWATCH_PSEUDONYM_KEY_FILE); the default still works."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import duckdb
import pytest

from fakes.mastodon import MastodonReplayServer, make_status
from warehouse.db import session

TAGWATCH = [sys.executable, "-m", "tagwatch.cli"]


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def run(env, *args):
    # The shell's umask is 022: without tagwatch's own care, everything would be world-readable.
    proc = subprocess.run([*TAGWATCH, *args], capture_output=True, text=True, env=env, timeout=300,
                          preexec_fn=lambda: os.umask(0o022))
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.slow
def test_data_files_are_private_and_the_key_lives_where_configured(tmp_path, trained_models_dir):
    data, secrets_dir = tmp_path / "data", tmp_path / "secrets"
    key_file = secrets_dir / "tagwatch.key"
    env = {k: v for k, v in os.environ.items() if k != "TAGWATCH_PSEUDONYM_KEY"}
    env.update(TAGWATCH_DATA_DIR=str(data), TAGWATCH_DB=str(data / "tagwatch.duckdb"),
               TAGWATCH_PSEUDONYM_KEY_FILE=str(key_file), TAGWATCH_MODELS_DIR=str(trained_models_dir))
    with MastodonReplayServer([make_status(1, username="invented")], max_lifetime=120) as server:
        run(env, "collect", "--platform", "mastodon", "--base-url", server.url, "--tag", "teachersoftiktok")
    assert mode(data) == 0o700 and mode(data / "tagwatch.duckdb") == 0o600
    staged = [p for p in (data / "staging").rglob("*")]
    assert staged and all(mode(p) == (0o700 if p.is_dir() else 0o600) for p in staged), \
        {str(p): oct(mode(p)) for p in staged}
    assert mode(data / "staging") == 0o700
    # the key was made outside the data directory, private, and nothing was put beside the data
    assert key_file.is_file() and mode(key_file) == 0o600 and not (data / "pseudonym.key").exists()
    with duckdb.connect(str(data / "tagwatch.duckdb"), read_only=True) as con:
        [author_key] = con.execute("SELECT author_key FROM posts").fetchone()
    assert author_key and "invented" not in author_key


def test_the_default_key_beside_the_data_still_works(tmp_path):
    from tagwatch.config import Settings

    settings = Settings.from_env(data_dir=tmp_path / "data")
    settings = Settings(**{**settings.__dict__, "_pseudonym_key": None, "pseudonym_key_file": None})
    first = settings.pseudonym_key
    assert first == settings.pseudonym_key and len(first) == 64
    assert mode(tmp_path / "data" / "pseudonym.key") == 0o600 and mode(tmp_path / "data") == 0o700


def test_a_new_warehouse_is_private_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with session(tmp_path / "new" / "tagwatch.duckdb") as con:
            con.execute("SELECT 1")
    finally:
        os.umask(old)
    assert mode(tmp_path / "new") == 0o700 and mode(tmp_path / "new" / "tagwatch.duckdb") == 0o600


def test_saved_models_are_private(trained_models_dir):
    version = (trained_models_dir / "CURRENT").read_text().strip()
    assert mode(trained_models_dir / version) == 0o700
