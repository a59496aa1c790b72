"""`tagwatch models list|promote|shadow|compare`: the model registry, and a candidate
measured on live posts (a shadow) before it is promoted."""
from __future__ import annotations

from tagwatch import argtypes


def register(sub, common) -> None:
    p = sub.add_parser("models", parents=[common], help="trained models and which one scores")
    actions = p.add_subparsers(dest="action", required=True)
    ls = actions.add_parser("list", parents=[common], help="every trained model, newest first")
    ls.add_argument("--format", choices=["table", "csv", "json"], default="table")
    ls.set_defaults(func=cmd_models_list)
    pr = actions.add_parser("promote", parents=[common],
                            help="make VERSION the model that scores new posts")
    pr.add_argument("version", metavar="VERSION")
    pr.set_defaults(func=cmd_models_promote)
    sh = actions.add_parser("shadow", parents=[common],
                            help="score new posts with VERSION too, without acting on its scores")
    sh.add_argument("version", metavar="VERSION", nargs="?",
                    help="a model from `tagwatch models list`; none: say which shadow runs")
    sh.add_argument("--stop", action="store_true", help="end the running shadow")
    sh.add_argument("--actor", default=None, help="who starts or stops it (default: your login)")
    sh.set_defaults(func=cmd_models_shadow)
    cp = actions.add_parser("compare", parents=[common],
                            help="the shadow model against the model in use, on reviewed posts")
    cp.add_argument("--limit", type=argtypes.limit, default=20,
                    help="posts listed that the candidate would add or drop, each (default 20)")
    cp.set_defaults(func=cmd_models_compare)


def cmd_models_list(args) -> int:
    from classifiers import registry
    from tagwatch.console import out, settings_from, table
    from warehouse.db import session

    from classifiers import shadow

    settings = settings_from(args)
    with session(settings.db_path) as con:
        rows = registry.list_models(con)
        active = shadow.running(con)
    if not rows:
        out("no models registered: train one with `tagwatch train`")
        return 0
    for r in rows:
        metrics, seed = r["metrics"], r["metrics"].get("by_dataset", {}).get("staff_seed", {})
        r["in_use"] = "*" if r["promoted"] else (
            "shadow" if active and active["model_version"] == r["version"] else "")
        r["roc_auc"], r["pr_auc"], r["brier"] = (metrics.get(k) for k in ("roc_auc", "pr_auc", "brier"))
        r["seed_pr_auc"] = seed.get("pr_auc")
        r["threshold"] = round(r["threshold"], 3)
        r["data"] = " + ".join(f"{d['name']}:{d['rows']}" for d in r["datasets"])
    table(rows, ["in_use", "version", "trained_at", "roc_auc", "pr_auc", "seed_pr_auc", "brier",
                  "threshold", "data", "decision"], args.format)
    return 0


def cmd_models_promote(args) -> int:
    import getpass

    from classifiers import registry
    from tagwatch.console import out, settings_from
    from warehouse.db import session

    from classifiers import shadow

    settings = settings_from(args)
    with session(settings.db_path) as con:
        before = registry.promoted_version(con)
        registry.promote(con, args.version, settings.models_dir,
                         f"promoted by hand by {getpass.getuser()}")
        ended = shadow.stop(con, getpass.getuser(), "promoted", version=args.version)
    out(f"promoted {args.version}" + (f" (was {before})" if before and before != args.version else "")
        + "; new posts are scored with it" + ("; its shadow ended" if ended else ""))
    return 0


def cmd_models_shadow(args) -> int:
    import getpass

    from classifiers import shadow
    from tagwatch.console import UserError, out, settings_from
    from warehouse.db import session

    settings = settings_from(args)
    actor = args.actor or getpass.getuser()
    if args.stop and args.version:
        raise UserError("give VERSION to start a shadow or --stop to end it, not both")
    with session(settings.db_path) as con:
        if args.stop:
            ended = shadow.stop(con, actor)
            if ended is None:
                raise UserError(f"no shadow model is running: {shadow.START}")
            out(f"stopped the shadow model {ended['model_version']} (running since "
                f"{ended['started_at']:%Y-%m-%d %H:%M}); its scores are kept")
        elif args.version:
            started = shadow.start(con, args.version, settings.models_dir, actor)
            out(f"shadow model {started['model_version']}: scores every new post beside "
                f"{started['baseline_version'] or 'the model in use'} from now on; the flagged "
                "list and the queue do not change")
            out(f"measure it: tagwatch models compare   (end it: tagwatch models shadow --stop)")
        else:
            active = shadow.running(con)
            out("no shadow model is running" if active is None else
                f"shadow model {active['model_version']} running since "
                f"{active['started_at']:%Y-%m-%d %H:%M} (started by {active['started_by']})")
    return 0


def cmd_models_compare(args) -> int:
    from classifiers import shadow
    from tagwatch.console import settings_from
    from warehouse.db import session

    settings = settings_from(args)
    with session(settings.db_path) as con:
        result = shadow.compare(con, settings.models_dir, limit=args.limit)
    print_comparison(result)
    return 0


def _share(value: float | None, num: int, den: int) -> str:
    return f"{'-' if value is None else f'{value:.2f}':>4} ({num}/{den})"


def print_comparison(result) -> None:
    """What `tagwatch models compare` prints: the two models' precision and recall on the
    decided posts, then the posts the candidate would add or drop (no handles, escaped)."""
    from tagwatch.console import out

    candidate = result.shadow["model_version"]
    out(f"shadow model {candidate} running since {result.shadow['started_at']:%Y-%m-%d %H:%M}; "
        f"model in use {result.current}")
    out(f"posts reviewers decided since then: {result.decided} (confirmed = abusive, "
        f"dismissed = not)" + (f"; {result.left_out} more left out, not scored by both models "
                               "(first seen before the shadow started)" if result.left_out else ""))
    out(f"{'':10} {'model':26} {'precision':>14} {'recall':>14}")
    for role, m in zip(("in use", "candidate"), result.models):
        out(f"{role:10} {m.version:26} {_share(m.precision, m.tp, m.tp + m.fp):>14} "
            f"{_share(m.recall, m.tp, m.tp + m.fn):>14}")
    _differences("would ADD to the flagged list", result.added, result.added_total)
    _differences("would DROP from the flagged list", result.dropped, result.dropped_total)
    out(f"\npromote the candidate: tagwatch models promote {candidate}   "
        "(this ends the shadow; end it without promoting: tagwatch models shadow --stop)")


def _differences(title: str, rows: list[dict], total: int) -> None:
    from reports.redact import excerpt
    from tagwatch.console import cell, out

    out(f"\nthe candidate {title}: {total} post(s)" + (f", the first {len(rows)}:" if total > len(rows)
                                                        else (":" if rows else "")))
    for r in rows:
        case = f"case {r['case_id']}" if r["case_id"] is not None else "no case"
        out(f"  {case:11} {cell(r['platform'], 10)}:{cell(post_ref(r['post_id']), 30):30} "
            f"in use {_score(r['current_score'])} candidate {_score(r['candidate_score'])} "
            f"{r['decision']:10} {cell(excerpt(r['text'], 80), 82)}")


def post_ref(post_id: str) -> str:
    """A post's id without its author: a Mastodon status URI and a Bluesky at:// URI name
    the account, so of an id that is an address only its last part (the status id, the
    record key) is shown."""
    return post_id.rstrip("/").rsplit("/", 1)[-1] if "://" in post_id else post_id


def _score(value) -> str:
    return " -  " if value is None else f"{value:.2f}"
