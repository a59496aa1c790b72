"""`tagwatch models list` and `tagwatch models promote VERSION`: the model registry."""
from __future__ import annotations


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


def cmd_models_list(args) -> int:
    from classifiers import registry
    from tagwatch.console import out, settings_from, table
    from warehouse.db import session

    settings = settings_from(args)
    with session(settings.db_path) as con:
        rows = registry.list_models(con)
    if not rows:
        out("no models registered: train one with `tagwatch train`")
        return 0
    for r in rows:
        metrics, seed = r["metrics"], r["metrics"].get("by_dataset", {}).get("staff_seed", {})
        r["in_use"] = "*" if r["promoted"] else ""
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

    settings = settings_from(args)
    with session(settings.db_path) as con:
        before = registry.promoted_version(con)
        registry.promote(con, args.version, settings.models_dir,
                         f"promoted by hand by {getpass.getuser()}")
    out(f"promoted {args.version}" + (f" (was {before})" if before and before != args.version else "")
        + "; new posts are scored with it")
    return 0
