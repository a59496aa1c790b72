"""`tagwatch tags`: match candidate tags against the watchlist, and the radar's proposals.

    tags match --input FILE        CSV candidate,matched_tag,method (one candidate per line)
    tags proposals [--status ...]  new tags the radar proposes (co-occurrence with abuse)
    tags accept TAG [--status]     put a proposal on the watchlist: collected from the next run
    tags reject TAG                never propose it again
    tags refresh                   match newly seen tags, mine proposals (the DAG does this)
"""
from __future__ import annotations

import getpass
import sys

from common.csvout import SafeWriter
from tagwatch import argtypes
from tagwatch.console import cell, terminal_safe

MAX_INPUT_LINES = 1_000_000


def register(sub, common) -> None:
    p = sub.add_parser("tags", parents=[common], help="variant matching and the radar's proposed tags")
    t = p.add_subparsers(dest="action", required=True)
    m = t.add_parser("match", parents=[common], help="match candidate tags (one per line) against the watchlist")
    m.add_argument("--input", required=True, metavar="FILE", help="one candidate per line; - for stdin")
    m.set_defaults(func=cmd_match)
    pr = t.add_parser("proposals", parents=[common], help="new tags proposed from co-occurrence")
    pr.add_argument("--status", choices=["proposed", "accepted", "rejected", "all"], default="proposed")
    pr.add_argument("--format", choices=["table", "csv", "json"], default="table")
    pr.add_argument("--limit", type=argtypes.limit)
    pr.set_defaults(func=cmd_proposals)
    a = t.add_parser("accept", parents=[common], help="watch a proposed tag (collected from the next run)")
    a.add_argument("tag", metavar="TAG")
    a.add_argument("--status", choices=["watch", "flagged"], default="watch")
    a.add_argument("--by", default=None, help="who decided (default: your user name)")
    a.set_defaults(func=cmd_decide, accept=True)
    r = t.add_parser("reject", parents=[common], help="never propose this tag again")
    r.add_argument("tag", metavar="TAG")
    r.add_argument("--by", default=None, help="who decided (default: your user name)")
    r.set_defaults(func=cmd_decide, accept=False, status="watch")
    f = t.add_parser("refresh", parents=[common], help="match newly seen tags and mine proposals")
    f.set_defaults(func=cmd_refresh)


def read_candidates(path: str) -> list[str]:
    """Candidates, one per line, blank lines skipped; a clear error for what cannot be read
    (ValueError: cli.main prints it, whether run as `tagwatch` or `python -m tagwatch.cli`)."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > MAX_INPUT_LINES:
        raise ValueError(f"{path} has {len(lines)} lines; at most {MAX_INPUT_LINES} at a time")
    return lines


def cmd_match(args) -> int:
    from tagwatch.console import settings_from
    from warehouse.db import session
    from warehouse.resurfacing import match_tags

    candidates = read_candidates(args.input)
    with session(settings_from(args).db_path) as con:
        found = match_tags(con, candidates)
    # Data for a file is written as it came; on a terminal, control characters are escaped.
    show = terminal_safe if sys.stdout.isatty() else str
    writer = SafeWriter(sys.stdout)
    writer.writerow(["candidate", "matched_tag", "method"])
    for m in found:
        writer.writerow([show(m.candidate), m.tag or "", m.method])
    return 0


def cmd_proposals(args) -> int:
    from tagwatch.console import settings_from, table
    from warehouse.db import session
    from warehouse.resurfacing import proposals

    with session(settings_from(args).db_path) as con:
        rows = proposals(con, None if args.status == "all" else args.status, limit=args.limit)
    if not rows and args.format == "table":
        print("nothing proposed" if args.status == "proposed" else f"no proposals ({args.status})")
        return 0
    table(rows, ["tag", "spelling", "status", "posts", "support", "lift", "previous_posts",
                  "decided_by"], args.format)
    return 0


def cmd_decide(args) -> int:
    from tagwatch.console import settings_from
    from warehouse.db import session
    from warehouse.resurfacing import decide

    by = args.by or getpass.getuser()
    with session(settings_from(args).db_path) as con:
        result = decide(con, args.tag, accept=args.accept, by=by, status=args.status)
    if args.accept:
        print(cell(f"accepted #{result['tag']}: watching #{result['spelling']} ({args.status}) "
                   "from the next run", 200))
    else:
        print(cell(f"rejected #{result['tag']}: it will not be proposed again", 200))
    return 0


def cmd_refresh(args) -> int:
    from tagwatch.console import settings_from
    from warehouse.db import session
    from warehouse.resurfacing import refresh

    with session(settings_from(args).db_path) as con:
        result = refresh(con)
    print(f"matched {result['matched']} newly seen tag(s); {result['proposals']} tag(s) proposed or updated")
    return 0
