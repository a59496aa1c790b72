"""`tagwatch user add NAME --role analyst|viewer|school [--school "SCHOOL NAME"] [--email ADDRESS]`:
accounts for the review app (school contacts use its intake pages).

The password is read from standard input (one line), never from the command line,
where other users of the machine could see it.
"""
from __future__ import annotations

import sys

from review.users import ROLES, add_user
from warehouse.db import session


def register(sub, common) -> None:
    p = sub.add_parser("user", parents=[common], help="review app accounts")
    users = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = users.add_parser("add", parents=[common], help="add a user (password on standard input)")
    a.add_argument("name")
    a.add_argument("--role", choices=ROLES, required=True,
                   help="analyst: reads and writes; viewer: reads only (e.g. union staff); "
                        "school: a school's contact (submits posts, sees only its own reports)")
    a.add_argument("--school", help="the school a school contact speaks for (required with --role school)")
    a.add_argument("--email", help="where the school's daily digest of changes is sent")
    a.set_defaults(func=cmd_add)


def cmd_add(args) -> int:
    from tagwatch.config import Settings

    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"password for {args.name}: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    with session(Settings.from_env(db_path=args.db).db_path) as con:
        add_user(con, args.name, args.role, password, args.school, args.email)
    print(f"added {args.role} {args.name}" + (f" for {args.school}" if args.school else ""))
    if args.role == "school" and not args.email:
        print("note: no --email, so this contact gets no digest emails")
    return 0
