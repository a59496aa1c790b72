"""Users of the review app: a name, a role, and a scrypt password hash (hashlib, no extra package).

analyst: reads and writes; viewer: reads only (e.g. union staff); school: a school's
contact, who submits posts through the intake form and sees only their school's reports.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime

from review import sessions
from warehouse.db import WarehouseError

ROLES = ("analyst", "viewer", "school")
MAX_SCHOOL = 200
_EMAIL = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")
MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# scrypt cost: n=2**15, r=8, p=1 (about 32 MiB and tens of milliseconds per check).
_N, _R, _P = 2 ** 15, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _N, _R, _P)
    return "$".join(["scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def add_user(con, name: str, role: str, password: str, school: str | None = None,
             email: str | None = None, school_id: int | None = None) -> int | None:
    """Add a user; a school contact either names a new school (`school`) or is attached to
    an existing one by its id (`school_id`). Returns the contact's school id (else None)."""
    if not _NAME.match(name or ""):
        raise WarehouseError(f"user names are 1-64 letters, digits, '.', '_' or '-', not {name!r}")
    if role not in ROLES:
        raise WarehouseError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    _check_password(password)
    school = " ".join((school or "").split()) or None
    if role == "school" and not school and school_id is None:
        raise WarehouseError('a school contact needs the school it speaks for: --school "NEW SCHOOL NAME" '
                             "or --school-id ID of one that exists")
    if role != "school" and (school or school_id is not None):
        raise WarehouseError("--school and --school-id are only for --role school")
    if school and school_id is not None:
        raise WarehouseError("give --school (a new school) or --school-id (an existing one), not both")
    if school and len(school) > MAX_SCHOOL:
        raise WarehouseError(f"the school name is longer than {MAX_SCHOOL} characters")
    email = (email or "").strip() or None
    if email and not _EMAIL.match(email):
        raise WarehouseError(f"not an email address: {email!r}")
    if con.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone():
        raise WarehouseError(f"user {name!r} exists already")
    if school_id is not None:
        row = con.execute("SELECT name FROM schools WHERE school_id = ?", [int(school_id)]).fetchone()
        if row is None:
            raise WarehouseError(f"no school with id {school_id} (tagwatch user schools lists them)")
        school = row[0]
    elif school:
        school_id = _new_school(con, school)
    con.execute("INSERT INTO users (name, role, password_hash, school, school_id, email) "
                "VALUES (?, ?, ?, ?, ?, ?)", [name, role, hash_password(password), school, school_id, email])
    return school_id


def _new_school(con, school: str) -> int:
    """A new school record; refused when its name reads the same as an existing school's
    (case, spaces), so a typo never joins a contact to another school's reports."""
    key = " ".join(school.split()).casefold()
    for school_id, existing in con.execute("SELECT school_id, name FROM schools").fetchall():
        if " ".join(existing.split()).casefold() == key:
            raise WarehouseError(f"a school named {existing!r} exists already (id {school_id}): to add a "
                                 f"contact for it use --school-id {school_id}; for another school give "
                                 "a name of its own")
    return con.execute("INSERT INTO schools (name) VALUES (?) RETURNING school_id", [school]).fetchone()[0]


def schools(con) -> list[dict]:
    """Every school with its id and how many contacts it has."""
    rows = con.execute("SELECT s.school_id, s.name, count(u.name) FROM schools s "
                       "LEFT JOIN users u USING (school_id) GROUP BY ALL ORDER BY s.school_id").fetchall()
    return [{"school_id": i, "name": n, "contacts": c} for i, n, c in rows]


def stored_password(con, name: str) -> str | None:
    """The user's password hash (None for unknown names): fetched under the warehouse
    connection, checked with `password_matches` after it is closed (hashing is slow)."""
    row = con.execute("SELECT password_hash FROM users WHERE name = ?", [name]).fetchone()
    return row[0] if row else None


def password_matches(password: str, stored: str | None) -> bool:
    """The same work whether or not the name exists (no timing difference for unknown names)."""
    if stored is None:
        verify_password(password, _DUMMY)
        return False
    return verify_password(password, stored)


def set_password(con, name: str, password: str, now: datetime) -> int:
    """A new password; every session of the user ends. Returns how many sessions ended."""
    _check_password(password)
    if not con.execute("UPDATE users SET password_hash = ? WHERE name = ? RETURNING name",
                       [hash_password(password), name]).fetchall():
        raise WarehouseError(f"no user {name!r} (tagwatch user list shows them)")
    return sessions.end_all(con, name, "password changed", now)


def remove_user(con, name: str, now: datetime) -> int:
    """Remove the account; its sessions end at once. Returns how many sessions ended.
    What the user did (case events, submissions) keeps their name."""
    if not con.execute("DELETE FROM users WHERE name = ? RETURNING name", [name]).fetchall():
        raise WarehouseError(f"no user {name!r} (tagwatch user list shows them)")
    return sessions.end_all(con, name, "user removed", now)


def list_users(con, now: datetime) -> list[dict]:
    """Every account with its live sessions and when it last used the app."""
    live = sessions.live_counts(con, now)
    rows = con.execute("SELECT u.name, u.role, u.school, u.email, u.created_at, max(s.last_seen_at) "
                       "FROM users u LEFT JOIN web_sessions s ON s.user_name = u.name "
                       "GROUP BY ALL ORDER BY u.name").fetchall()
    return [{"name": r[0], "role": r[1], "school": r[2], "email": r[3], "created_at": r[4],
             "last_seen_at": r[5], "sessions": live.get(r[0], 0)} for r in rows]


def role_of(con, name: str) -> str | None:
    row = con.execute("SELECT role FROM users WHERE name = ?", [name]).fetchone()
    return row[0] if row else None


def school_of(con, name: str) -> str | None:
    """The name of the school a school contact speaks for (None for other users)."""
    row = con.execute("SELECT school FROM users WHERE name = ?", [name]).fetchone()
    return row[0] if row else None


def school_id_of(con, name: str) -> int | None:
    """The id of the school a school contact speaks for (None for other users): what
    decides which reports the contact sees."""
    row = con.execute("SELECT school_id FROM users WHERE name = ?", [name]).fetchone()
    return row[0] if row else None


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise WarehouseError(f"the password must have at least {MIN_PASSWORD} characters")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=128 * r * n * p * 2, dklen=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


_DUMMY = hash_password(secrets.token_hex(8))
