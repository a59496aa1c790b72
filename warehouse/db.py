"""Opening the DuckDB warehouse, applying numbered migrations, taking turns on the lock.

DuckDB lets one process hold a database file for writing and then refuses every
other process, readers included. Connections here are short (open, work, close)
and opening retries for a while on the lock, so the loader, the CLI and a web
app can take turns instead of failing.
"""
from __future__ import annotations

import os
import re
import threading
import time
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Iterator

import duckdb

from common.private import private_dir, private_file

MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
LOCK_WAIT_SECONDS = 60.0
# A process that finds the file locked says so in a file beside it (`want_path`), touched at
# every retry; a process that keeps a connection open between uses (the web app's Store)
# lets go as soon as it sees a fresh one, so keeping a connection never holds up a load.
WANT_FRESH_SECONDS = 3.0
# DuckDB may keep up to 80% of the machine's memory by default (mostly pages it has read or
# written, kept in case they are needed again): a 1,000,000-item import then peaked at 1.15 GB
# and grew with the file. With this limit it writes out or spills instead, and a process's
# peak stays near the limit plus Python's own (about 0.5 GB with scikit-learn and the model).
MEMORY_LIMIT = "1GB"


class WarehouseError(Exception):
    """A problem with the warehouse that the user can act on (message says how)."""


class WarehouseLocked(WarehouseError):
    """Another process held the file for longer than the caller would wait."""


def migrations() -> list[tuple[int, str, str]]:
    """(number, file name, SQL) of every migration shipped in warehouse/migrations, in order."""
    found = []
    for entry in resources.files("warehouse").joinpath("migrations").iterdir():
        m = MIGRATION_NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _, _ in found]
    if len(set(numbers)) != len(numbers):
        raise WarehouseError(f"two migrations share a number: {numbers}")
    return found


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the migrations this file has not had yet, each in its own transaction."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for number, name, sql in migrations():
        if number in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [number, name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc)
    return "Could not set lock" in text or "Conflicting lock" in text


def connect(db_path: str | Path, *, read_only: bool = False,
            lock_wait: float = LOCK_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; a writer also brings the schema up to date.

    Waits up to `lock_wait` seconds while another process holds the file.
    """
    path = Path(db_path)
    if read_only and not path.exists():
        raise WarehouseError(
            f"no warehouse at {path}: collect something first "
            "(tagwatch collect / tagwatch run), or pass --db / set TAGWATCH_DB"
        )
    if not read_only and not path.parent.exists():
        private_dir(path.parent)
    deadline = time.monotonic() + lock_wait
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if _is_lock_error(exc):
                signal_want(path)
            if not _is_lock_error(exc) or time.monotonic() >= deadline:
                if _is_lock_error(exc):
                    raise WarehouseLocked(
                        f"the warehouse {path} stayed locked by another process for "
                        f"{lock_wait:.0f} s; try again when the running load has finished"
                    ) from exc
                raise WarehouseError(f"cannot open the warehouse {path}: {exc}") from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open the warehouse {path}: {exc}") from exc
    try:
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    except duckdb.Error as exc:
        con.close()
        raise WarehouseError(f"cannot open the warehouse {path}: {exc}") from exc
    if not read_only:
        for private in (path, path.with_name(path.name + ".wal")):
            private_file(private)   # password hashes and school addresses live here
        try:
            migrate(con)
        except Exception:
            con.close()
            raise
    return con


def want_path(db_path: str | Path) -> Path:
    path = Path(db_path)
    return path.with_name(path.name + ".want")


def signal_want(db_path: str | Path) -> None:
    """Tell a process keeping the file open that this one (its pid inside) waits for it."""
    try:
        target = want_path(db_path)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
    except OSError:
        pass   # a read-only directory: the keeper lets go after its idle time anyway


def wanted(db_path: str | Path, fresh: float = WANT_FRESH_SECONDS) -> bool:
    """Did another process ask for the file within the last `fresh` seconds?"""
    target = want_path(db_path)
    try:
        if time.time() - target.stat().st_mtime > fresh:
            return False
        return target.read_text(encoding="ascii").strip() != str(os.getpid())
    except (OSError, ValueError):
        return False


def data_version(con: duckdb.DuckDBPyConnection) -> tuple | None:
    """Changes whenever anything is committed to the warehouse, by any process: every commit
    appends to the write-ahead log and every checkpoint rewrites the file. None for an
    in-memory database or inside a transaction() (its own writes are not committed yet)."""
    if id(con) in _IN_TRANSACTION:
        return None
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    if not row or not row[0]:
        return None
    version = []
    for name in (row[0], row[0] + ".wal"):
        try:
            st = os.stat(name)
            version.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except FileNotFoundError:
            version.append(None)
    return (row[0], *version)


_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()
CACHE_ENTRIES = 16


def cached(con: duckdb.DuckDBPyConnection, key: tuple, compute):
    """`compute()`'s rows, kept while the warehouse is unchanged (data_version): a page read
    again and again (the reviewers' queue) is computed once per change, not per request.
    Each call gets its own copies of the row dicts."""
    version = data_version(con)
    if version is None:
        return compute()
    full_key = (version[0], key)
    with _CACHE_LOCK:
        hit = _CACHE.get(full_key)
    if hit is not None and hit[0] == version:
        return [dict(r) for r in hit[1]]
    rows = compute()
    with _CACHE_LOCK:
        if len(_CACHE) >= CACHE_ENTRIES:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[full_key] = (version, [dict(r) for r in rows])
    return rows


@contextmanager
def session(db_path: str | Path, *, read_only: bool = False,
            lock_wait: float = LOCK_WAIT_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection, closed on exit so the next process can have the file."""
    con = connect(db_path, read_only=read_only, lock_wait=lock_wait)
    try:
        yield con
    finally:
        con.close()


_IN_TRANSACTION: set[int] = set()   # ids of connections inside transaction()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: on any error the warehouse is left as it was. Inside another
    transaction() on the same connection it joins that one (DuckDB does not nest them)."""
    if id(con) in _IN_TRANSACTION:
        yield con
        return
    con.execute("BEGIN TRANSACTION")
    _IN_TRANSACTION.add(id(con))
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        _IN_TRANSACTION.discard(id(con))
    con.execute("COMMIT")
