"""Who is looking at a case: an analyst a case is assigned to (append-only, the latest counts).

Assigning is not a move: the case keeps its state and history; `case_assignments` keeps every
assignment (who assigned whom, when) and the view `case_assignee` the current one.
"""
from __future__ import annotations

from datetime import datetime

from review import cases as cs
from review import users
from review.decisions import parse_case_ids
from warehouse.db import transaction


def assign(con, case_ids, assignee: str | None, actor: str, now: datetime | None = None) -> list[int]:
    """Assign every case in `case_ids` to `assignee` (an analyst), or unassign (None / '').
    All or nothing; returns the case ids."""
    ids, now = parse_case_ids(case_ids), now or cs.utcnow()
    actor = (actor or "").strip()
    if not actor:
        raise cs.CaseError("every change needs an actor (a user name)")
    assignee = (assignee or "").strip() or None
    if assignee is not None and users.role_of(con, assignee) != "analyst":
        raise cs.CaseError(f"cannot assign to {assignee[:64]!r}: cases are assigned to analysts "
                           "(tagwatch user list shows them)")
    known = {r[0] for r in con.execute("SELECT case_id FROM cases WHERE list_contains(?, case_id)",
                                       [ids]).fetchall()}
    missing = [i for i in ids if i not in known]
    if missing:
        raise cs.CaseError(f"no case {missing[0]}" + ("; nothing was changed" if len(ids) > 1 else ""))
    with transaction(con):
        con.executemany("INSERT INTO case_assignments (case_id, assignee, assigned_by, assigned_at) "
                        "VALUES (?, ?, ?, ?)", [[i, assignee, actor, now] for i in ids])
    return ids


def assignee_of(con, case_id: int) -> str | None:
    row = con.execute("SELECT assignee FROM case_assignee WHERE case_id = ?",
                      [cs.parse_case_id(case_id)]).fetchone()
    return row[0] if row else None


def analysts(con) -> list[str]:
    """The names a case can be assigned to."""
    return [r[0] for r in con.execute("SELECT name FROM users WHERE role = 'analyst' ORDER BY name").fetchall()]
