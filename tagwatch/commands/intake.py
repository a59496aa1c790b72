"""`tagwatch intake ...`: the school intake from the command line.

`tagwatch intake notify` sends each school contact the digest of what changed on their
school's reports (at most one email a day per school) through the Airflow connection
smtp_default, like the education report (outside Airflow: AIRFLOW_CONN_SMTP_DEFAULT).
`tagwatch intake unfetched` lists submissions recorded without fetching their URL.
"""
from __future__ import annotations


def register(sub, common) -> None:
    p = sub.add_parser("intake", parents=[common], help="school intake: digests, unfetched submissions")
    intake = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = intake.add_parser("notify", parents=[common],
                          help="email each school its digest of state changes (at most one a day)")
    a.add_argument("--sender", help="From address (default $TAGWATCH_REPORT_FROM or the connection's)")
    a.set_defaults(func=cmd_notify)
    a = intake.add_parser("unfetched", parents=[common],
                          help="submissions whose URL was recorded but not fetched")
    a.add_argument("--format", choices=["table", "csv", "json"], default="table")
    a.set_defaults(func=cmd_unfetched)


def cmd_notify(args) -> int:
    from review.schools import send_digests
    from tagwatch.console import out, settings_from

    settings = settings_from(args)
    done = send_digests(settings.db_path, sender=args.sender or settings.report_from)
    for d in done:
        if "sent" in d:
            out(f"{d['school']}: digest of {d['changes']} change(s) sent to {', '.join(d['to'])}")
        else:
            out(f"{d['school']}: {d['changes']} change(s) not sent: {d['skipped']}")
    if not done:
        out("no digests due (no changes, or each school has had today's)")
    return 0


def cmd_unfetched(args) -> int:
    from review.schools import unfetched
    from tagwatch.console import settings_from, table
    from warehouse.db import session

    with session(settings_from(args).db_path) as con:
        rows = unfetched(con)
    table(rows, ["reference", "school", "submitted_at", "url", "fetch_note"], args.format)
    return 0
