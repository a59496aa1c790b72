"""`tagwatch staging`: the staging files collectors write and the loader merges.

    staging prune [--older-than 30d] [--dry-run]   remove tasks the warehouse already holds
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tagwatch.config import Settings
from warehouse import queries
from warehouse.db import WarehouseError, session


def register(sub, common) -> None:
    p = sub.add_parser("staging", parents=[common], help="staging files (operator)")
    s = p.add_subparsers(dest="action", required=True)
    pr = s.add_parser("prune", parents=[common],
                      help="remove staging tasks loaded into the warehouse before a period")
    pr.add_argument("--older-than", default="30d", metavar="PERIOD",
                    help="loaded at least this long ago: 12h, 7d, 2w (default 30d)")
    pr.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    pr.set_defaults(func=cmd_prune)


def cmd_prune(args) -> int:
    from warehouse.loader import prune_staging

    settings = Settings.from_env(db_path=args.db)
    if args.older_than.strip().lower() == "all":
        cutoff = datetime.now(timezone.utc) + timedelta(seconds=1)
    else:
        cutoff = queries.parse_since(args.older_than)
    if not settings.staging_dir.is_dir():
        raise WarehouseError(f"no staging directory at {settings.staging_dir}")
    with session(settings.db_path, read_only=True) as con:
        report = prune_staging(con, settings.staging_dir, cutoff, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    print(f"{verb} {len(report.removed)} loaded staging task(s), "
          f"{report.freed_bytes / 1e6:.1f} MB; kept {report.kept_recent} loaded within "
          f"{args.older_than} and {report.kept_unloaded} not loaded (or changed since)")
    return 0
