"""`tagwatch report`: the education team's report, written to a folder and/or emailed."""
from __future__ import annotations

import shutil
from pathlib import Path

from tagwatch.progress import progress


def register(sub, common) -> None:
    p = sub.add_parser("report", parents=[common], help="the education team's report (HTML, PDF, CSV)")
    p.add_argument("--period", help="how long a period it covers: 7d, 14d, 2w "
                                    "(default $TAGWATCH_REPORT_PERIOD or 7d)")
    p.add_argument("--end", help="the last day covered (YYYY-MM-DD, UTC) or an ISO date-time with a "
                                 "time zone (default: now)")
    p.add_argument("--out", help="folder to write report.html, report.pdf and the CSV files into")
    p.add_argument("--excerpts", action="store_true",
                   help="include short, redacted excerpts of the posts behind mismatches (off by default)")
    p.add_argument("--send", action="store_true",
                   help="email it through the Airflow connection smtp_default and keep it in a dated folder")
    p.add_argument("--to", nargs="+", action="extend", metavar="ADDRESS",
                   help="recipients (default $TAGWATCH_REPORT_TO)")
    p.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    from reports import build as rb
    from tagwatch.console import UserError, out, settings_from

    settings = settings_from(args)
    if not args.send and not args.out:
        raise UserError("say where to write the report (--out DIR), or --send it")
    if args.to and not args.send:
        raise UserError("--to needs --send")
    period = args.period or settings.report_period
    rb.parse_period(period)
    end = rb.parse_end(args.end)
    recipients = None
    if args.send:
        from reports import send as rs

        recipients = rs.check_recipients(args.to or settings.report_to)
        rs.check_connection()
    folder = Path(args.out) if args.out else rb.dated_folder(settings.reports_dir, end)
    with progress("building the report"):
        built = rb.build(settings.db_path, period, folder, end=end,
                         excerpts=args.excerpts or settings.report_excerpts)
    out(f"{built['title']}: written to {folder}"
        + (" (no data in this period: the report says so)" if built["empty"] else ""))
    if args.send:
        try:
            record = rs.send(folder, recipients, settings.report_from)
        except rb.ReportError:
            if not args.out:  # an unsent report is not kept: the next try takes the same name
                shutil.rmtree(folder, ignore_errors=True)
            raise
        kept = rs.keep(folder, folder if not args.out else rb.dated_folder(settings.reports_dir, end))
        out(f"sent to {', '.join(record['to'])}; kept in {kept}")
    return 0
