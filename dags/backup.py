"""backup: a consistent snapshot of the warehouse and the model registry, the last N kept.

Wiring only; the work is tagwatch.commands.maintenance.backup_and_rotate (the same backup as
`tagwatch backup`). Folders tagwatch-<UTC time> in TAGWATCH_BACKUP_DIR; TAGWATCH_BACKUP_KEEP
(default 4) are kept. The pseudonym key is never in these backups: keep it apart.
Schedule: TAGWATCH_BACKUP_SCHEDULE (default @weekly). In the warehouse pool: the copy
holds the file while it runs, as a load does.
"""
from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from tagwatch.airflow_env import WAREHOUSE_POOL, dag_args


@dag(**dag_args("backup", "TAGWATCH_BACKUP_SCHEDULE"))
def backup():
    @task(pool=WAREHOUSE_POOL, retries=2, retry_delay=timedelta(minutes=15))
    def backup_and_rotate() -> dict:
        from tagwatch.commands.maintenance import backup_and_rotate as run
        from tagwatch.config import Settings

        return run(Settings.from_env())

    backup_and_rotate()


backup()
