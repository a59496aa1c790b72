"""Keeping the warehouse file: consistent copies (backup), swapping a file in (restore,
compaction) and stripping personal columns from posts (retention, data minimisation).

DuckDB lets one process write a file and then refuses every other, readers included, so
a copy made while this module holds a connection is consistent: no load or review
decision can land half-way. DuckDB never shrinks a file on delete; the space comes back
only by copying the live data into a fresh file (`copy_database`) and swapping it in.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import duckdb

from warehouse import queue_keys
from warehouse.db import WarehouseError, session, transaction

PERSONAL_COLUMNS = ("text", "url", "author_key", "author_handle")


def _quote(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def table_counts(con: duckdb.DuckDBPyConnection, database: str | None = None) -> dict[str, int]:
    """Rows in every table of `database` (default: the main one)."""
    where = f"database_name = {_quote(database)}" if database else "database_name = current_database()"
    tables = [r[0] for r in con.execute(
        f"SELECT table_name FROM duckdb_tables() WHERE {where} AND schema_name = 'main' "
        "ORDER BY table_name").fetchall()]
    prefix = f'"{database}".' if database else ""
    return {t: con.execute(f'SELECT count(*) FROM {prefix}main."{t}"').fetchone()[0] for t in tables}


def copy_database(con: duckdb.DuckDBPyConnection, dest: Path) -> dict[str, int]:
    """Copy every table, view, sequence and index of `con`'s database into a new file
    `dest`, as of one moment; returns the copy's row counts (checked against the source)."""
    dest = Path(dest)
    if dest.exists():
        raise WarehouseError(f"{dest} already exists")
    source = con.execute("SELECT current_database()").fetchone()[0]
    expected = table_counts(con)
    con.execute(f"ATTACH {_quote(dest)} AS tagwatch_copy (READ_WRITE)")
    try:
        con.execute(f'COPY FROM DATABASE "{source}" TO tagwatch_copy')
        copied = table_counts(con, "tagwatch_copy")
    finally:
        con.execute("DETACH tagwatch_copy")
    if copied != expected:
        dest.unlink(missing_ok=True)
        raise WarehouseError(f"the copy of the warehouse does not match it: {copied} != {expected}")
    return copied


def swap_in(db_path: Path, new_file: Path, *, lock_wait: float = 600.0) -> None:
    """Put `new_file` in place of the warehouse at `db_path`, atomically (rename).

    Done while holding the old file open for writing: no other process can be in the
    middle of a write when the name moves; the next one to open gets the new file.
    """
    db_path = Path(db_path)
    if not db_path.exists():
        os.replace(new_file, db_path)
        return
    with session(db_path, lock_wait=lock_wait) as con:
        con.execute("CHECKPOINT")  # nothing left in a WAL that would belong to the old file
        os.replace(new_file, db_path)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- retention ------------------------------------------------------------------------------

@dataclass
class StripReport:
    posts: int = 0
    evidence: int = 0
    purge_id: int | None = None
    columns: list[str] = field(default_factory=list)


def strip_posts(con: duckdb.DuckDBPyConnection, selection_sql: str, params: Sequence = (), *,
                reason: str, actor: str, columns: Sequence[str] = PERSONAL_COLUMNS,
                evidence_sql: str | None = None, evidence_params: Sequence = (),
                dry_run: bool = False) -> StripReport:
    """Empty `columns` of the posts `selection_sql` picks (a SELECT of platform, post_id),
    and the text and URL of the evidence `evidence_sql` picks (a SELECT of case_id), in one
    transaction, recording what was done in `purges` and `purged_posts`.

    The one mechanism behind `tagwatch purge` (posts past retention) and data minimisation
    (URLs and handles kept only for posts that are flagged or in a case).
    """
    unknown = [c for c in columns if c not in PERSONAL_COLUMNS]
    if unknown or not columns:
        raise WarehouseError(f"only {', '.join(PERSONAL_COLUMNS)} can be stripped, not {unknown}")
    report = StripReport(columns=list(columns))
    filled = " OR ".join(f"p.{c} IS NOT NULL" for c in columns)
    with transaction(con):
        con.execute(f"CREATE OR REPLACE TEMP TABLE strip_posts AS SELECT p.platform, p.post_id "
                    f"FROM posts p SEMI JOIN ({selection_sql}) s USING (platform, post_id) "
                    f"WHERE {filled}", list(params))
        report.posts = con.execute("SELECT count(*) FROM strip_posts").fetchone()[0]
        if evidence_sql:
            con.execute(f"CREATE OR REPLACE TEMP TABLE strip_evidence AS SELECT case_id FROM evidence "
                        f"WHERE case_id IN ({evidence_sql}) AND (text IS NOT NULL OR url IS NOT NULL)",
                        list(evidence_params))
            report.evidence = con.execute("SELECT count(*) FROM strip_evidence").fetchone()[0]
        if dry_run or not (report.posts or report.evidence):
            _drop_temp(con)
            return report
        report.purge_id = con.execute(
            "INSERT INTO purges (purged_at, actor, reason, columns, posts, evidence) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING purge_id",
            [datetime.now(timezone.utc), actor, reason, ",".join(columns), report.posts,
             report.evidence]).fetchone()[0]
        sets = ", ".join(f"{c} = NULL" for c in columns)
        con.execute(f"UPDATE posts SET {sets} FROM strip_posts s "
                    "WHERE posts.platform = s.platform AND posts.post_id = s.post_id")
        con.execute("INSERT INTO purged_posts SELECT platform, post_id, ? FROM strip_posts",
                    [report.purge_id])
        queue_keys.refresh_posts(con, "SELECT platform, post_id FROM strip_posts")  # its copy too
        if report.evidence:
            con.execute("UPDATE evidence SET text = NULL, url = NULL "
                        "WHERE case_id IN (SELECT case_id FROM strip_evidence)")
        _drop_temp(con)
    return report


def _drop_temp(con) -> None:
    con.execute("DROP TABLE IF EXISTS strip_posts")
    con.execute("DROP TABLE IF EXISTS strip_evidence")


def retention_selection(cutoff: datetime, case_closed_before: datetime) -> tuple[str, list, str, list]:
    """Posts first seen before `cutoff` in no case, or only in cases closed before
    `case_closed_before`; and the evidence of those closed cases."""
    closed = ("SELECT case_id FROM case_state WHERE state = 'CLOSED' AND state_since < ?")
    posts = (f"SELECT platform, post_id FROM posts p WHERE first_seen_at < ? AND NOT EXISTS ("
             f"SELECT 1 FROM cases c WHERE c.platform = p.platform AND c.post_id = p.post_id "
             f"AND c.case_id NOT IN ({closed}))")
    return posts, [cutoff, case_closed_before], closed, [case_closed_before]


# Data minimisation empties only what identifies an author beyond the pseudonym.
MINIMISED_COLUMNS = ("url", "author_handle")


def minimisation_selection(cutoff: datetime) -> tuple[str, list]:
    """Posts first seen before `cutoff` that were scored, never flagged, and are in no case:
    nobody will report them, so their URL (which carries the handle) and raw handle go."""
    posts = ("SELECT platform, post_id FROM posts p WHERE p.first_seen_at < ? "
             "AND EXISTS (SELECT 1 FROM scores s WHERE s.platform = p.platform AND s.post_id = p.post_id) "
             "AND NOT EXISTS (SELECT 1 FROM scores s WHERE s.platform = p.platform "
             "AND s.post_id = p.post_id AND s.label) "
             "AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.platform = p.platform AND c.post_id = p.post_id)")
    return posts, [cutoff]


def compact(db_path: Path, *, lock_wait: float = 600.0,
            on_copy: Callable[[dict[str, int]], None] | None = None) -> tuple[int, int]:
    """Give the space of deleted or emptied rows back: copy into a fresh file and swap it in.
    Returns the file size before and after (bytes)."""
    db_path = Path(db_path)
    fresh = db_path.with_name(f".{db_path.name}.compact-{os.getpid()}")
    fresh.unlink(missing_ok=True)
    before = db_path.stat().st_size
    try:
        with session(db_path, lock_wait=lock_wait) as con:
            con.execute("CHECKPOINT")
            before = db_path.stat().st_size
            counts = copy_database(con, fresh)
            if on_copy:
                on_copy(counts)
            con.execute("CHECKPOINT")
            os.replace(fresh, db_path)  # still holding the old file: nobody writes meanwhile
    finally:
        fresh.unlink(missing_ok=True)
        Path(f"{fresh}.wal").unlink(missing_ok=True)
    return before, db_path.stat().st_size
