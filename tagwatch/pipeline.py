"""The steps of one monitoring run, shared by the Airflow DAG and `tagwatch run`.

    plan (watchlist x sources, with watermarks) -> collect (one task per source x tag,
    staging only) -> load (the single warehouse writer) -> score new posts -> flagged list

Each step takes plain values and returns plain values (JSON-able), so Airflow can
pass them between tasks and the CLI can call them in one process.
"""
from __future__ import annotations

import csv
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from collectors import mastodon
from collectors.http import PoliteClient
from tagwatch.config import Settings
from warehouse import queries
from warehouse.db import session
from warehouse.loader import load_staging, watermarks

log = logging.getLogger(__name__)

# A new platform is one module in collectors/ with a collect_tag() of this shape.
COLLECTORS = {
    mastodon.PLATFORM: mastodon.collect_tag,
}


class CollectionFailed(RuntimeError):
    """One or more sources could not be collected (details are in collection_runs)."""


def new_run_id() -> str:
    return "manual__" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def safe_run_id(run_id: str) -> str:
    """Airflow run ids contain ':' and '+'; staging folder names should not."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)


def plan(settings: Settings, tags: list[str] | None = None,
         targets: list[dict] | None = None) -> list[dict]:
    """Collection targets: every enabled source x every watched tag, with its watermark.

    `targets` (platform, source) and `tags` narrow the plan for an ad-hoc collection.
    """
    with session(settings.db_path) as con:
        marks = watermarks(con)
        watched = [t["tag"] for t in queries.watchlist(con)]
        enabled = [(s["platform"], s["base_url"]) for s in queries.sources(con, enabled_only=True)]
    chosen_tags = [queries.normalise_tag(t) for t in tags] if tags else watched
    chosen_sources = [(t["platform"], t["source"].rstrip("/")) for t in targets] if targets else enabled
    unknown = {p for p, _ in chosen_sources} - set(COLLECTORS)
    if unknown:
        raise ValueError(f"no collector for platform(s) {sorted(unknown)}; known: {sorted(COLLECTORS)}")
    return [
        {"platform": p, "source": src, "tag": tag, "watermark": marks.get((p, src, tag))}
        for p, src in chosen_sources
        for tag in dict.fromkeys(chosen_tags)
    ]


def collect(target: dict, run_id: str, settings: Settings) -> dict:
    """Collect one (source, tag) into staging. Never touches the warehouse."""
    collect_tag = COLLECTORS[target["platform"]]
    with PoliteClient(settings.user_agent, backoff_base=settings.http_backoff,
                      max_retries=settings.http_retries) as client:
        manifest = collect_tag(
            target["source"], target["tag"],
            staging_dir=settings.staging_dir, run_id=safe_run_id(run_id),
            pseudonym_key=settings.pseudonym_key, user_agent=settings.user_agent,
            watermark=target.get("watermark"), client=client,
        )
    return asdict(manifest)


def load(run_id: str | None, settings: Settings) -> dict:
    """Merge a run's staging (or all unloaded staging, run_id None) into the warehouse."""
    with session(settings.db_path) as con:
        report = load_staging(con, settings.staging_dir, safe_run_id(run_id) if run_id else None)
    return asdict(report)


@dataclass
class ScoreReport:
    model_version: str | None = None
    threshold: float | None = None
    scored: int = 0
    flagged: int = 0
    unscorable: int = 0
    note: str | None = None


def score_new(settings: Settings, batch_size: int = 5000) -> dict:
    """Score every post the current model has not scored yet, in batches."""
    from classifiers.model import load as load_model  # scikit-learn is heavy: import on use

    scorer = load_model(settings.models_dir)
    report = ScoreReport(model_version=scorer.version, threshold=scorer.threshold)
    with session(settings.db_path) as con:
        # Each written batch drops out of the next query, so memory stays one batch.
        while batch := queries.unscored_posts(con, scorer.version, batch_size):
            details = scorer.details([text for _, _, text in batch])
            rows = [(p, i, d.score, d.categories, d.explanation)
                    for (p, i, _), d in zip(batch, details)]
            queries.write_scores(con, rows, scorer.version, scorer.threshold)
            report.scored += len(rows)
            report.flagged += sum(1 for r in rows if r[2] == r[2] and r[2] >= scorer.threshold)
            report.unscorable += sum(1 for r in rows if r[2] != r[2])
    return asdict(report)


def flagged_list(settings: Settings, since: str | None = "1d") -> dict:
    """Write the daily flagged list as CSV beside the data; return where and how many."""
    with session(settings.db_path, read_only=True) as con:
        rows = queries.flagged(con, since=queries.parse_since(since))
    out_dir = settings.data_dir / "flagged"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"flagged-{datetime.now(timezone.utc):%Y-%m-%d}.csv"
    write_flagged_csv(rows, path)
    return {"path": str(path), "count": len(rows)}


FLAGGED_COLUMNS = ("score", "platform", "url", "hashtags", "text", "created_at", "first_seen_at",
                   "why", "categories")


def why(row: dict) -> str:
    """A flagged row's explanation (stored as JSON) as one readable line."""
    from classifiers.explain import explanation_text

    raw = row.get("explanation")
    return explanation_text(json.loads(raw) if raw else None)


def write_flagged_csv(rows: list[dict], path_or_file) -> None:
    def emit(fh):
        writer = csv.writer(fh)
        writer.writerow(FLAGGED_COLUMNS)
        for r in rows:
            writer.writerow([
                f"{r['score']:.4f}", r["platform"], r["url"], " ".join(f"#{t}" for t in r["hashtags"] or []),
                r["text"], r["created_at"].isoformat() if r["created_at"] else "",
                r["first_seen_at"].isoformat(), why(r), r.get("categories") or "",
            ])
    if isinstance(path_or_file, (str, Path)):
        tmp = Path(path_or_file).with_suffix(".tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            emit(fh)
        tmp.replace(path_or_file)
    else:
        emit(path_or_file)


@dataclass
class RunSummary:
    run_id: str
    targets: int = 0
    load: dict = field(default_factory=dict)
    score: dict = field(default_factory=dict)
    flagged: dict = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def run(settings: Settings, run_id: str | None = None, tags: list[str] | None = None,
        targets: list[dict] | None = None, score: bool = True) -> RunSummary:
    """All steps in this process, in the DAG's order (for cron users and tests)."""
    run_id = run_id or new_run_id()
    summary = RunSummary(run_id=run_id)
    planned = plan(settings, tags=tags, targets=targets)
    summary.targets = len(planned)
    for target in planned:
        manifest = collect(target, run_id, settings)
        if manifest["status"] == "failed":
            log.warning("collection failed: %s #%s: %s", target["source"], target["tag"], manifest["error"])
    summary.load = load(run_id, settings)
    summary.failures = summary.load["failed"]
    if score:
        summary.score = score_new(settings)
        summary.flagged = flagged_list(settings)
    return summary
