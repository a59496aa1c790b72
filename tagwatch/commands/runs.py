"""`tagwatch collect`, `run` and `load`: monitoring runs in this process (what the DAG does)."""
from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager

from collectors import platforms
from tagwatch import pipeline
from tagwatch.commands.watchlist import check_platform
from tagwatch.config import Settings
from tagwatch.console import err, out, settings_from
from tagwatch.progress import progress
from tagwatch.training import ensure_model
from warehouse import queries
from warehouse.db import session


def register(sub, common) -> None:
    p = sub.add_parser("collect", parents=[common], help="collect tags from one source, load and score")
    p.add_argument("--platform", required=True, help=", ".join(platforms.names()))
    p.add_argument("--base-url", required=True,
                   help="e.g. https://mastodon.social, https://bsky.social, https://open.tiktokapis.com")
    p.add_argument("--tag", action="append", required=True, help="repeat for several tags")
    p.add_argument("--since", metavar="DATE",
                   help="backfill from this date (YYYY-MM-DD) instead of the last position")
    p.add_argument("--no-score", action="store_true", help="collect and load only")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("run", parents=[common], help="one monitoring run over the watchlist and sources")
    p.add_argument("--run-id")
    p.add_argument("--tag", action="append", help="only these tags (default: the watchlist)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("load", parents=[common], help="load staging files not loaded yet")
    p.add_argument("--run-id", help="only this run's staging")
    p.set_defaults(func=cmd_load)


def cmd_collect(args) -> int:
    """Collect the given tags from one source, load and score them."""
    settings = settings_from(args)
    check_platform(args.platform)
    tags = [queries.normalise_tag(t) for t in args.tag]
    if not args.no_score:
        ensure_model(settings)
    if args.since is not None:
        from collectors.base import parse_since_date

        args.since = parse_since_date(args.since).isoformat()  # a bad date stops here, nothing written
    targets = [{"platform": args.platform, "source": args.base_url}]
    with _resumable_run(settings, ["collect", args.platform, args.base_url, tags, args.since,
                                   args.no_score]) as run_id:
        summary = pipeline.run(settings, run_id=run_id, tags=tags, targets=targets,
                               score=not args.no_score, since=args.since, progress=_collecting)
    print_run(summary, settings)
    return 1 if summary.failures else 0


def _collecting(total: int):
    return progress("collecting", total=total, unit="tags")


@contextmanager
def _resumable_run(settings: Settings, command: list, run_id: str | None = None):
    """The run id for this command: the one an identical command was using when it was
    killed (so the rerun finishes that run: its staged tasks are not fetched again and
    collection_runs gets no second run), else a new one. Forgotten once the run ends."""
    from collectors.base import locked_state

    key = hashlib.sha256(json.dumps(command, default=str).encode()).hexdigest()[:16]
    journal = (settings.state_dir or settings.data_dir / "state") / "unfinished-runs.json"
    with locked_state(journal) as state:
        if run_id is None and state.get(key):
            run_id = state[key]
            err(f"continuing the interrupted run {run_id}")
        run_id = run_id or pipeline.new_run_id()
        state[key] = run_id
    yield run_id
    with locked_state(journal) as state:
        state.pop(key, None)


def cmd_run(args) -> int:
    """Every enabled source x every watched tag, in this process (what the DAG does)."""
    settings = settings_from(args)
    ensure_model(settings)
    with _resumable_run(settings, ["run", args.tag], args.run_id) as run_id:
        summary = pipeline.run(settings, run_id=run_id, tags=args.tag or None, progress=_collecting)
    if summary.targets == 0:
        err("nothing to collect: add tags (tagwatch watchlist add TAG) and sources "
            "(tagwatch sources add --platform mastodon --base-url URL)")
    print_run(summary, settings)
    return 1 if summary.failures else 0


def cmd_load(args) -> int:
    settings = settings_from(args)
    report = pipeline.load(args.run_id, settings)
    out(f"loaded {report['files']} staging file(s): {report['received']} rows, "
        f"{report['new_posts']} new posts ({report['skipped']} already loaded)")
    return 0


def print_run(summary: pipeline.RunSummary, settings: Settings) -> None:
    with session(settings.db_path, read_only=True) as con:
        counts = queries.summary(con, pipeline.safe_run_id(summary.run_id))
    out(f"run {summary.run_id}")
    for row in counts["per_tag"]:
        out(f"  {row['platform']:9} {row['source']:40} #{row['tag']:24} "
            f"received {row['received'] or 0:6}  new {row['new'] or 0:6}  {row['status']}")
    score = summary.score or {}
    if score:
        out(f"scored {score['scored']} new post(s) with model {score['model_version']}: "
            f"{score['flagged']} flagged (threshold {score['threshold']:.2f})"
            + (f", {score['unscorable']} could not be scored" if score["unscorable"] else ""))
        if score.get("shadow_model"):
            out(f"shadow model {score['shadow_model']}: scored {score['shadow_scored']} of them too, "
                "not acted on (tagwatch models compare)")
        if score.get("note"):
            err(score["note"])
    out(f"warehouse: {settings.db_path} ({counts['posts']} posts in all)")
    if summary.flagged:
        out(f"flagged list: {summary.flagged['path']} ({summary.flagged['count']} post(s) first seen today)")
    for failure in summary.failures:
        err(f"collection failed: {failure}")
    for stopped in summary.stopped:
        err(f"collection stopped (continues next run): {stopped}")
