"""case_followup: the 48 h no-answer deadline and the due re-checks of reported posts.

Wiring only; the work is review.rechecks.run (also `tagwatch case recheck`).
Re-checks fall due at +1 h, +24 h, +48 h, +7 d, +30 d after each report and answer,
so an hourly run catches each within the hour.
"""
from __future__ import annotations

from airflow.sdk import dag, task

from tagwatch.airflow_env import WAREHOUSE_POOL, dag_args


@dag(**dag_args("case_followup", "TAGWATCH_FOLLOWUP_SCHEDULE"))
def case_followup():
    @task(pool=WAREHOUSE_POOL)  # writes the DuckDB file in short sessions, between network calls
    def deadlines_and_rechecks() -> dict:
        from review.rechecks import run
        from tagwatch.pipeline import collect_options
        from tagwatch.config import Settings

        settings = Settings.from_env()
        with settings.http_client(interactive=True) as client:
            result = run(settings.db_path, client, options=collect_options(settings))
        return {"no_response": result["no_response"],
                "rechecked": [{k: r[k] for k in ("case_id", "outcome", "moved_to")}
                              for r in result["rechecked"]]}

    deadlines_and_rechecks()


case_followup()
