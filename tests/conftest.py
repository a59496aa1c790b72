"""Shared fixtures. Airflow is pointed at a throw-away home BEFORE anything imports it."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="tagwatch-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW_CONFIG"] = str(ROOT / "airflow.cfg")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME}/airflow.db"
# Nothing a test does may land in the developer's data/ folder.
_DATA = tempfile.mkdtemp(prefix="tagwatch-data-")
os.environ["TAGWATCH_DATA_DIR"] = _DATA
os.environ.pop("TAGWATCH_DB", None)
os.environ["TAGWATCH_PSEUDONYM_KEY"] = "test-key-not-secret"
os.environ["TAGWATCH_HTTP_BACKOFF"] = "0.05"  # retries still happen, just without long waits


@pytest.fixture
def settings(tmp_path, monkeypatch, trained_models_dir):
    """A fresh warehouse, staging and data dir per test, sharing one trained model."""
    from tagwatch.config import Settings

    monkeypatch.setenv("TAGWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TAGWATCH_DB", str(tmp_path / "data" / "tagwatch.duckdb"))
    monkeypatch.setenv("TAGWATCH_MODELS_DIR", str(trained_models_dir))
    return Settings.from_env()


@pytest.fixture(scope="session")
def trained_model():
    """One model for the whole session, on the seed set alone: its abuse score is
    alt-profanity-check's, and its staff head learned from the seed set."""
    from classifiers import data, training

    return training.train([data.seed_dataset()])


@pytest.fixture(scope="session")
def trained_models_dir(tmp_path_factory, trained_model):
    """The session's model, saved as the current model of a models directory."""
    from classifiers import store

    models = tmp_path_factory.mktemp("models")
    store.save(trained_model, models)
    return models


@pytest.fixture
def replay():
    """The bundled sample served as a Mastodon instance on 127.0.0.1."""
    from fakes.mastodon import MastodonReplayServer, load_sample

    with MastodonReplayServer(load_sample(), max_lifetime=120) as server:
        yield server


@pytest.fixture
def sleeps():
    """Where a collector's injected `sleep` records its waits (none are really slept)."""
    return []


@pytest.fixture
def fake_servers():
    """Start platform fakes (fakes.api subclasses) that all stop when the test ends:
    `fake_servers(BlueskyFake, posts, **options)`."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        def start(cls, *args, **kwargs):
            kwargs.setdefault("max_lifetime", 30)
            return stack.enter_context(cls(*args, **kwargs))
        yield start


def pytest_collection_modifyitems(items):
    """Whole-path tests (tests/e2e/: real processes, kills, loads under review) are `slow`,
    so `-m "not browser and not airflow and not slow"` leaves them out while working."""
    e2e = Path(__file__).resolve().parent / "e2e"
    for item in items:
        if e2e in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.slow)
