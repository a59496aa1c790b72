"""Reviewers never wait for a load: the decision journal.

DuckDB lets one process hold the warehouse file; a load (and the scoring and case opening
after it) holds it for as long as it takes. A decision that cannot get the file within a
second is appended to a journal beside the warehouse (a small SQLite file that any number
of processes can write at once) and the reviewer is answered at once. The next process that
opens the warehouse for writing (the web app's next request, the loader when its step ends)
applies the journal's entries in the order they were sent, each with its original time, in
the same transaction as a row of `journal_applied`; so an entry is applied at most once,
and the warehouse, still the one source of truth, records what became of each (applied, or
refused: the case had moved meanwhile).
"""
from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

from datetime import timedelta

from review import assignments
from review import cases as cs
from review import dsa
from review import decisions
from warehouse.db import transaction


def _cases(case_id, f: dict) -> list:
    """The cases an entry is about: `cases` (several, comma-separated) or the one case."""
    return decisions.parse_case_ids(f["cases"]) if f.get("cases") else [case_id]


def _decide(con, case_id, f: dict, actor: str, now):
    """Confirm, dismiss or report one case or several (`decision`; the queue's bulk form)."""
    if f.get("decision") == "report":
        return decisions.report_cases(con, _cases(case_id, f), f.get("channel", ""), f.get("reference", ""),
                                      actor, now=now)
    return decisions.review_cases(
        con, _cases(case_id, f), f.get("decision", ""), actor, f.get("category") or None,
        f.get("target_role") or None, f.get("severity") or None, f.get("note") or None, now=now)


def _undo(con, case_id, f: dict, actor: str, now):
    # The window comes from the app's settings (the route sets it; a form's value is replaced).
    window = timedelta(minutes=max(0.0, float(f.get("window_minutes") or 0)))
    return decisions.undo_decision(con, f.get("decision_id", ""), actor, now=now, window=window)


# What a journal entry can ask for: the same calls the web app's forms make.
ACTIONS = {
    "review": _decide,
    "decide": _decide,
    "undo": _undo,
    "assign": lambda con, case_id, f, actor, now: assignments.assign(
        con, _cases(case_id, f), f.get("assignee") or None, actor, now=now),
    "report": lambda con, case_id, f, actor, now: decisions.report_cases(
        con, [case_id], f.get("channel", ""), f.get("reference", ""), actor, now=now),
    "answer": lambda con, case_id, f, actor, now: cs.answer(
        con, case_id, f.get("outcome", ""), f.get("text", ""), actor, now=now,
        statement={k: f.get(k) for k in dsa.FIELDS}),
    "move": lambda con, case_id, f, actor, now: cs.move(
        con, case_id, f.get("to", ""), actor, f.get("note") or None, now=now),
}
# The form fields an action reads (nothing else from a form is kept).
FIELDS = ("decision", "category", "target_role", "severity", "note", "channel", "reference",
          "outcome", "text", "to", "cases", "decision_id", "window_minutes", "assignee",
          *(f for f in dsa.FIELDS if f != "category"))


def journal_path(db_path: str | Path) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".decisions.sqlite")


def _open(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=10, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = FULL")   # an accepted decision survives a power cut
    con.execute("CREATE TABLE IF NOT EXISTS decisions (entry_id TEXT PRIMARY KEY, "
                "action TEXT NOT NULL, case_id INTEGER NOT NULL, fields TEXT NOT NULL, "
                "actor TEXT NOT NULL, decided_at TEXT NOT NULL, applied INTEGER NOT NULL DEFAULT 0)")
    return con


def append(db_path: str | Path, action: str, case_id: int, fields: dict, actor: str,
           now: datetime | None = None) -> str:
    """Keep a decision for the next writer; returns the entry's id."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    kept = {k: str(v) for k, v in fields.items() if k in FIELDS and v is not None}
    entry = str(uuid.uuid4())
    with closing(_open(journal_path(db_path))) as con:
        con.execute("INSERT INTO decisions (entry_id, action, case_id, fields, actor, decided_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (entry, action, int(case_id), json.dumps(kept), actor,
                     (now or cs.utcnow()).isoformat()))
    return entry


def pending(db_path: str | Path) -> list[dict]:
    """Entries not applied yet, oldest first."""
    path = journal_path(db_path)
    if not path.exists():
        return []
    with closing(_open(path)) as con:
        rows = con.execute("SELECT entry_id, action, case_id, fields, actor, decided_at "
                           "FROM decisions WHERE applied = 0 ORDER BY rowid").fetchall()
    return [{"entry_id": r[0], "action": r[1], "case_id": r[2], "fields": json.loads(r[3]),
             "actor": r[4], "decided_at": datetime.fromisoformat(r[5])} for r in rows]


def apply_pending(con, db_path: str | Path) -> list[dict]:
    """Apply the journal's pending entries to the warehouse open on `con` (a writer).

    Returns what became of each entry: {"entry_id", "case_id", "outcome", "detail"}.
    """
    entries = pending(db_path)
    if not entries:
        return []
    done = {r[0] for r in con.execute(
        "SELECT entry_id FROM journal_applied WHERE list_contains(?, entry_id)",
        [[e["entry_id"] for e in entries]]).fetchall()}
    results = []
    for entry in entries:
        if entry["entry_id"] not in done:
            results.append(_apply(con, entry))
    with closing(_open(journal_path(db_path))) as journal:
        journal.executemany("UPDATE decisions SET applied = 1 WHERE entry_id = ?",
                            [(e["entry_id"],) for e in entries])
    return results


def _apply(con, entry: dict) -> dict:
    outcome, detail = "applied", None
    try:
        with transaction(con):
            ACTIONS[entry["action"]](con, entry["case_id"], entry["fields"], entry["actor"],
                                     entry["decided_at"])
            _record(con, entry, outcome, detail)
    except (cs.CaseError, ValueError) as exc:
        outcome, detail = "refused", str(exc)
        _record(con, entry, outcome, detail)
    return {"entry_id": entry["entry_id"], "case_id": entry["case_id"], "outcome": outcome,
            "detail": detail}


def _record(con, entry: dict, outcome: str, detail: str | None) -> None:
    con.execute("INSERT INTO journal_applied (entry_id, action, case_id, actor, decided_at, "
                "applied_at, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [entry["entry_id"], entry["action"], entry["case_id"], entry["actor"],
                 entry["decided_at"], datetime.now(timezone.utc), outcome, detail])
