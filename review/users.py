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
             email: str | None = None) -> None:
    if not _NAME.match(name or ""):
        raise WarehouseError(f"user names are 1-64 letters, digits, '.', '_' or '-', not {name!r}")
    if role not in ROLES:
        raise WarehouseError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    _check_password(password)
    school = " ".join((school or "").split()) or None
    if role == "school" and not school:
        raise WarehouseError('a school contact needs the school it speaks for: --school "SCHOOL NAME"')
    if role != "school" and school:
        raise WarehouseError("--school is only for --role school")
    if school and len(school) > MAX_SCHOOL:
        raise WarehouseError(f"the school name is longer than {MAX_SCHOOL} characters")
    email = (email or "").strip() or None
    if email and not _EMAIL.match(email):
        raise WarehouseError(f"not an email address: {email!r}")
    if con.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone():
        raise WarehouseError(f"user {name!r} exists already")
    con.execute("INSERT INTO users (name, role, password_hash, school, email) VALUES (?, ?, ?, ?, ?)",
                [name, role, hash_password(password), school, email])


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
    """The school a school contact speaks for (None for other users)."""
    row = con.execute("SELECT school FROM users WHERE name = ?", [name]).fetchone()
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
