"""The education_report DAG: it imports, has its shape, takes its schedule from the
environment, and a real Airflow run (dag.test()) builds the report and emails it."""
from __future__ import annotations

import email
import os
from email import policy

import pytest

import reportkit
from smtpkit import smtp_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.airflow  # Airflow metadata database and dag.test()


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    db.resetdb()
    return DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


def test_education_report_imports_and_has_its_shape(dagbag):
    assert dagbag.import_errors == {}
    dag = dagbag.get_dag("education_report")
    tasks = {t.task_id: t for t in dag.tasks}
    assert set(tasks) == {"build_report", "send_report"}
    assert tasks["build_report"].downstream_task_ids == {"send_report"}
    assert tasks["send_report"].retries == 3
    assert dag.catchup is False and dag.max_active_runs == 1
    assert dag.timetable.expression == "0 0 * * 0"  # @weekly


def test_the_schedule_is_configurable(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("TAGWATCH_REPORT_SCHEDULE", "0 7 * * 1")
    bag = DagBag(dag_folder=os.path.join(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], "education_report.py"))
    assert bag.import_errors == {}
    assert bag.get_dag("education_report").timetable.expression == "0 7 * * 1"


def test_a_real_airflow_run_builds_sends_and_keeps_the_report(dagbag, settings, smtp_server,  # noqa: F811
                                                             tmp_path, monkeypatch):
    reportkit.build(settings)
    for key, value in settings.to_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_server.url)
    monkeypatch.setenv("TAGWATCH_REPORT_TO", "union@example.org")
    monkeypatch.setenv("TAGWATCH_REPORTS_DIR", str(tmp_path / "sent"))
    dag = dagbag.get_dag("education_report")
    run = dag.test(logical_date=reportkit.END)
    assert str(getattr(run.state, "value", run.state)) == "success"
    assert len(smtp_server.messages) == 1 and smtp_server.messages[0].rcpt_tos == ["union@example.org"]
    message = email.message_from_bytes(smtp_server.messages[0].content, policy=policy.default)
    assert message["Subject"] == "tagwatch report: Mon 2 Mar 2026 to Sun 8 Mar 2026"
    names = {p.get_filename() for p in message.walk() if p.get_filename()}
    assert {"report.pdf", "summary.csv"} <= names
    kept = tmp_path / "sent" / "2026-03-08"
    assert (kept / "sent.json").exists() and (kept / "report.pdf").exists()
