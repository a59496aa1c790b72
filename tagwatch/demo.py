"""`make demo`: the whole pipeline on the bundled offline sample, with no network.

A local server replays the sample as a Mastodon instance; the collector cannot
tell it from a real one. By default the run goes through Airflow (the
hashtag_monitor DAG, executed with dag.test() in data/airflow); --engine
inprocess runs the same steps without Airflow.
"""
from __future__ import annotations

import sys
import time

from classifiers.corpora import corpora_warning
from tagwatch import pipeline
from tagwatch.config import Settings
from warehouse import queries
from warehouse.db import session

# The sample's tags and how a union might have them on its watchlist.
DEMO_WATCHLIST = {
    "teachersoftiktok": ("flagged", "general teacher tag used by the 2021 wave"),
    "exposeyourteacher": ("flagged", "allegations and 'exposing' videos"),
    "ratemyteacher": ("watch", None),
    "slapateacher": ("banned", "said to be banned by platforms in 2021"),
    "deviouslicks": ("banned", "said to be banned by platforms in 2021"),
}


def run_demo(settings: Settings, engine: str = "airflow") -> int:
    from tagwatch.training import ensure_model
    from fakes.mastodon import MastodonReplayServer, load_sample

    started = time.monotonic()
    warning = corpora_warning(settings.corpora_dir)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    with session(settings.db_path) as con:
        have = {row["tag"] for row in queries.watchlist(con)}
        for tag, (status, note) in DEMO_WATCHLIST.items():
            if tag not in have:
                queries.watchlist_add(con, tag, status, note)
    ensure_model(settings)
    with MastodonReplayServer(load_sample(), max_lifetime=600) as server:
        sources = [{"platform": "mastodon", "source": server.url}]
        print(f"replaying the bundled sample as a Mastodon instance at {server.url}", flush=True)
        if engine == "airflow":
            run_id, state = _run_with_airflow(settings, sources)
            if state != "success":
                print(f"the Airflow run ended in state {state!r}", file=sys.stderr)
                return 1
        else:
            run_id = pipeline.run(settings, targets=sources).run_id
    _print_summary(settings, run_id, time.monotonic() - started)
    return 0


def quiet_known_warnings() -> None:
    """Silence a warning the demo's reader can do nothing about: svcs (under Airflow's
    execution API, which dag.test runs in this process) imports starlette.testclient for a
    type hint, and Starlette warns there that its httpx client is deprecated."""
    import warnings

    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient` is deprecated")


def _run_with_airflow(settings: Settings, sources: list[dict]) -> tuple[str, str]:
    import os

    quiet_known_warnings()
    from tagwatch import airflow_env

    os.environ.update(settings.to_env())  # the DAG's tasks read their settings from here
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    home = airflow_env.configure()
    print(f"running the hashtag_monitor DAG with Airflow (AIRFLOW_HOME={home})", flush=True)
    airflow_env.migrate_metadata_db()
    dag = airflow_env.load_dag("hashtag_monitor")
    dag_run = dag.test(run_conf={"sources": sources})
    return dag_run.run_id, str(getattr(dag_run.state, "value", dag_run.state))


def _print_summary(settings: Settings, run_id: str, seconds: float) -> None:
    with session(settings.db_path, read_only=True) as con:
        counts = queries.summary(con, pipeline.safe_run_id(run_id))
        flagged = queries.flagged(con, since=queries.parse_since("1d"))
    print()
    print(f"== tagwatch demo: run {run_id} ({seconds:.0f} s) ==")
    print("posts collected per source and tag (received / new this run):")
    for row in counts["per_tag"]:
        print(f"  {row['platform']} #{row['tag']:20} {row['received'] or 0:4} / {row['new'] or 0:4}  {row['status']}")
    print(f"posts in the warehouse: {counts['posts']}; scores: {counts['scores']}")
    print(f"posts flagged (first seen in the last day): {len(flagged)}")
    print(f"DuckDB file: {settings.db_path.resolve()}")
    print("look at the flagged list:  .venv/bin/tagwatch flagged"
          + ("" if str(settings.db_path) == "data/tagwatch.duckdb" else f" --db {settings.db_path}"))
