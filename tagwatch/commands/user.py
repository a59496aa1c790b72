"""`tagwatch user add NAME --role analyst|viewer|school [--school "NEW SCHOOL" | --school-id ID]
[--email ADDRESS]`: accounts for the review app (school contacts use its intake pages);
`tagwatch user schools`: the schools and their ids. A school is a record: a second contact
for the same school is attached by its id, never by typing its name again.

The password is read from standard input (one line), never from the command line,
where other users of the machine could see it.
"""
from __future__ import annotations

import sys

from review.users import ROLES, add_user, school_of, schools
from warehouse.db import session


def register(sub, common) -> None:
    p = sub.add_parser("user", parents=[common], help="review app accounts")
    users = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = users.add_parser("add", parents=[common], help="add a user (password on standard input)")
    a.add_argument("name")
    a.add_argument("--role", choices=ROLES, required=True,
                   help="analyst: reads and writes; viewer: reads only (e.g. union staff); "
                        "school: a school's contact (submits posts, sees only its own reports)")
    a.add_argument("--school", help="a NEW school a school contact speaks for (refused if one reads the same)")
    a.add_argument("--school-id", type=int, help="an existing school (its id: tagwatch user schools)")
    a.add_argument("--email", help="where the school's daily digest of changes is sent")
    a.set_defaults(func=cmd_add)
    s = users.add_parser("schools", parents=[common], help="the schools with their ids and contacts")
    s.set_defaults(func=cmd_schools)


def cmd_add(args) -> int:
    from tagwatch.config import Settings

    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"password for {args.name}: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    with session(Settings.from_env(db_path=args.db).db_path) as con:
        school_id = add_user(con, args.name, args.role, password, args.school, args.email,
                             school_id=args.school_id)
        school = school_of(con, args.name)
    print(f"added {args.role} {args.name}" + (f" for {school} (school id {school_id})" if school else ""))
    if args.role == "school" and not args.email:
        print("note: no --email, so this contact gets no digest emails")
    return 0


def cmd_schools(args) -> int:
    from tagwatch.config import Settings
    from tagwatch.console import cell

    with session(Settings.from_env(db_path=args.db).db_path) as con:
        rows = schools(con)
    for r in rows:
        print(f"{r['school_id']:>4}  {cell(r['name'], 60)}  ({r['contacts']} contact{'s' if r['contacts'] != 1 else ''})")
    if not rows:
        print("no schools yet: tagwatch user add NAME --role school --school \"SCHOOL NAME\"")
    return 0
