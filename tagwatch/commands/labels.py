"""`tagwatch labels import FILE.csv [FILE...]`: analysts' labels into the warehouse."""
from __future__ import annotations


def register(sub, common) -> None:
    p = sub.add_parser("labels", parents=[common], help="analysts' labels that the model learns from")
    actions = p.add_subparsers(dest="action", required=True)
    i = actions.add_parser(
        "import", parents=[common],
        help="add labelled posts (CSV or NDJSON: text,label and optional platform,post_id,category)")
    i.add_argument("files", nargs="+", metavar="FILE.csv")
    i.add_argument("--by", help="who labelled them (default: your user name)")
    i.set_defaults(func=cmd_labels_import)


def cmd_labels_import(args) -> int:
    from classifiers.labels import import_files
    from tagwatch.console import out, settings_from
    from warehouse.db import session

    settings = settings_from(args)
    with session(settings.db_path) as con:
        report = import_files(con, args.files, added_by=args.by)
        total = con.execute("SELECT count(*) FROM labels").fetchone()[0]
    out(f"imported {report.added} label(s) from {report.files} file(s) "
        f"({report.duplicates} already there or repeated); {total} label(s) in all. "
        "`tagwatch train` learns from them.")
    return 0
