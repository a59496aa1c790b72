"""One settings table (tagwatch.config.SETTINGS): the environment, the docs and the README
all come from it, and the code reads no TAGWATCH_* variable the table does not hold."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from collectors.base import CollectOptions
from collectors.platforms import PLATFORMS
from tagwatch import pipeline
from tagwatch.airflow_env import dag_args
from tagwatch.config import BY_ENV, SETTINGS, Settings, markdown_table

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("collectors", "radar", "warehouse", "classifiers", "review", "reports", "webapp", "dags",
           "tagwatch", "fakes", "scripts")


def clear(monkeypatch):
    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)


def test_the_readme_and_the_docs_carry_the_table_as_generated():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- settings:begin -->\n", 1)[1].split("<!-- settings:end -->", 1)[0]
    assert block == markdown_table()
    assert markdown_table() in (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    for name in ("TAGWATCH_HTTP_BACKOFF", "TAGWATCH_HTTP_RETRIES", "TAGWATCH_FOLLOWUP_SCHEDULE",
                 "TAGWATCH_TIKTOK_COMMENT_VIDEOS", "TAGWATCH_WEB_MIN_INTERVAL"):
        assert f"`{name}`" in block


def test_every_tagwatch_variable_the_code_names_is_in_the_table_or_a_platform_credential():
    credentials = {name for p in PLATFORMS.values() for name in p.credentials}
    named: dict[str, str] = {}
    files = [f for folder in PRODUCT if (ROOT / folder).is_dir() for f in (ROOT / folder).rglob("*.py")]
    for path in files + [ROOT / "Makefile"]:
        for name in re.findall(r"TAGWATCH_[A-Z0-9_]*[A-Z0-9]", path.read_text(encoding="utf-8")):
            named.setdefault(name, str(path.relative_to(ROOT)))
    strays = {n: where for n, where in named.items()
              if n not in BY_ENV and n not in credentials and not n.startswith("TAGWATCH_MASTODON_TOKEN")}
    assert strays == {}
    assert len(BY_ENV) == len(SETTINGS)  # each variable once


def test_every_variable_is_read_from_the_environment_and_written_back(monkeypatch, tmp_path):
    clear(monkeypatch)
    given = {"TAGWATCH_DATA_DIR": str(tmp_path / "d"), "TAGWATCH_HTTP_BACKOFF": "0.25",
             "TAGWATCH_HTTP_RETRIES": "2", "TAGWATCH_STORE_HANDLES": "1", "TAGWATCH_FIRST_RUN_DAYS": "3",
             "TAGWATCH_TIKTOK_REGION": "gb", "TAGWATCH_TIKTOK_COMMENT_VIDEOS": "0",
             "TAGWATCH_WEB_MIN_INTERVAL": "1.5", "TAGWATCH_INTAKE_HOSTS": "Bsky.App, 127.0.0.1:8765",
             "TAGWATCH_FOLLOWUP_SCHEDULE": "*/5 * * * *", "TAGWATCH_REPORT_TO": "a@example.org; b@example.org",
             "TAGWATCH_REPORT_FROM": "union@example.org", "TAGWATCH_REPORT_EXCERPTS": "on"}
    for name, value in given.items():
        monkeypatch.setenv(name, value)
    s = Settings.from_env()
    assert (s.data_dir, s.db_path, s.state_dir) == (tmp_path / "d", tmp_path / "d" / "tagwatch.duckdb",
                                                    tmp_path / "d" / "state")
    assert (s.http_backoff, s.http_retries, s.store_handles, s.first_run_days) == (0.25, 2, True, 3)
    assert (s.tiktok_region, s.tiktok_comment_videos, s.web_min_interval) == ("GB", 0, 1.5)
    assert s.intake_hosts == ("bsky.app", "127.0.0.1:8765")
    assert s.report_to == ("a@example.org", "b@example.org") and s.report_excerpts is True
    assert dag_args("case_followup", "TAGWATCH_FOLLOWUP_SCHEDULE")["schedule"] == "*/5 * * * *"
    # Another process given to_env() reads the same settings.
    clear(monkeypatch)
    for name, value in s.to_env().items():
        monkeypatch.setenv(name, value)
    again = Settings.from_env()
    assert dataclasses.replace(again, _pseudonym_key=None) == dataclasses.replace(
        s, data_dir=s.data_dir.resolve(), db_path=s.db_path.resolve(), staging_dir=s.staging_dir.resolve(),
        models_dir=s.models_dir.resolve(), cache_dir=s.cache_dir.resolve(), state_dir=s.state_dir.resolve(),
        reports_dir=s.reports_dir.resolve(), _pseudonym_key=None)


def test_defaults_come_from_the_rooms_that_own_them(monkeypatch):
    clear(monkeypatch)
    s = Settings.from_env()
    options, room = pipeline.collect_options(s, credentials={}), CollectOptions()
    for name in ("store_handles", "first_run_days", "tiktok_daily_requests", "tiktok_region",
                 "web_min_interval"):
        assert getattr(options, name) == getattr(room, name), name
    client = s.http_client()
    assert (client.backoff_base, client.max_retries) == (1.0, 5)
    assert dag_args("hashtag_monitor", "TAGWATCH_SCHEDULE")["schedule"] == "@hourly"
    assert dag_args("school_digests", "TAGWATCH_DIGEST_SCHEDULE")["schedule"] == "0 16 * * *"


@pytest.mark.parametrize("name, value, message", [
    ("TAGWATCH_HTTP_RETRIES", "many", "TAGWATCH_HTTP_RETRIES='many' is not a int"),
    ("TAGWATCH_FIRST_RUN_DAYS", "-1", "TAGWATCH_FIRST_RUN_DAYS must not be negative"),
    ("TAGWATCH_REPORT_EXCERPTS", "maybe", "TAGWATCH_REPORT_EXCERPTS='maybe': use 1 (on) or 0 (off)"),
    ("TAGWATCH_INTAKE_HOSTS", "https://bsky.app/", "TAGWATCH_INTAKE_HOSTS: give host or host:port"),
])
def test_a_bad_value_is_refused_naming_the_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError) as raised:
        Settings.from_env()
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
