"""education_report: the education team's report, built and emailed on a schedule.

Wiring only; the work is reports.build and reports.send (also `tagwatch report --send`).
Weekly by default (TAGWATCH_REPORT_SCHEDULE); recipients from TAGWATCH_REPORT_TO or the
run's conf {"to": [...]}; email through the Airflow Connection smtp_default. Every report
it sends is kept in $TAGWATCH_REPORTS_DIR/<last day covered>/ with sent.json beside it.
"""
from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from tagwatch.airflow_env import dag_args


@dag(**dag_args("education_report", "TAGWATCH_REPORT_SCHEDULE",
                params={"to": [], "period": None, "excerpts": None}))
def education_report():
    @task
    def build_report(params=None, logical_date=None) -> dict:
        from reports import build as rb
        from tagwatch.config import Settings

        settings = Settings.from_env()
        end = logical_date or pendulum.now("UTC")
        excerpts = settings.report_excerpts if params.get("excerpts") is None else bool(params["excerpts"])
        return rb.build(settings.db_path, params.get("period") or settings.report_period,
                        rb.dated_folder(settings.reports_dir, end), end=end, excerpts=excerpts)

    @task(retries=3, retry_delay=timedelta(minutes=5))
    def send_report(built: dict, params=None) -> dict:
        from reports import send as rs
        from tagwatch.config import Settings

        settings = Settings.from_env()
        return rs.send(built["dir"], params.get("to") or settings.report_to, settings.report_from)

    send_report(build_report())


education_report()
