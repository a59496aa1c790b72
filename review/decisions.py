"""Decisions on one case or many at once (confirm, dismiss, report), and the undo of the last one.

A decision on several cases is made case by case through review.cases (each case gets its own
event, evidence, label and report), in one transaction: if any case refuses (it moved
meanwhile, its post is missing), nothing is written and the message names that case.

Every decision is recorded (`decisions`, `decision_cases`: which event, report and label it
wrote on which case), so the last one can be undone for a few minutes (UNDO_WINDOW, setting
TAGWATCH_UNDO_MINUTES) by the person who made it: the undo appends the reverse move to each
case (a compensating event, see states.check_undo) and marks the report and the training label
the decision wrote as withdrawn. Nothing is deleted. An undo is refused, with a one-line reason,
once the window has passed, once the case has moved since, or when it was undone already.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from review import cases as cs
from review import states as st
from warehouse.db import transaction
from warehouse.queries import STAFF_AIMED, dict_rows

UNDO_WINDOW = timedelta(minutes=5)
MAX_CASES = 1000  # cases one decision may take (the queue shows at most 500)
REVIEW_DECISIONS = ("confirm", "dismiss")


def parse_case_ids(values) -> list[int]:
    """Case ids as typed ('12', '#13', '12,14'), each once, in the order given."""
    ids: list[int] = []
    for value in values if isinstance(values, (list, tuple)) else [values]:
        for part in str(value).split(","):
            if part.strip():
                case_id = cs.parse_case_id(part)
                if case_id not in ids:
                    ids.append(case_id)
    if not ids:
        raise cs.CaseError("no case given")
    if len(ids) > MAX_CASES:
        raise cs.CaseError(f"{len(ids)} cases at once: one decision takes at most {MAX_CASES}")
    return ids


def review_cases(con, case_ids, decision: str, actor: str, category: str | None = None,
                 target_role: str | None = None, severity: str | None = None,
                 note: str | None = None, now: datetime | None = None) -> dict:
    """Confirm or dismiss every case in `case_ids` with one category, target and severity
    (a category left out is each case's own strongest). Returns {"decision_id", "cases"}."""
    if decision not in REVIEW_DECISIONS:
        raise cs.CaseError(f"decision must be confirm or dismiss, not {decision!r}")
    ids, now = parse_case_ids(case_ids), now or cs.utcnow()

    def one(case_id):
        done = cs.review(con, case_id, decision, actor, category, target_role, severity, note, now=now)
        label = con.execute("SELECT max(label_id) FROM labels l JOIN cases c USING (platform, post_id) "
                            "WHERE c.case_id = ? AND l.source = 'review'", [case_id]).fetchone()[0]
        return done, None, label
    return _decide(con, ids, decision, actor, now, one)


def report_cases(con, case_ids, channel: str, reference: str, actor: str,
                 sent_at: datetime | None = None, now: datetime | None = None) -> dict:
    """Record one report (channel, the platform's reference) for every case in `case_ids`."""
    ids, now = parse_case_ids(case_ids), now or cs.utcnow()

    def one(case_id):
        report_id = cs.report(con, case_id, channel, reference, actor, sent_at, now=now)
        return {"case_id": case_id, "state": st.REPORTED, "report_id": report_id}, report_id, None
    return _decide(con, ids, "report", actor, now, one)


def _decide(con, ids: list[int], action: str, actor: str, now: datetime, one) -> dict:
    actor = (actor or "").strip()
    done = []
    with transaction(con):
        decision_id = _record_decision(con, action, actor, now)
        for case_id in ids:
            try:
                result, report_id, label_id = one(case_id)
            except (cs.CaseError, ValueError) as exc:
                raise cs.CaseError(_about(case_id, exc, len(ids))) from None
            con.execute("INSERT INTO decision_cases (decision_id, case_id, event_id, report_id, label_id) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [decision_id, case_id, last_event(con, case_id)["event_id"], report_id, label_id])
            done.append(result)
    return {"decision_id": decision_id, "cases": done}


def _record_decision(con, action: str, actor: str, now: datetime, undoes: int | None = None) -> int:
    return con.execute("INSERT INTO decisions (action, actor, decided_at, undoes) VALUES (?, ?, ?, ?) "
                       "RETURNING decision_id", [action, actor or "?", now, undoes]).fetchone()[0]


def _about(case_id: int, exc: Exception, many: int) -> str:
    """The refusal as it always read for one case; for several, naming the case."""
    text = str(exc)
    if many == 1:
        return text
    if not text.startswith((f"case {case_id}", f"no case {case_id}")):
        text = f"case {case_id}: {text}"
    return text + "; nothing was changed"


def last_event(con, case_id: int) -> dict:
    rows = dict_rows(con.execute(
        "SELECT event_id, from_state, to_state, actor, occurred_at, automated FROM case_events "
        "WHERE case_id = ? ORDER BY event_id DESC LIMIT 1", [case_id]))
    if not rows:
        raise cs.CaseError(f"no case {case_id}")
    return rows[0]


# --- undo ---------------------------------------------------------------------------------

def last_decision(con, actor: str) -> dict | None:
    """The actor's latest decision (an undo included), with its cases; None if none."""
    rows = dict_rows(con.execute(
        "SELECT decision_id, action, actor, decided_at, undoes FROM decisions WHERE actor = ? "
        "ORDER BY decision_id DESC LIMIT 1", [(actor or "").strip()]))
    if not rows:
        return None
    found = rows[0]
    found["case_ids"] = [r[0] for r in con.execute(
        "SELECT case_id FROM decision_cases WHERE decision_id = ? ORDER BY case_id",
        [found["decision_id"]]).fetchall()]
    return found


def undoable(con, actor: str, now: datetime | None = None, window: timedelta = UNDO_WINDOW) -> dict | None:
    """The actor's last decision if it can still be undone (the review app's Undo button)."""
    found, now = last_decision(con, actor), now or cs.utcnow()
    if not found or found["action"] == "undo" or now - found["decided_at"] > window:
        return None
    try:
        _undo_plan(con, found["case_ids"], actor, now, window)
    except (cs.CaseError, ValueError):
        return None
    found["left"] = window - (now - found["decided_at"])
    return found


def undo_last(con, actor: str, now: datetime | None = None, window: timedelta = UNDO_WINDOW) -> dict:
    """Undo the actor's last decision (every case it moved)."""
    found = last_decision(con, actor)
    if found is None:
        raise cs.CaseError(f"{actor} has made no decision to undo")
    if found["action"] == "undo":
        raise cs.CaseError("your last decision was an undo; only a decision can be undone")
    return undo(con, found["case_ids"], actor, now, window)


def undo_decision(con, decision_id, actor: str, now: datetime | None = None,
                  window: timedelta = UNDO_WINDOW) -> dict:
    """Undo one decision (the review app's Undo button names it): all its cases."""
    try:
        decision_id = int(str(decision_id))
    except ValueError:
        raise cs.CaseError(f"not a decision id: {str(decision_id)[:40]!r}") from None
    ids = [r[0] for r in con.execute("SELECT case_id FROM decision_cases WHERE decision_id = ? "
                                     "ORDER BY case_id", [decision_id]).fetchall()]
    if not ids:
        raise cs.CaseError(f"no decision {decision_id}")
    plan = _undo_plan(con, ids, actor, now or cs.utcnow(), window)
    if any(p["decision_id"] != decision_id for p in plan):
        raise cs.CaseError(f"decision {decision_id} is not the last decision on its cases")
    return undo(con, ids, actor, now, window)


def undo(con, case_ids, actor: str, now: datetime | None = None, window: timedelta = UNDO_WINDOW) -> dict:
    """Undo the last decision on each case in `case_ids` (all or nothing): the reverse move is
    appended, the decision's report and label are marked withdrawn. Returns {"decision_id",
    "cases": [{"case_id", "state"}]}."""
    ids, now, actor = parse_case_ids(case_ids), now or cs.utcnow(), (actor or "").strip()
    plan = _undo_plan(con, ids, actor, now, window)
    done = []
    with transaction(con):
        undo_id = _record_decision(con, "undo", actor, now, undoes=max(p["decision_id"] for p in plan))
        for p in plan:
            note = (f"undo of the {p['action']} by {p['actor']} at {p['decided_at']:%Y-%m-%d %H:%M:%S} UTC "
                    f"(decision {p['decision_id']})")
            event_id = con.execute(
                "INSERT INTO case_events (case_id, from_state, to_state, actor, occurred_at, automated, note) "
                "VALUES (?, ?, ?, ?, ?, FALSE, ?) RETURNING event_id",
                [p["case_id"], p["to_state"], p["from_state"], actor, now, note]).fetchone()[0]
            con.execute("INSERT INTO decision_cases (decision_id, case_id, event_id, undoes_event_id) "
                        "VALUES (?, ?, ?, ?)", [undo_id, p["case_id"], event_id, p["event_id"]])
            if p["report_id"] is not None:
                con.execute("UPDATE reports SET withdrawn_at = ? WHERE report_id = ?", [now, p["report_id"]])
            if p["label_id"] is not None:
                con.execute("UPDATE labels SET withdrawn_at = ? WHERE label_id = ?", [now, p["label_id"]])
            done.append({"case_id": p["case_id"], "state": p["from_state"], "undid": p["to_state"]})
    return {"decision_id": undo_id, "cases": done}


def _undo_plan(con, ids: list[int], actor: str, now: datetime, window: timedelta) -> list[dict]:
    """What undoing the last decision on each case would do; CaseError (one line) if it cannot.
    One query for all the cases (the queue asks this on every page)."""
    rows = {r["case_id"]: r for r in dict_rows(con.execute(
        """
        WITH last AS (SELECT case_id, max(event_id) AS event_id FROM case_events
                      WHERE list_contains(?, case_id) GROUP BY case_id)
        SELECT l.case_id, e.event_id, e.from_state, e.to_state, e.actor AS moved_by, e.occurred_at,
               e.automated, dc.decision_id, dc.report_id, dc.label_id, d.action, d.actor, d.decided_at
        FROM last l JOIN case_events e USING (event_id)
        LEFT JOIN decision_cases dc ON dc.case_id = l.case_id AND dc.event_id = l.event_id
        LEFT JOIN decisions d ON d.decision_id = dc.decision_id
        """, [ids]))}
    plan = []
    for case_id in ids:
        made = rows.get(case_id)
        if made is None:
            raise cs.CaseError(f"no case {case_id}")
        if made["decision_id"] is None:
            raise cs.CaseError(_not_a_decision(case_id, made))
        if made["action"] == "undo":
            raise cs.CaseError(f"case {case_id}: its last decision was undone already")
        if made["actor"] != actor:
            raise cs.CaseError(f"case {case_id}: the decision was made by {made['actor']}; "
                               f"only they can undo it")
        age = now - made["decided_at"]
        if age > window:
            raise cs.CaseError(f"case {case_id}: the {made['action']} was made {_minutes(age)} ago; "
                               f"a decision can be undone for {_minutes(window)} only")
        st.check_undo(made["from_state"], made["to_state"])
        plan.append(made)
    return plan


def _not_a_decision(case_id: int, event: dict) -> str:
    who = "automatically" if event["automated"] else f"by {event['moved_by']}"
    return (f"case {case_id} moved since the last decision ({event['from_state'] or '-'} -> "
            f"{event['to_state']} {who} at {event['occurred_at']:%Y-%m-%d %H:%M} UTC): "
            "only a case's last move can be undone, when it is a decision")


def _minutes(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    return f"{seconds // 60} min" if seconds >= 120 else f"{seconds} s"


# --- what the queue's confirm form starts with ----------------------------------------------

# Staff words the classifier names (its "aimed at school staff" signals) -> the role recorded.
_ROLE_WORDS = (("head", "head_teacher"), ("principal", "head_teacher"), ("assistant", "teaching_assistant"),
               ("caretaker", "support_staff"), ("dinner", "support_staff"), ("lunch", "support_staff"),
               ("receptionist", "support_staff"), ("cleaner", "support_staff"), ("office", "support_staff"))
SEVERE_CATEGORIES = ("threat", "doxxing")


def suggestion(row: dict) -> dict:
    """The classifier's category, target and severity for a queue row (or a case's score):
    category: its strongest scored category (else other); target: the role of the staff it
    names (head teacher, teaching assistant, support staff; any other staff word or a
    staff_target of at least STAFF_AIMED: teacher; else none); severity: high for a threat or
    doxxing or a score of 0.9 or more, medium from 0.7, else low."""
    category = cs.strongest_category({"categories": row.get("categories")}) or "other"
    staff = [str(e.get("term", "")).lower() for e in row.get("explanation") or []
             if isinstance(e, dict) and e.get("signal")]
    target = None
    for term in staff:
        target = next((role for word, role in _ROLE_WORDS if word in term), None) or target or "teacher"
    if target is None and (row.get("staff_target") or 0) >= STAFF_AIMED:
        target = "teacher"
    score = row.get("score") or 0
    severity = ("high" if category in SEVERE_CATEGORIES or score >= 0.9
                else "medium" if score >= 0.7 else "low")
    return {"category": category, "target_role": target, "severity": severity}
