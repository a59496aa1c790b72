"""`tagwatch minimise [--older-than 30d] [--dry-run] [--by NAME]`: data minimisation.

URLs and handles are kept only for posts an analyst may act on: posts the model flagged
and posts in a case. For every other scored post first seen longer ago than --older-than
(default TAGWATCH_MINIMISE_DAYS, 30) the URL and raw handle are emptied; the post keeps its
pseudonym, text, hashtags, counts and scores (figures, radar and model need them). The
same stripping step as `tagwatch purge`, recorded in `purges` and `purged_posts`. Run it
daily (cron, or after `tagwatch run`).
"""
from __future__ import annotations

import getpass
from datetime import datetime, timezone


def register(sub, common) -> None:
    p = sub.add_parser("minimise", parents=[common],
                       help="drop URLs and handles of old posts neither flagged nor in a case")
    p.add_argument("--older-than", metavar="PERIOD",
                   help="first seen longer ago than this, e.g. 30d or 4w (default $TAGWATCH_MINIMISE_DAYS days)")
    p.add_argument("--dry-run", action="store_true", help="only count what would be dropped")
    p.add_argument("--by", help="who minimises, for the record (default: your user name)")
    p.set_defaults(func=cmd_minimise)


def cmd_minimise(args) -> int:
    from tagwatch.console import out, settings_from
    from tagwatch.commands.maintenance import parse_days
    from warehouse.db import session
    from warehouse.maintenance import MINIMISED_COLUMNS, minimisation_selection, strip_posts

    settings = settings_from(args)
    cutoff = datetime.now(timezone.utc) - parse_days(args.older_than or f"{settings.minimise_days}d", "the period")
    posts_sql, params = minimisation_selection(cutoff)
    with session(settings.db_path) as con:
        report = strip_posts(con, posts_sql, params, columns=MINIMISED_COLUMNS, dry_run=args.dry_run,
                             reason=f"minimisation: not flagged, in no case, first seen before "
                                    f"{cutoff:%Y-%m-%d %H:%M} UTC", actor=args.by or getpass.getuser())
    verb = "would drop" if args.dry_run else "dropped"
    out(f"{verb} the URL and handle of {report.posts} post(s) first seen before {cutoff:%Y-%m-%d} "
        "that are neither flagged nor in a case" + (f" (recorded as purge {report.purge_id})"
                                                     if report.purge_id else ""))
    return 0
