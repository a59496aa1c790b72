"""A production-shaped Airflow on one machine: `make airflow-cluster` / `make airflow-stop`.

The metadata database is PostgreSQL, the executor is Celery with Redis as broker, and the
scheduler, API server, DAG processor, triggerer and each Celery worker run as separate
processes, exactly as they would on separate machines. The settings that do not depend on
the machine are in airflow.cfg ([celery]); the ones that do come from the environment
(AIRFLOW__...), with the defaults below. Every process is started in its own session and
its id written to `cluster.json` in AIRFLOW_HOME, so stopping ends exactly what was started.

Collect tasks write staging files and only the loader writes the warehouse, so going from
one machine to many changes configuration, not code: the staging directory
(TAGWATCH_STAGING_DIR) must be a path every worker sees (NFS/EFS today; object storage is
the next step, see the README), and the DuckDB file belongs to whichever worker runs the
warehouse pool's tasks (one slot: one writer).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tagwatch import airflow_env
from tagwatch.airflow_env import ROOT
from tagwatch.config import BY_ENV

DEFAULT_DB = "postgresql+psycopg2://postgres@127.0.0.1:5432/tagwatch_airflow"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
STATE_FILE = "cluster.json"
# Components every cluster runs, each one process (the workers are added per name).
SERVICES = ("scheduler", "dag-processor", "triggerer", "api-server")
class ClusterError(RuntimeError):
    """The cluster could not start or stop (the message says which part and where its log is)."""


@dataclass
class Cluster:
    home: Path                                   # AIRFLOW_HOME: logs, pid file, secrets
    database_url: str = DEFAULT_DB               # SQLAlchemy URL of the metadata database
    broker_url: str = DEFAULT_BROKER
    api_port: int = 8080
    workers: tuple[str, ...] = ("worker1", "worker2")
    concurrency: int = 2                         # task slots per worker
    queue: str = "default"                       # the Celery queue the workers serve
    log_port: int = 8793                         # serve-logs ports: this and the next ones
    env: dict = field(default_factory=dict)      # extra environment (TAGWATCH_* for the tasks)

    @classmethod
    def from_env(cls, home: Path | None = None) -> "Cluster":
        env = os.environ
        return cls(
            home=Path(home or env.get("AIRFLOW_HOME") or ROOT / "data" / "airflow-cluster").resolve(),
            database_url=env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", DEFAULT_DB),
            broker_url=env.get("AIRFLOW__CELERY__BROKER_URL", DEFAULT_BROKER),
            api_port=BY_ENV["TAGWATCH_AIRFLOW_PORT"].read(env, {}),
            concurrency=BY_ENV["TAGWATCH_AIRFLOW_WORKER_SLOTS"].read(env, {}))

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def environment(self) -> dict[str, str]:
        """What every process of the cluster sees (the caller's environment underneath)."""
        secret = self._secret()
        env = {**os.environ, **self.env,
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               "AIRFLOW_HOME": str(self.home),
               "AIRFLOW_CONFIG": str(ROOT / "airflow.cfg"),
               "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
               "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
               "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
               "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_url,
               "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
               "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.database_url,
               "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
               "AIRFLOW__API__HOST": "127.0.0.1",
               "AIRFLOW__API__PORT": str(self.api_port),
               "AIRFLOW__API__BASE_URL": self.api_url,
               "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
               # Every process must sign and check the same task tokens and sessions.
               "AIRFLOW__API_AUTH__JWT_SECRET": secret,
               "AIRFLOW__API__SECRET_KEY": secret,
               "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tagwatch.airflow_env.worker_hostname",
               "AIRFLOW__LOGGING__TRIGGERER_LOG_SERVER_PORT": str(self.log_port + len(self.workers))}
        return env

    def _secret(self) -> str:
        path = self.home / "secret"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(32))
        return path.read_text().strip()


def create_database(url: str) -> None:
    """Create the metadata database on its PostgreSQL server if it does not exist."""
    import psycopg2

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with _admin_connection(url, psycopg2) as con, con.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    """Drop the metadata database (its sessions are ended first)."""
    import psycopg2

    name = urlsplit(url).path.lstrip("/")
    with _admin_connection(url, psycopg2) as con, con.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _admin_connection(url: str, psycopg2):
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgresql"):
        raise ClusterError(f"the metadata database must be PostgreSQL, not {parts.scheme}")
    dsn = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    try:
        con = psycopg2.connect(dsn, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        raise ClusterError(f"PostgreSQL at {parts.hostname}:{parts.port or 5432} is not "
                           f"reachable: {str(exc).strip()}") from exc
    con.autocommit = True  # CREATE/DROP DATABASE cannot run inside a transaction
    return closing(con)


def _airflow(cluster: Cluster, *args: str, timeout: float = 300) -> None:
    """Run one airflow CLI command to completion; its output goes to the cluster's setup log."""
    log = cluster.home / "logs" / "setup.log"
    with open(log, "a") as out:
        done = subprocess.run([str(Path(sys.executable).parent / "airflow"), *args],
                              env=cluster.environment(), stdout=out, stderr=subprocess.STDOUT,
                              timeout=timeout)
    if done.returncode:
        raise ClusterError(f"`airflow {' '.join(args)}` failed; see {log}")


def setup(cluster: Cluster) -> None:
    """Database created and migrated, pools in place (idempotent)."""
    (cluster.home / "logs").mkdir(parents=True, exist_ok=True)
    create_database(cluster.database_url)
    _airflow(cluster, "db", "migrate")
    pools = cluster.home / "pools.json"
    pools.write_text(json.dumps({name: {"slots": slots, "description": text,
                                        "include_deferred": False}
                                 for name, slots, text in airflow_env.pools()}))
    _airflow(cluster, "pools", "import", str(pools))


def _spawn(cluster: Cluster, name: str, args: list[str], extra: dict | None = None) -> int:
    log = open(cluster.home / "logs" / f"{name}.log", "a")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "airflow"), *args],
                            env={**cluster.environment(), **(extra or {})}, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, cwd=ROOT)
    log.close()
    return proc.pid


def start(cluster: Cluster, wait: float = 180) -> dict[str, int]:
    """Set up, start every process, and wait (at most `wait` s) until all report healthy."""
    if (cluster.home / STATE_FILE).exists():
        raise ClusterError(f"a cluster already runs from {cluster.home} (make airflow-stop)")
    setup(cluster)
    pids: dict[str, int] = {}
    try:
        for service in SERVICES:
            args = [service] + (["--host", "127.0.0.1", "--port", str(cluster.api_port)]
                                if service == "api-server" else [])
            pids[service] = _spawn(cluster, service, args)
        for index, worker in enumerate(cluster.workers):
            pids[worker] = _spawn(
                cluster, worker,
                ["celery", "worker", "-H", worker, "-q", cluster.queue,
                 "-c", str(cluster.concurrency), "--without-gossip", "--without-mingle"],
                {"TAGWATCH_WORKER_NAME": worker,
                 "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(cluster.log_port + index)})
        (cluster.home / STATE_FILE).write_text(json.dumps(pids))
        wait_until_healthy(cluster, pids, wait)
    except BaseException:
        _terminate(pids)
        (cluster.home / STATE_FILE).unlink(missing_ok=True)
        raise
    return pids


def wait_until_healthy(cluster: Cluster, pids: dict[str, int], wait: float) -> None:
    """The API server says scheduler, triggerer and DAG processor beat; each worker is ready."""
    deadline = time.monotonic() + wait
    logs = cluster.home / "logs"
    while True:
        for name, pid in pids.items():
            if not _alive(pid):
                raise ClusterError(f"{name} exited at start; see {logs / (name + '.log')}")
        healthy = _health(cluster.api_url)
        ready = all(" ready." in (logs / f"{w}.log").read_text(errors="replace")
                    for w in cluster.workers)
        if healthy and ready:
            return
        if time.monotonic() > deadline:
            raise ClusterError(f"the cluster was not healthy after {wait:.0f} s; see {logs}")
        time.sleep(1)


def _health(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/api/v2/monitor/health", timeout=2) as answer:
            status = json.load(answer)
    except (OSError, ValueError):
        return False
    parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
    return all((status.get(p) or {}).get("status") == "healthy" for p in parts)


def _alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)  # reaps our own children that exited
        if done:
            return False
    except ChildProcessError:
        pass  # not our child (started by an earlier command): ask the kernel
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _terminate(pids: dict[str, int], grace: float = 30) -> None:
    """End each started process group: SIGTERM, then SIGKILL after `grace` seconds."""
    for pid in pids.values():
        try:
            os.killpg(pid, signal.SIGTERM)  # each was started as the leader of its own group
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while any(_alive(pid) for pid in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid in pids.values():
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stop(home: Path) -> list[str]:
    """Stop the cluster started from `home`; returns the names of what was stopped."""
    state = home / STATE_FILE
    if not state.exists():
        return []
    pids = json.loads(state.read_text())
    _terminate(pids)
    state.unlink()
    return list(pids)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tagwatch.airflow_cluster")
    parser.add_argument("action", choices=("start", "stop"))
    args = parser.parse_args(argv)
    cluster = Cluster.from_env()
    try:
        if args.action == "stop":
            stopped = stop(cluster.home)
            print(f"stopped: {', '.join(stopped)}" if stopped else "no cluster was running")
            return 0
        pids = start(cluster)
    except (ClusterError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Airflow cluster up: UI {cluster.api_url} ({len(pids)} processes, logs in "
          f"{cluster.home / 'logs'}); the admin password is in {cluster.home}/"
          "simple_auth_manager_passwords.json.generated; stop with `make airflow-stop`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
