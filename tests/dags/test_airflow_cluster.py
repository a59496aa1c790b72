"""A real distributed Airflow (tagwatch.airflow_cluster): PostgreSQL metadata database,
CeleryExecutor on Redis, scheduler, API server, DAG processor, triggerer and two Celery
workers as separate processes. The scheduler runs hashtag_monitor against two local
Mastodon fakes; collect tasks land on both workers and the warehouse pool keeps one writer.

The test makes its own PostgreSQL database, Redis db number and Celery queue, binds
127.0.0.1 ports nobody else holds, and stops every process it started even on failure."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from contextlib import closing
from pathlib import Path

import duckdb
import pytest

from tagwatch.airflow_cluster import Cluster, drop_database, start, stop
from fakes.mastodon import MastodonReplayServer, load_sample

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

REDIS_DB = 11          # this test's own Redis database number
TAGS = ("slapateacher", "exposeyourteacher", "ratemyteacher", "teachersoftiktok")
RUN_WAIT = 420         # seconds a whole run may take on a busy two-core machine


def _listening(port: int) -> bool:
    with closing(socket.socket()) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _free_ports(count: int) -> list[int]:
    """`count` consecutive free ports on 127.0.0.1 (the log servers take a run of them)."""
    for _ in range(50):
        with closing(socket.socket()) as sock:
            sock.bind(("127.0.0.1", 0))
            base = sock.getsockname()[1]
        if base + count < 65536 and not any(_listening(base + i) for i in range(count)):
            return list(range(base, base + count))
    raise RuntimeError("no run of free ports")


@pytest.fixture
def cluster(tmp_path, settings):
    if not (_listening(5432) and _listening(6379)):
        pytest.skip("needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379")
    name = f"tagwatch_it_{uuid.uuid4().hex[:10]}"
    api_port, *log_ports = _free_ports(4)
    cluster = Cluster(home=tmp_path / "airflow",
                      database_url=f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}",
                      broker_url=f"redis://127.0.0.1:6379/{REDIS_DB}", api_port=api_port,
                      queue=name, log_port=log_ports[0],
                      env={**settings.to_env(), "TAGWATCH_SCHEDULE": "none"})
    try:
        start(cluster, wait=300)
        yield cluster
    finally:
        stop(cluster.home)
        drop_database(cluster.database_url)
        _forget_queue(name)


def _forget_queue(queue: str) -> None:
    import redis

    with closing(redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)) as r:
        for key in r.scan_iter(f"*{queue}*"):
            r.delete(key)


def _metadata(cluster: Cluster, sql: str, *args) -> list[tuple]:
    import psycopg2

    dsn = cluster.database_url.replace("postgresql+psycopg2://", "postgresql://")
    with closing(psycopg2.connect(dsn, connect_timeout=5)) as con, con.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def _airflow(cluster: Cluster, *args: str) -> None:
    subprocess.run([str(Path(sys.executable).parent / "airflow"), *args], check=True,
                   env=cluster.environment(), capture_output=True, timeout=120)


def _wait_for(what: str, check, seconds: float):
    deadline = time.monotonic() + seconds
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds:.0f} s")
        time.sleep(1)
    return found


def test_the_scheduler_runs_hashtag_monitor_on_two_celery_workers(cluster, settings):
    from warehouse import queries
    from warehouse.db import session

    with session(settings.db_path) as con:
        for tag in TAGS:
            queries.watchlist_add(con, tag, "flagged")
    sample = load_sample()
    halves = sample[::2], sample[1::2]   # two instances, each holding half the posts
    with MastodonReplayServer(halves[0], max_lifetime=RUN_WAIT + 60) as one, \
            MastodonReplayServer(halves[1], max_lifetime=RUN_WAIT + 60) as two:
        _wait_for("the DAG processor parsed hashtag_monitor", lambda: _metadata(
            cluster, "SELECT 1 FROM serialized_dag WHERE dag_id = 'hashtag_monitor'"), 180)
        _airflow(cluster, "dags", "unpause", "hashtag_monitor")
        conf = {"sources": [{"platform": "mastodon", "source": s.url} for s in (one, two)]}
        _airflow(cluster, "dags", "trigger", "hashtag_monitor", "--run-id", "it_run",
                 "--conf", json.dumps(conf))
        state = _wait_for("the run finished", lambda: [s for (s,) in _metadata(
            cluster, "SELECT state FROM dag_run WHERE run_id = 'it_run'")
            if s in ("success", "failed")], RUN_WAIT)
    tis = _metadata(cluster, "SELECT task_id, map_index, hostname, state, pool, start_date, "
                             "end_date FROM task_instance WHERE run_id = 'it_run'")
    assert state == ["success"], [t[:4] for t in tis]

    collects = [t for t in tis if t[0] == "collect_mastodon"]
    assert len(collects) == 2 * len(TAGS) and {t[3] for t in collects} == {"success"}
    assert {t[2] for t in collects} == {"worker1", "worker2"}   # both workers collected

    writers = sorted((t for t in tis if t[4] == "tagwatch_warehouse"), key=lambda t: t[5])
    assert {t[0] for t in writers} == {"load", "score", "tiktok_comments", "radar"}
    assert _metadata(cluster, "SELECT slots FROM slot_pool WHERE pool = 'tagwatch_warehouse'") == [(1,)]
    for before, after in zip(writers, writers[1:]):
        assert after[5] >= before[6], f"{after[0]} wrote while {before[0]} still did"

    want = {s["uri"] for s in sample if {t["name"] for t in s["tags"]} & set(TAGS)}
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        got = [r[0] for r in con.execute("SELECT post_id FROM posts").fetchall()]
        scored = con.execute("SELECT count(*) FROM scores").fetchone()[0]
    assert sorted(got) == sorted(want) and scored == len(want)
