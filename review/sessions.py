"""Review-app sessions that can be ended (the table web_sessions, migration 015).

The cookie holds a random token; the warehouse holds its SHA-256, who it belongs to, when it
began and when it was last used. A session is alive while it has not been ended (logout,
password change, user removal), its user still exists with the same role, it was used within
the idle time-out and began within the absolute one.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=8)
# last_seen_at is rewritten at most this often: a page view is not always a write.
TOUCH_EVERY = timedelta(minutes=1)
KEEP_ENDED = timedelta(days=30)  # ended sessions stay this long, as a record of logins


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(con, user: str, now: datetime) -> str:
    """A new session for `user`; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    con.execute("DELETE FROM web_sessions WHERE coalesce(ended_at, last_seen_at) < ?", [now - KEEP_ENDED])
    con.execute("INSERT INTO web_sessions (token_hash, user_name, created_at, last_seen_at) VALUES (?, ?, ?, ?)",
                [_digest(token), user, now, now])
    return token


def check(con, token: str | None, now: datetime, idle: timedelta = IDLE,
          absolute: timedelta = ABSOLUTE) -> dict | None:
    """{user, role, school} if the session is alive, else None (a timed-out one is ended)."""
    if not token:
        return None
    row = con.execute(
        "SELECT s.user_name, u.role, u.school, s.created_at, s.last_seen_at FROM web_sessions s "
        "JOIN users u ON u.name = s.user_name WHERE s.token_hash = ? AND s.ended_at IS NULL",
        [_digest(token)]).fetchone()
    if row is None:
        return None
    user, role, school, created, seen = row
    if now - created > absolute or now - seen > idle:
        end(con, token, "timed out", now)
        return None
    if now - seen > TOUCH_EVERY:
        con.execute("UPDATE web_sessions SET last_seen_at = ? WHERE token_hash = ?", [now, _digest(token)])
    return {"user": user, "role": role, "school": school}


def end(con, token: str, reason: str, now: datetime) -> None:
    con.execute("UPDATE web_sessions SET ended_at = ?, end_reason = ? WHERE token_hash = ? AND ended_at IS NULL",
                [now, reason, _digest(token)])


def end_all(con, user: str, reason: str, now: datetime) -> int:
    """End every live session of `user`; returns how many there were."""
    return len(con.execute("UPDATE web_sessions SET ended_at = ?, end_reason = ? "
                           "WHERE user_name = ? AND ended_at IS NULL RETURNING token_hash",
                           [now, reason, user]).fetchall())


def live_counts(con, now: datetime, idle: timedelta = IDLE, absolute: timedelta = ABSOLUTE) -> dict[str, int]:
    """user -> sessions alive now (not ended and within both time-outs)."""
    return dict(con.execute(
        "SELECT user_name, count(*) FROM web_sessions WHERE ended_at IS NULL AND created_at >= ? "
        "AND last_seen_at >= ? GROUP BY user_name", [now - absolute, now - idle]).fetchall())
