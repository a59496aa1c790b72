"""Every DAG imports cleanly and has its expected shape, and a real
Airflow run (dag.test()) carries sample posts from the replay server into DuckDB."""
from __future__ import annotations

import os

import duckdb
import pytest

from collectors.platforms import PLATFORMS
from fakes.mastodon import load_sample

pytestmark = pytest.mark.airflow  # Airflow metadata database and dag.test()


@pytest.fixture(scope="module")
def airflow_db():
    from airflow.utils import db

    db.resetdb()


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"hashtag_monitor", "case_followup", "school_digests", "education_report"} <= set(dagbag.dag_ids)


def test_hashtag_monitor_shape(dagbag):
    dag = dagbag.get_dag("hashtag_monitor")
    tasks = {t.task_id: t for t in dag.tasks}
    platforms = tuple(sorted(PLATFORMS))
    picks = {f"targets_{p}" for p in platforms}
    assert set(tasks) == {"plan_targets", "load", "score", "tiktok_comments", "radar",
                          "flagged_list"} | picks | {
        f"collect_{p}" for p in platforms}
    assert tasks["plan_targets"].downstream_task_ids == picks
    for platform in platforms:
        assert tasks[f"targets_{platform}"].downstream_task_ids == {f"collect_{platform}"}
        assert tasks[f"collect_{platform}"].downstream_task_ids == {"load"}
        assert tasks[f"collect_{platform}"].pool == f"tagwatch_{platform}"  # one pool per platform
    assert tasks["load"].downstream_task_ids == {"score", "flagged_list"}
    assert tasks["score"].downstream_task_ids == {"tiktok_comments"}
    assert tasks["tiktok_comments"].downstream_task_ids == {"radar", "flagged_list"}
    assert tasks["tiktok_comments"].pool == "tagwatch_warehouse"
    assert tasks["radar"].downstream_task_ids == {"flagged_list"}
    assert tasks["radar"].pool == "tagwatch_warehouse"
    assert tasks["load"].trigger_rule == "all_done"  # failed sources are still recorded
    assert tasks["load"].pool == tasks["score"].pool == "tagwatch_warehouse"
    assert dag.catchup is False and dag.max_active_runs == 1


def test_case_followup_shape(dagbag):
    dag = dagbag.get_dag("case_followup")
    assert [t.task_id for t in dag.tasks] == ["deadlines_and_rechecks"]
    assert dag.tasks[0].pool == "tagwatch_warehouse" and dag.catchup is False


def test_school_digests_shape(dagbag):
    dag = dagbag.get_dag("school_digests")
    assert [t.task_id for t in dag.tasks] == ["send_digests"] and dag.max_active_runs == 1


def test_a_real_airflow_run_collects_loads_and_scores(dagbag, settings, replay, monkeypatch):
    for key, value in settings.to_env().items():
        monkeypatch.setenv(key, value)
    from warehouse import queries
    from warehouse.db import session

    with session(settings.db_path) as con:
        queries.watchlist_add(con, "slapateacher", "banned")
        queries.watchlist_add(con, "exposeyourteacher", "flagged")
    dag = dagbag.get_dag("hashtag_monitor")
    dag_run = dag.test(run_conf={"sources": [{"platform": "mastodon", "source": replay.url}]})
    assert str(getattr(dag_run.state, "value", dag_run.state)) == "success"

    sample = load_sample()
    want = {s["uri"] for s in sample
            if {t["name"] for t in s["tags"]} & {"slapateacher", "exposeyourteacher"}}
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        got = {r[0] for r in con.execute("SELECT post_id FROM posts").fetchall()}
        scores = con.execute("SELECT count(*), sum(label::INT) FROM scores").fetchone()
        runs = con.execute("SELECT tag, status FROM collection_runs ORDER BY tag").fetchall()
    assert got == want
    assert scores[0] == len(want) and scores[1] > 0
    assert runs == [("exposeyourteacher", "ok"), ("slapateacher", "ok")]
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        variants = dict(con.execute("SELECT tag, method FROM tag_matches WHERE matched_tag = 'slapateacher'").fetchall())
    assert variants["sl4pateacher"] == "leet" and variants["slap_a_teacher"] == "separator"


def test_backup_shape(dagbag):
    dag = dagbag.get_dag("backup")
    assert [t.task_id for t in dag.tasks] == ["backup_and_rotate"]
    assert dag.tasks[0].pool == "tagwatch_warehouse" and dag.max_active_runs == 1
