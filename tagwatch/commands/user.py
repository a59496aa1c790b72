"""`tagwatch user add|schools|list|remove|passwd`: accounts for the review app (school
contacts use its intake pages).

    tagwatch user add NAME --role analyst|viewer|school [--school "NEW SCHOOL" | --school-id ID] [--email ADDRESS]
    tagwatch user schools          # the schools and their ids
    tagwatch user list             # every account, its role, live sessions, last seen
    tagwatch user remove NAME      # the account goes; its sessions end at once
    tagwatch user passwd NAME      # a new password; every session of the user ends

A school is a record: a second contact for the same school is attached by its id, never by
typing its name again. Passwords are read from standard input (one line), never from the
command line, where other users of the machine could see them.
"""
from __future__ import annotations

import sys
from datetime import datetime, timezone

from review.users import ROLES, add_user, list_users, remove_user, school_of, schools, set_password
from tagwatch.console import cell
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
    ls = users.add_parser("list", parents=[common], help="every account, its role and live sessions")
    ls.set_defaults(func=cmd_list)
    rm = users.add_parser("remove", parents=[common], help="remove an account and end its sessions")
    rm.add_argument("name")
    rm.set_defaults(func=cmd_remove)
    pw = users.add_parser("passwd", parents=[common],
                          help="set a new password (standard input) and end the user's sessions")
    pw.add_argument("name")
    pw.set_defaults(func=cmd_passwd)


def _db(args):
    from tagwatch.config import Settings

    return Settings.from_env(db_path=args.db).db_path


def _password(name: str) -> str:
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass(f"password for {name}: ")
    return sys.stdin.readline().rstrip("\r\n")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def cmd_add(args) -> int:
    password = _password(args.name)
    with session(_db(args)) as con:
        school_id = add_user(con, args.name, args.role, password, args.school, args.email,
                             school_id=args.school_id)
        school = school_of(con, args.name)
    print(f"added {args.role} {args.name}" + (f" for {school} (school id {school_id})" if school else ""))
    if args.role == "school" and not args.email:
        print("note: no --email, so this contact gets no digest emails")
    return 0


def cmd_schools(args) -> int:
    with session(_db(args)) as con:
        rows = schools(con)
    for r in rows:
        print(f"{r['school_id']:>4}  {cell(r['name'], 60)}  ({r['contacts']} contact{'s' if r['contacts'] != 1 else ''})")
    if not rows:
        print("no schools yet: tagwatch user add NAME --role school --school \"SCHOOL NAME\"")
    return 0


def cmd_list(args) -> int:
    with session(_db(args)) as con:
        rows = list_users(con, _now())
    print(f"{'name':<24} {'role':<8} {'sessions':>8}  {'last seen (UTC)':<16}  school")
    for r in rows:
        seen = r["last_seen_at"].astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") if r["last_seen_at"] else "never"
        print(f"{cell(r['name'], 24):<24} {r['role']:<8} {r['sessions']:>8}  {seen:<16}  {cell(r['school'] or '')}")
    if not rows:
        print("no users yet: tagwatch user add NAME --role analyst")
    return 0


def cmd_remove(args) -> int:
    with session(_db(args)) as con:
        ended = remove_user(con, args.name, _now())
    print(f"removed {args.name}; {ended} session(s) ended")
    return 0


def cmd_passwd(args) -> int:
    password = _password(args.name)
    with session(_db(args)) as con:
        ended = set_password(con, args.name, password, _now())
    print(f"password of {args.name} changed; {ended} session(s) ended")
    return 0
