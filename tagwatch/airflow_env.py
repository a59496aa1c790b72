"""Pointing Airflow at this project before anything imports it, and what the DAGs share.

Airflow reads its configuration when first imported, so these variables must be
set first. Values already in the environment win: an operator's deployment
(PostgreSQL metadata database, another executor) is configured the usual way.
This module does not import Airflow itself.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from common.private import private_umask

ROOT = Path(__file__).resolve().parent.parent

# Tasks that write the DuckDB file take this pool: the file takes one writer at a time.
WAREHOUSE_POOL = "tagwatch_warehouse"


# DAG tasks write the warehouse, staging and models: private files, as the CLI writes them.
private_umask()


def pools() -> list[tuple[str, int, str]]:
    """Every Airflow pool the DAGs use, as (name, slots, description): the warehouse's one
    writer, then one pool per registered platform (its slots bound parallel collect
    tasks, so the platform's rate limits hold however many tasks are queued)."""
    from collectors.platforms import PLATFORMS

    return [(WAREHOUSE_POOL, 1, "the single DuckDB writer")] + [
        (p.pool, p.pool_slots, p.pool_note) for p in PLATFORMS.values()]


def create_pools() -> list[tuple[str, int, str]]:
    """Create or update every pool of `pools()` in Airflow's metadata database (after
    `configure()` and a migrated database); returns them."""
    from airflow.models.pool import Pool

    wanted = pools()
    for name, slots, description in wanted:
        Pool.create_or_update_pool(name, slots, description, include_deferred=False)
    return wanted


def dag_args(dag_id: str, schedule_variable: str, **more: Any) -> dict[str, Any]:
    """The arguments every tagwatch DAG shares, for `@dag(**dag_args(...))`.

    The schedule is the setting `schedule_variable` (its default is in tagwatch.config's
    table; `none`: triggered runs only); runs start from 1 Jan 2026 UTC without catching up, one at a time, tagged
    "tagwatch". `more` adds or overrides @dag arguments (params, default_args).
    """
    import pendulum

    from tagwatch.config import BY_ENV

    schedule = BY_ENV[schedule_variable].read(os.environ, {})
    if schedule.strip().lower() in ("none", "manual"):  # triggered runs only
        schedule = None
    return {"dag_id": dag_id, "schedule": schedule,
            "start_date": pendulum.datetime(2026, 1, 1, tz="UTC"), "catchup": False,
            "max_active_runs": 1, "tags": ["tagwatch"], **more}


def configure(airflow_home: Path | None = None) -> Path:
    home = Path(os.environ.get("AIRFLOW_HOME") or airflow_home or ROOT / "data" / "airflow").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("AIRFLOW_HOME", str(home))
    os.environ.setdefault("AIRFLOW_CONFIG", str(ROOT / "airflow.cfg"))
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home}/airflow.db")
    return home


def migrate_metadata_db() -> None:
    """Create or upgrade Airflow's metadata database (idempotent)."""
    from airflow.utils import db

    db.initdb()


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag.get_dag(dag_id)


def platform_credentials(platform: str) -> dict[str, str]:
    """Credentials for a platform from the Airflow Connection `tagwatch_<platform>`, over the
    environment: login/password become the platform's two variables (Bluesky identifier and
    app password; TikTok client key and secret). Without the Connection, the environment alone."""
    from collectors.platforms import get

    credentials = dict(os.environ)
    names = get(platform).credentials
    if not names:
        return credentials
    try:
        from airflow.sdk import Connection

        conn = Connection.get(f"tagwatch_{platform}")
    except Exception:  # no such Connection (its type differs across Airflow versions)
        return credentials
    for name, value in zip(names, (conn.login, conn.password)):
        if value:
            credentials[name] = value
    return credentials


def worker_hostname() -> str:
    """The name a task instance records as its host ([core] hostname_callable): the worker's
    own name when several workers share a machine (TAGWATCH_WORKER_NAME), else the FQDN."""
    import socket

    from tagwatch.config import BY_ENV

    return BY_ENV["TAGWATCH_WORKER_NAME"].read(os.environ, {}) or socket.getfqdn()
