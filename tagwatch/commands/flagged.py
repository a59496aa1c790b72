"""`tagwatch flagged`: the daily list of posts the model flags, with why."""
from __future__ import annotations

import sys

from tagwatch import argtypes, pipeline
from tagwatch.console import out, settings_from, table
from warehouse import queries
from warehouse.db import session


def register(sub, common) -> None:
    p = sub.add_parser("flagged", parents=[common], help="the flagged posts")
    p.add_argument("--since", default="1d", help="first seen within this period: 30m, 12h, 1d, 2w, all")
    p.add_argument("--format", choices=["table", "csv"], default="table")
    p.add_argument("--limit", type=argtypes.limit)
    p.set_defaults(func=cmd_flagged)


def cmd_flagged(args) -> int:
    settings = settings_from(args)
    since = queries.parse_since(args.since)
    with session(settings.db_path, read_only=True) as con:
        rows = queries.flagged(con, since=since, limit=args.limit)
    if args.format == "csv":
        pipeline.write_flagged_csv(rows, sys.stdout)
        return 0
    if not rows:
        out(f"no flagged posts first seen since {args.since}" if since else "no flagged posts")
        return 0
    for r in rows:
        r["tags"] = " ".join(f"#{t}" for t in r["hashtags"] or [])
        r["score"] = f"{r['score']:.2f}"
        r["staff_target"] = "" if r["staff_target"] is None else f"{r['staff_target']:.2f}"
        r["why"] = pipeline.why(r)
    table(rows, ["score", "staff_target", "platform", "url", "tags", "text", "why"], "table")
    return 0
