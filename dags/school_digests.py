"""school_digests: email each school contact what changed on their school's reports.

Wiring only; the work is review.schools.send_digests (also `tagwatch intake notify`).
At most one digest a day per school (recorded in school_digests): running more often only
sends sooner after a first change. Email through the Airflow Connection smtp_default, as
the education report. Schedule: TAGWATCH_DIGEST_SCHEDULE (default 16:00 UTC daily).
"""
from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from tagwatch.airflow_env import WAREHOUSE_POOL, dag_args


@dag(**dag_args("school_digests", "TAGWATCH_DIGEST_SCHEDULE"))
def school_digests():
    @task(pool=WAREHOUSE_POOL, retries=3, retry_delay=timedelta(minutes=10))
    def send_digests() -> list[dict]:
        from review.schools import send_digests as send
        from tagwatch.config import Settings

        settings = Settings.from_env()
        return send(settings.db_path, sender=settings.report_from)

    send_digests()


school_digests()
