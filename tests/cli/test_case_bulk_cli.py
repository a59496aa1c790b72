"""Several case ids in one `case review` / `case report`, `case undo`, `case assign`, and the two
traps of issue 17 (a case the platform actioned could not be closed by hand; a report "sent"
before the post was first seen made the dashboard show negative hours), as a user runs them.
The finer points of undo (the exact window, another person's decision, twice) are
tests/review/test_decisions.py, in-process."""
from __future__ import annotations

import dataclasses

import duckdb
import pytest

from casekit import seed
from fakes.mastodon import MastodonReplayServer, make_status
from review import cases as cs
from review import decisions, users
from test_cli import run
from warehouse.db import session


def _seed(settings, n):
    with MastodonReplayServer(max_lifetime=60) as server:
        return seed(settings, server, [make_status(i) for i in range(1, n + 1)], [0.9 - i / 100 for i in range(n)])


def _query(settings, sql, params=()):
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


@pytest.mark.slow
def test_several_ids_in_review_and_report_and_the_undo_of_the_last_decision(settings):
    ids = [str(i) for i in _seed(settings, 5)]
    out = run(settings, "case", "review", *ids[:3], "--decision", "confirm", "--category", "threat",
              "--target-role", "teacher", "--severity", "high", "--actor", "ana").stdout
    assert out.splitlines() == [f"case {i}: CONFIRMED (threat); evidence frozen" for i in ids[:3]]
    # each case its own event, evidence and label
    assert _query(settings, "SELECT case_id, count(*) FROM case_events WHERE to_state = 'CONFIRMED' "
                  "GROUP BY 1 ORDER BY 1") == [(i, 1) for i in sorted(map(int, ids[:3]))]
    assert _query(settings, "SELECT count(*), count(DISTINCT content_sha256) FROM evidence "
                  "WHERE severity = 'high' AND target_role = 'teacher'") == [(3, 3)]
    assert _query(settings, "SELECT count(*) FROM labels WHERE source = 'review'") == [(3,)]
    # the single-id form answers as it always did
    assert run(settings, "case", "review", ids[3], "--decision", "dismiss", "--actor", "ana").stdout == \
        f"case {ids[3]}: DISMISSED\n"
    # one case refusing refuses them all, naming it
    refused = run(settings, "case", "review", ids[4], ids[3], "--decision", "confirm", check=False)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"case {ids[3]}: a case in DISMISSED cannot move to CONFIRMED" in refused.stderr
    assert "nothing was changed" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert _query(settings, "SELECT state FROM case_state WHERE case_id = ?", [ids[4]]) == [("DETECTED",)]

    # a report sent before the post was first seen is refused (the dashboard would show negative hours)
    early = run(settings, "case", "report", ids[0], ids[1], "--channel", "form", "--reference", "HELP-1",
                "--sent-at", "2021-11-20T10:00Z", check=False)
    assert early.returncode == 1 and "before the post was first seen" in early.stderr
    assert len(early.stderr.strip().splitlines()) == 1 and _query(settings, "SELECT count(*) FROM reports") == [(0,)]
    out = run(settings, "case", "report", ids[0], ids[1], "--channel", "form", "--reference", "HELP-1",
              "--actor", "ana").stdout
    assert out.splitlines() == [f"case {ids[0]}: REPORTED (report 1)", f"case {ids[1]}: REPORTED (report 2)"]

    # undo within the window: a compensating event; the report is kept, marked withdrawn
    assert run(settings, "case", "undo", ids[1], "--actor", "ana").stdout == \
        f"case {ids[1]}: REPORTED undone, back to CONFIRMED\n"
    assert _query(settings, "SELECT to_state, note LIKE 'undo of the report by ana%' FROM case_events "
                  "WHERE case_id = ? ORDER BY event_id DESC LIMIT 1", [ids[1]]) == [("CONFIRMED", True)]
    assert _query(settings, "SELECT report_id, withdrawn_at IS NOT NULL FROM reports ORDER BY 1") == \
        [(1, False), (2, True)]
    # after a later event on the case
    with session(settings.db_path) as con:
        cs.answer(con, ids[0], "removed", "Removed.", "ana")
    later = run(settings, "case", "undo", ids[0], "--actor", "ana", check=False)
    assert later.returncode == 1 and f"case {ids[0]} moved since the last decision" in later.stderr
    # after the window (TAGWATCH_UNDO_MINUTES=0: every decision is older than the window)
    closed = run(dataclasses.replace(settings, undo_minutes=0.0), "case", "undo", ids[2], "--actor", "ana",
                 check=False)
    assert closed.returncode == 1 and "can be undone for 0 s only" in closed.stderr
    assert "Traceback" not in later.stderr + closed.stderr
    assert len(later.stderr.strip().splitlines()) == len(closed.stderr.strip().splitlines()) == 1
    # --last: the actor's last decision, all its cases
    with session(settings.db_path) as con:
        decisions.review_cases(con, [ids[4]], "dismiss", "ana")
    assert run(settings, "case", "undo", "--last", "--actor", "ana").stdout == \
        f"case {ids[4]}: DISMISSED undone, back to DETECTED\n"
    assert _query(settings, "SELECT to_state FROM case_events WHERE case_id = ? ORDER BY event_id", [ids[4]]) == \
        [("DETECTED",), ("DISMISSED",), ("DETECTED",)]
    assert _query(settings, "SELECT count(*) FROM labels WHERE withdrawn_at IS NOT NULL") == [(1,)]


@pytest.mark.slow
def test_a_case_the_platform_actioned_can_be_closed_by_hand_and_cases_can_be_assigned(settings):
    ids = [str(i) for i in _seed(settings, 2)]
    with session(settings.db_path) as con:
        cs.review(con, ids[0], "confirm", "ana")
        cs.report(con, ids[0], "in-app", "R-1", "ana")
        cs.answer(con, ids[0], "removed", "Removed.", "ana")
        users.add_user(con, "ana", "analyst", "a long passphrase")
        users.add_user(con, "vic", "viewer", "a long passphrase")
    wrong = run(settings, "case", "move", ids[0], "--to", "ESCALATED", check=False)
    assert wrong.returncode == 1
    assert ("a case in PLATFORM_ACTIONED cannot move to ESCALATED; from PLATFORM_ACTIONED a person can "
            "move it to CLOSED; re-checks and the 48 h deadline move it to MISMATCH, OFFLINE_VERIFIED") \
        in wrong.stderr
    no_reason = run(settings, "case", "move", ids[0], "--to", "CLOSED", check=False)
    assert no_reason.returncode == 1 and "needs a reason (--note)" in no_reason.stderr
    assert run(settings, "case", "move", ids[0], "--to", "CLOSED", "--note", "checked by hand: gone").stdout == \
        f"case {ids[0]}: CLOSED\n"

    assert run(settings, "case", "assign", *ids, "--to", "ana", "--actor", "lead").stdout.splitlines() == \
        [f"case {i}: assigned to ana" for i in ids]
    refused = run(settings, "case", "assign", ids[1], "--to", "vic", check=False)
    assert refused.returncode == 1 and "cases are assigned to analysts" in refused.stderr
    missing = run(settings, "case", "assign", ids[1], "99", "--to", "ana", check=False)
    assert missing.returncode == 1 and "no case 99; nothing was changed" in missing.stderr
    assert "Traceback" not in refused.stderr + missing.stderr
    assert run(settings, "case", "assign", ids[1], "--nobody").stdout == f"case {ids[1]}: unassigned\n"
    assert dict(_query(settings, "SELECT case_id, assignee FROM case_assignee")) == \
        {int(ids[0]): "ana", int(ids[1]): None}
    assert _query(settings, "SELECT count(*) FROM case_assignments") == [(3,)]  # every assignment kept
