"""hashtag_monitor: watched hashtags -> staged posts -> warehouse -> scores -> comments of
flagged TikTok videos (collected, loaded, scored) -> flagged list (and the resurfacing radar
refreshed after scoring).

This file only wires tasks; the steps live in tagwatch.pipeline. Trigger with
conf {"tags": [...], "sources": [{"platform": "mastodon", "source": URL}]} to
narrow a run; by default it covers the whole watchlist and every enabled source.
Each platform's collect tasks run in that platform's pool (tagwatch_<platform>,
from collectors.platforms, created by `tagwatch airflow pools --set` in `make airflow-setup`), so its rate limits hold however many run.
"""
from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, get_current_context, task

from collectors.platforms import PLATFORMS as REGISTRY
from tagwatch import pipeline
from tagwatch.airflow_env import WAREHOUSE_POOL, dag_args, platform_credentials
from tagwatch.config import Settings

PLATFORMS = tuple(sorted(REGISTRY))


def collect_task(platform: str):
    @task(task_id=f"collect_{platform}", pool=REGISTRY[platform].pool,
          map_index_template="{{ collect_label }}", max_active_tis_per_dag=4)
    def collect(target: dict, run_id=None) -> dict:
        get_current_context()["collect_label"] = f"{target['source']} #{target['tag']}"
        manifest = pipeline.collect(target, run_id, Settings.from_env(),
                                    credentials=platform_credentials(platform))
        if manifest["status"] == "failed":
            # Staged and recorded all the same; failing makes Airflow retry (from the
            # checkpoint) and show it.
            raise pipeline.CollectionFailed(manifest["error"])
        return {k: manifest[k] for k in ("source", "tag", "status", "received", "pages")}
    return collect


@dag(**dag_args(
    "hashtag_monitor", "TAGWATCH_SCHEDULE",
    params={"tags": [], "sources": []},
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30),
                  "retry_exponential_backoff": 2.0, "max_retry_delay": timedelta(minutes=10)},
))
def hashtag_monitor():
    @task
    def plan_targets(params=None) -> list[dict]:
        return pipeline.plan(Settings.from_env(), tags=params.get("tags") or None,
                             targets=params.get("sources") or None)

    @task
    def targets_of(planned: list[dict], platform: str) -> list[dict]:
        return [t for t in planned if t["platform"] == platform]

    @task(trigger_rule="all_done", pool=WAREHOUSE_POOL)
    def load(run_id=None) -> dict:
        return pipeline.load(run_id, Settings.from_env())

    @task(pool=WAREHOUSE_POOL)
    def score(loaded: dict) -> dict:
        return pipeline.score_new(Settings.from_env())

    # Asks TikTok (the daily budget is shared through a locked state file) and then loads
    # and scores what came back, so it takes the warehouse pool.
    @task(pool=WAREHOUSE_POOL)
    def tiktok_comments(scored: dict, run_id=None) -> dict:
        return pipeline.tiktok_comments(Settings.from_env(), run_id,
                                        credentials=platform_credentials("tiktok"))

    @task(pool=WAREHOUSE_POOL)
    def radar(scored: dict) -> dict:
        return pipeline.refresh_radar(Settings.from_env())

    @task(retries=0)
    def flagged_list(scored: dict, loaded: dict) -> dict:
        result = pipeline.flagged_list(Settings.from_env())
        if loaded["failed"]:
            raise pipeline.CollectionFailed("; ".join(loaded["failed"]))
        return result

    planned = plan_targets()
    loaded = load()
    for platform in PLATFORMS:
        mine = targets_of.override(task_id=f"targets_{platform}")(planned, platform)
        collect_task(platform).expand(target=mine) >> loaded
    scored = tiktok_comments(score(loaded))
    # The list is read after the radar has written, so they never contend for the file.
    radar(scored) >> flagged_list(scored, loaded)


hashtag_monitor()
