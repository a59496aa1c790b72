"""The steps of one monitoring run, shared by the Airflow DAG and `tagwatch run`.

    plan (watchlist x sources, with watermarks) -> collect (one task per source x tag,
    staging only) -> load (the single warehouse writer) -> score new posts -> flagged list

Each step takes plain values and returns plain values (JSON-able), so Airflow can
pass them between tasks and the CLI can call them in one process.
"""
from __future__ import annotations

import json
from contextlib import nullcontext
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import os
from typing import Mapping

from common.csvout import SafeWriter
from collectors import platforms, tiktok
from collectors.base import CollectOptions, MissingCredential
from collectors.crashpoints import crashpoint
from collectors.staging import finished_task, new_run_id, safe_run_id, sweep_orphans
from review import journal
from review.cases import open_flagged
from tagwatch.config import Settings
from warehouse import queries
from warehouse.db import session
from warehouse.loader import checkpoints, load_staging, watermarks

log = logging.getLogger(__name__)



class CollectionFailed(RuntimeError):
    """One or more sources could not be collected (details are in collection_runs)."""


def plan(settings: Settings, tags: list[str] | None = None,
         targets: list[dict] | None = None) -> list[dict]:
    """Collection targets: every enabled source x every watched tag, with its watermark.

    `targets` (platform, source) and `tags` narrow the plan for an ad-hoc collection.
    """
    with session(settings.db_path) as con:
        marks = watermarks(con)
        resume = checkpoints(con)
        watched = [t["tag"] for t in queries.watchlist(con)]
        enabled = [(s["platform"], s["base_url"]) for s in queries.sources(con, enabled_only=True)]
    chosen_tags = [queries.normalise_tag(t) for t in tags] if tags else watched
    chosen_sources = [(t["platform"], t["source"].rstrip("/")) for t in targets] if targets else enabled
    unknown = {p for p, _ in chosen_sources} - set(platforms.PLATFORMS)
    if unknown:
        raise ValueError(f"no collector for platform(s) {sorted(unknown)}; known: {platforms.names()}")
    return [
        {"platform": p, "source": src, "tag": tag, "watermark": marks.get((p, src, tag)),
         "checkpoint": resume.get((p, src, tag))}
        for p, src in chosen_sources
        for tag in dict.fromkeys(chosen_tags)
    ]


def check_credentials(names, credentials: Mapping[str, str] | None = None) -> None:
    """Refuse to start when a platform's credential is missing, naming every variable to set."""
    credentials = os.environ if credentials is None else credentials
    missing = [name for platform in dict.fromkeys(names)
               for name in platforms.get(platform).credentials
               if not (credentials.get(name) or "").strip()]
    if missing:
        raise MissingCredential("missing credential(s): set " + ", ".join(missing)
                                + " (environment variables, or the Airflow Connection per platform)")


def collect_options(settings: Settings, credentials: Mapping[str, str] | None = None) -> CollectOptions:
    """The collectors' options from the settings; credentials from the environment unless given."""
    return CollectOptions(
        credentials=os.environ if credentials is None else credentials,
        state_dir=settings.state_dir, store_handles=settings.store_handles,
        first_run_days=settings.first_run_days, tiktok_daily_requests=settings.tiktok_daily_requests,
        tiktok_region=settings.tiktok_region, web_min_interval=settings.web_min_interval,
    )


def collect(target: dict, run_id: str, settings: Settings,
            credentials: Mapping[str, str] | None = None) -> dict:
    """Collect one (source, tag) into staging. Never touches the warehouse.

    `target` may carry `since` (a backfill date), a `watermark` and a `checkpoint`.
    """
    collect_tag = platforms.get(target["platform"]).collect
    # The operator's source may be contacted even on an internal address (a local instance);
    # anything it points elsewhere is checked by the client's outbound policy.
    with settings.http_client(configured=(target["source"],)) as client:
        manifest = collect_tag(
            target["source"], target["tag"],
            staging_dir=settings.staging_dir, run_id=safe_run_id(run_id),
            pseudonym_key=settings.pseudonym_key, user_agent=settings.user_agent,
            watermark=target.get("watermark"), since=target.get("since"),
            checkpoint=target.get("checkpoint"), client=client,
            options=collect_options(settings, credentials),
        )
    return asdict(manifest)


def load(run_id: str | None, settings: Settings, before_commit=None) -> dict:
    """Merge a run's staging (or all unloaded staging, run_id None) into the warehouse.

    `before_commit` is called inside the load's transaction just before it commits.
    What killed tasks left in staging (data without a manifest) is swept away first."""
    sweep_orphans(settings.staging_dir)
    with session(settings.db_path) as con:
        report = load_staging(con, settings.staging_dir, safe_run_id(run_id) if run_id else None,
                              before_commit=before_commit)
        journal.apply_pending(con, settings.db_path)  # decisions sent while this ran
    return asdict(report)


@dataclass
class ScoreReport:
    model_version: str | None = None
    threshold: float | None = None
    scored: int = 0
    flagged: int = 0
    unscorable: int = 0
    cases_opened: int = 0
    note: str | None = None
    shadow_model: str | None = None   # a candidate scoring beside the model (tagwatch models shadow)
    shadow_scored: int = 0


def score_new(settings: Settings, batch_size: int = 5000, with_cases: bool = True) -> dict:
    """Score every post the current model has not scored yet, in batches; then (unless
    `with_cases` is false) open a review case for every flagged post."""
    from classifiers.store import load as load_model  # scikit-learn is heavy: import on use

    scorer = load_model(settings.models_dir)
    report = ScoreReport(model_version=scorer.version, threshold=scorer.threshold)
    with session(settings.db_path) as con:
        shadow = shadow_scorer(con, settings, report)
        for batch in queries.unscored_batches(con, scorer.version, batch_size):  # one at a time
            details = scorer.details([text for _, _, text in batch])
            rows = [(p, i, d.score, d.categories, d.explanation, d.staff_target)
                    for (p, i, _), d in zip(batch, details)]
            queries.write_scores(con, rows, scorer.version, scorer.threshold)
            if shadow is not None:
                report.shadow_scored += score_shadow(con, shadow, batch)
            crashpoint("score.batch")
            report.scored += len(rows)
            report.flagged += sum(1 for r in rows if r[2] == r[2] and r[2] >= scorer.threshold)
            report.unscorable += sum(1 for r in rows if r[2] != r[2])
        journal.apply_pending(con, settings.db_path)
    if with_cases:
        report.cases_opened = open_cases(settings)
    return asdict(report)


def shadow_scorer(con, settings: Settings, report: ScoreReport):
    """The running shadow model's scorer, or None. One that cannot be loaded (removed,
    tampered with) is noted in the report and skipped: it never stops the real scoring."""
    from classifiers import shadow
    from classifiers.errors import ModelIntegrityError, ModelNotFound
    from classifiers.store import load as load_model

    active = shadow.running(con)
    if active is None:
        return None
    report.shadow_model = active["model_version"]
    try:
        return load_model(settings.models_dir, active["model_version"])
    except (ModelNotFound, ModelIntegrityError) as exc:
        report.note = f"the shadow model {active['model_version']} was not loaded: {exc}"
        log.warning("%s", report.note)
        return None


def score_shadow(con, scorer, batch: list[tuple]) -> int:
    """Score a batch of (platform, post_id, text) with the shadow model, apart from `scores`
    (classifiers.shadow): the flagged list, the cases and the queue never see it."""
    from classifiers import shadow

    todo = shadow.not_scored(con, scorer.version, [(p, i) for p, i, _ in batch])
    details = scorer.details([batch[k][2] for k in todo], explain=False)
    rows = [(batch[k][0], batch[k][1], d.score, d.staff_target) for k, d in zip(todo, details)]
    return shadow.write_scores(con, rows, scorer.version, scorer.threshold)


def open_cases(settings: Settings) -> int:
    """Open a review case for every flagged post that has none; returns how many."""
    with session(settings.db_path) as con:
        opened = open_flagged(con)
        journal.apply_pending(con, settings.db_path)
    return opened


def score_if_trained(settings: Settings) -> dict | None:
    """`score_new`, or None while no model is trained yet: the next run scores what came in
    (intake hands this to review.intake and review.schools)."""
    from classifiers.errors import ModelNotFound

    try:
        return score_new(settings)
    except ModelNotFound:
        return None


def tiktok_comments(settings: Settings, run_id: str,
                    credentials: Mapping[str, str] | None = None) -> dict:
    """Fetch the comments of flagged TikTok videos, then load and score them (after `score_new`).

    Which videos: TikTok videos (not comments) the current model flagged whose comments
    were never fetched from that source, worst first, at most
    TAGWATCH_TIKTOK_COMMENT_VIDEOS per run (each video costs at least one request of
    the daily budget). Comments are fetched once per video.
    """
    report: dict = {"videos": 0, "comments": 0, "stopped": [], "failures": []}
    if settings.tiktok_comment_videos <= 0:
        return report
    with session(settings.db_path, read_only=True) as con:
        chosen = queries.videos_needing_comments(con, tiktok.PLATFORM, settings.tiktok_comment_videos)
    if not chosen:
        return report
    check_credentials([tiktok.PLATFORM], credentials)
    by_source: dict[str, list[dict]] = {}
    for video in chosen:
        by_source.setdefault(video["source"], []).append(video)
    with settings.http_client() as client:
        for source, videos in by_source.items():
            manifest = tiktok.collect_comments(
                source, videos, staging_dir=settings.staging_dir, run_id=safe_run_id(run_id),
                pseudonym_key=settings.pseudonym_key, user_agent=settings.user_agent,
                client=client, options=collect_options(settings, credentials))
            report["videos"] += len(manifest.extra.get("comment_fetches") or [])
            if manifest.status == "quota":
                report["stopped"].append(f"{source} comments: {manifest.error}")
            elif manifest.status == "failed":
                report["failures"].append(f"{source} comments: {manifest.error}")
    report["load"] = load(run_id, settings)
    report["comments"] = report["load"]["new_posts"]
    report["score"] = score_new(settings)
    return report


def refresh_radar(settings: Settings) -> dict:
    """Match newly seen tags against the watchlist and mine proposals (the resurfacing radar)."""
    from warehouse.resurfacing import refresh

    with session(settings.db_path) as con:
        result = refresh(con)
        journal.apply_pending(con, settings.db_path)
    return result


def flagged_list(settings: Settings, since: str | None = "1d") -> dict:
    """Write the daily flagged list as CSV beside the data; return where and how many."""
    with session(settings.db_path, read_only=True) as con:
        rows = queries.flagged(con, since=queries.parse_since(since))
    out_dir = settings.data_dir / "flagged"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"flagged-{datetime.now(timezone.utc):%Y-%m-%d}.csv"
    write_flagged_csv(rows, path)
    return {"path": str(path), "count": len(rows)}


FLAGGED_COLUMNS = ("score", "staff_target", "platform", "url", "hashtags", "text", "created_at",
                   "first_seen_at", "why", "categories")


def why(row: dict) -> str:
    """A flagged row's explanation (stored as JSON) as one readable line."""
    from classifiers.explain import explanation_text

    raw = row.get("explanation")
    return explanation_text(json.loads(raw) if raw else None)


def _decimal(value) -> str:
    return "" if value is None else f"{value:.4f}"


def write_flagged_csv(rows: list[dict], path_or_file) -> None:
    def emit(fh):
        writer = SafeWriter(fh, lineterminator="\r\n")
        writer.writerow(FLAGGED_COLUMNS)
        for r in rows:
            writer.writerow([
                f"{r['score']:.4f}", _decimal(r.get("staff_target")), r["platform"], r["url"],
                " ".join(f"#{t}" for t in r["hashtags"] or []),
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
    radar: dict = field(default_factory=dict)
    comments: dict = field(default_factory=dict)   # TikTok comments of flagged videos
    failures: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)   # quota reached: continues next run


def _collect_once(target: dict, run_id: str, settings: Settings, since: str | None) -> None:
    """Collect one target of a run, unless this run staged it before it was interrupted."""
    if since is not None:
        target["since"] = since
    if finished_task(settings.staging_dir, safe_run_id(run_id), target["platform"],
                     target["source"], target["tag"]):
        return
    manifest = collect(target, run_id, settings)
    if manifest["status"] == "failed":
        log.warning("collection failed: %s #%s: %s", target["source"], target["tag"], manifest["error"])


def run(settings: Settings, run_id: str | None = None, tags: list[str] | None = None,
        targets: list[dict] | None = None, score: bool = True, since: str | None = None,
        progress=None) -> RunSummary:
    """All steps in this process, in the DAG's order (for cron users and tests).

    `since` (a date) backfills every target from that date instead of its watermark.
    `progress(total)` may give a context manager yielding `advance(n)`, called per target.
    """
    run_id = run_id or new_run_id()
    summary = RunSummary(run_id=run_id)
    planned = plan(settings, tags=tags, targets=targets)
    check_credentials(t["platform"] for t in planned)
    summary.targets = len(planned)
    with (progress(len(planned)) if progress else nullcontext(lambda n=1: None)) as advance:
        for target in planned:
            _collect_once(target, run_id, settings, since)
            advance(1)
    summary.load = load(run_id, settings)
    crashpoint("run.loaded")
    summary.failures = summary.load["failed"]
    summary.stopped = summary.load.get("stopped", [])
    if score:
        summary.score = score_new(settings)
        summary.comments = tiktok_comments(settings, run_id)
        summary.failures += summary.comments["failures"]
        summary.stopped += summary.comments["stopped"]
        summary.radar = refresh_radar(settings)
        summary.flagged = flagged_list(settings)
    return summary
