"""Decisions on several cases at once and their undo, in-process with a moving clock:
the exact window, someone else's decision, twice, and what the figures and training see."""
from __future__ import annotations

from datetime import timedelta

import pytest

from casekit import seed
from classifiers.labels import labels_dataset
from fakes.mastodon import MastodonReplayServer, make_status
from review import cases as cs
from review import decisions, metrics
from review import states as st
from warehouse.db import session


@pytest.fixture
def three(settings):
    with MastodonReplayServer(max_lifetime=60) as server:
        ids = seed(settings, server, [make_status(i) for i in (1, 2, 3)], [0.9, 0.8, 0.7])
    return settings, ids


def test_the_window_is_exact_and_only_the_decider_undoes_once(three):
    settings, ids = three
    t0 = cs.utcnow()
    with session(settings.db_path) as con:
        made = decisions.review_cases(con, ids, "confirm", "ana", severity="low", now=t0)
        assert [c["state"] for c in made["cases"]] == [st.CONFIRMED] * 3
        assert decisions.undoable(con, "ana", t0 + timedelta(minutes=4))["case_ids"] == sorted(ids)
        assert decisions.undoable(con, "bo", t0) is None
        with pytest.raises(cs.CaseError, match="made by ana; only they can undo it"):
            decisions.undo(con, ids, "bo", now=t0)
        with pytest.raises(cs.CaseError, match="was made 5 min ago; a decision can be undone for 5 min only"):
            decisions.undo_last(con, "ana", now=t0 + timedelta(minutes=5, seconds=1))
        assert decisions.undoable(con, "ana", t0 + timedelta(minutes=5, seconds=1)) is None
        # the dashboard and training count the confirmations while they stand
        assert sum(r["confirmed"] for r in metrics.dashboard(con, t0)["by_platform"]) == 3
        undone = decisions.undo_decision(con, made["decision_id"], "ana", now=t0 + timedelta(minutes=5))
        assert [c["state"] for c in undone["cases"]] == [st.DETECTED] * 3
        with pytest.raises(cs.CaseError, match="its last decision was undone already"):
            decisions.undo(con, ids[:1], "ana", now=t0 + timedelta(minutes=5))
        with pytest.raises(cs.CaseError, match="your last decision was an undo"):
            decisions.undo_last(con, "ana", now=t0 + timedelta(minutes=5))
        # nothing deleted: the confirmations are in the history, reversed; evidence stays frozen
        assert con.execute("SELECT count(*) FROM case_events WHERE to_state = 'CONFIRMED'").fetchone() == (3,)
        assert con.execute("SELECT count(*) FROM evidence").fetchone() == (3,)
        assert con.execute("SELECT count(*) FROM labels WHERE withdrawn_at IS NOT NULL").fetchone() == (3,)
        # ... but no figure counts an undone decision, and the model does not learn from it
        assert sum(r["confirmed"] for r in metrics.dashboard(con, t0)["by_platform"]) == 0
        assert metrics.dashboard(con, t0)["labels_from_review"] == 0
        assert labels_dataset(con) is None
        # decided again: a new decision, undoable on its own
        again = decisions.review_cases(con, ids[:1], "dismiss", "ana", now=t0 + timedelta(minutes=6))
        assert decisions.undoable(con, "ana", t0 + timedelta(minutes=6))["decision_id"] == again["decision_id"]


def test_automated_moves_and_moves_that_are_not_decisions_are_not_undone(three):
    settings, ids = three
    with session(settings.db_path) as con:
        with pytest.raises(cs.CaseError, match="moved since the last decision .*automatically"):
            decisions.undo(con, ids[:1], "tagwatch")  # its only event is the automated opening
        cs.move(con, ids[1], st.IN_REVIEW, "ana")  # a move, not a decision
        with pytest.raises(cs.CaseError, match=f"case {ids[1]} moved since the last decision"):
            decisions.undo(con, ids[1:2], "ana")
        with pytest.raises(cs.CaseError, match="no case 999"):
            decisions.undo(con, [999], "ana")
        with pytest.raises(cs.CaseError, match="no decision 42"):
            decisions.undo_decision(con, 42, "ana")
    with pytest.raises(st.IllegalMove, match="cannot be undone"):
        st.check_undo(st.PLATFORM_ACTIONED, st.MISMATCH)


def test_the_suggestion_follows_the_classifier():
    row = {"score": 0.95, "categories": {"insult": 0.2, "threat": 0.6},
           "explanation": [{"term": "headteacher", "signal": "aimed at school staff"}], "staff_target": 0.9}
    assert decisions.suggestion(row) == {"category": "threat", "target_role": "head_teacher", "severity": "high"}
    assert decisions.suggestion({"score": 0.75, "categories": {"insult": 0.3}, "staff_target": 0.7}) == \
        {"category": "insult", "target_role": "teacher", "severity": "medium"}
    assert decisions.suggestion({}) == {"category": "other", "target_role": None, "severity": "low"}


def test_a_bulk_decision_and_its_undo_sent_while_a_load_ran_are_applied_from_the_journal(three):
    """The review app journals a decision when a load holds the warehouse; the next writer
    applies it with the time it was sent (so the undo window counts from then)."""
    from review import journal

    settings, ids = three
    sent = cs.utcnow()
    journal.append(settings.db_path, "decide", ids[0], {"cases": ",".join(map(str, ids)), "decision": "confirm",
                                                        "severity": "medium"}, "ana", now=sent)
    with session(settings.db_path) as con:
        applied = journal.apply_pending(con, settings.db_path)
        assert [a["outcome"] for a in applied] == ["applied"]
        assert {cs.state_of(con, i) for i in ids} == {st.CONFIRMED}
        made = decisions.last_decision(con, "ana")
    journal.append(settings.db_path, "undo", ids[0], {"decision_id": made["decision_id"],
                                                      "cases": ",".join(map(str, ids)), "window_minutes": "5"},
                   "ana", now=sent + timedelta(minutes=6))  # sent after the window: refused
    journal.append(settings.db_path, "undo", ids[0], {"decision_id": made["decision_id"], "window_minutes": "5"},
                   "ana", now=sent + timedelta(minutes=4))
    with session(settings.db_path) as con:
        applied = journal.apply_pending(con, settings.db_path)
        assert [a["outcome"] for a in applied] == ["refused", "applied"]
        assert "can be undone for 5 min only" in applied[0]["detail"]
        assert {cs.state_of(con, i) for i in ids} == {st.DETECTED}
