"""Case operations on a real warehouse: events, evidence, labels, reports, answers, the 48 h deadline."""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import duckdb
import pytest

from casekit import HOSTILE, hostile_content, seed
from review import cases as cs
from review import states as st
from fakes.mastodon import MastodonReplayServer, make_status
from warehouse.db import session

TABLES = ("cases", "case_events", "evidence", "reports", "platform_answers", "rechecks", "labels")


@pytest.fixture
def two_cases(settings):
    with MastodonReplayServer(max_lifetime=60) as server:
        ids = seed(settings, server, [make_status(1, content=hostile_content(), favourites_count=7),
                                      make_status(2, content="<p>Miss Example is a liar</p>")], [0.93, 0.71])
        yield settings, ids, server


def snapshot(settings):
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        return {t: sorted(map(str, con.execute(f"SELECT * FROM {t}").fetchall())) for t in TABLES}


def test_flagged_posts_open_cases_once_worst_first(two_cases):
    settings, ids, _ = two_cases
    with session(settings.db_path) as con:
        assert cs.open_flagged(con) == 0  # already open: nothing new
        rows = cs.list_cases(con)
    assert [r["case_id"] for r in rows] == ids  # 0.93 before 0.71
    assert {r["state"] for r in rows} == {st.DETECTED}


def test_confirm_freezes_evidence_appends_events_and_adds_a_review_label(two_cases):
    settings, (first, _), _ = two_cases
    with session(settings.db_path) as con:
        cs.review(con, first, "confirm", "ana", category="allegation", target_role="teacher",
                  severity="high", note="names a teacher")
        con.execute("UPDATE posts SET text = 'edited later', like_count = 99")  # the post changes
        info = cs.show(con, first)
        label = con.execute("SELECT label, category, source, added_by FROM labels").fetchall()
    ev = info["evidence"]
    assert ev["text"] == HOSTILE and ev["like_count"] == 7
    assert ev["content_sha256"] == hashlib.sha256(ev["content_json"].encode()).hexdigest()
    assert json.loads(ev["content_json"])["text"] == ev["text"]
    assert (ev["model_version"], ev["score"], ev["category"], ev["target_role"]) == \
        ("test-model", pytest.approx(0.93), "allegation", "teacher")
    assert [(e["from_state"], e["to_state"], e["actor"], e["automated"]) for e in info["events"]] == \
        [(None, "DETECTED", "tagwatch", True), ("DETECTED", "CONFIRMED", "ana", False)]
    assert label == [(1, "allegation", "review", "ana")]


def test_dismiss_is_a_negative_label_and_can_be_reopened(two_cases):
    settings, (_, second), _ = two_cases
    with session(settings.db_path) as con:
        cs.review(con, second, "dismiss", "ana")
        cs.move(con, second, st.IN_REVIEW, "bo", note="second look")
        cs.review(con, second, "confirm", "bo", category="insult")
        labels = con.execute("SELECT label, added_by FROM labels ORDER BY label_id").fetchall()
        assert cs.state_of(con, second) == st.CONFIRMED
    assert labels == [(0, "ana"), (1, "bo")]


@pytest.mark.parametrize("action, message", [
    (lambda con, c: cs.report(con, c, "in-app", "R1", "ana"), "a case in DETECTED cannot move to REPORTED"),
    (lambda con, c: cs.review(con, c, "confirm", "ana", category="rude"), "category must be one of"),
    (lambda con, c: cs.review(con, c, "maybe", "ana"), "decision must be confirm or dismiss"),
    (lambda con, c: cs.review(con, c, "confirm", " "), "needs an actor"),
    (lambda con, c: cs.answer(con, c, "removed", "gone", "ana"), "has no report yet"),
    (lambda con, c: cs.move(con, c, st.MISMATCH, "ana"), "use review / report / answer"),
    (lambda con, c: cs.move(con, c, st.CLOSED, "ana"), "DETECTED cannot move to CLOSED"),
    (lambda con, c: cs.review(con, "x7", "confirm", "ana"), "not a case id"),
    (lambda con, c: cs.review(con, 999, "confirm", "ana"), "no case 999"),
    (lambda con, c: cs.open_post(con, "mastodon", "nope", "ana"), "no mastodon post 'nope'"),
])
def test_refused_actions_say_why_and_change_nothing(two_cases, action, message):
    settings, (first, _), _ = two_cases
    before = snapshot(settings)
    with session(settings.db_path) as con, pytest.raises(cs.CaseError if "cannot move" not in message
                                                         else st.IllegalMove, match=message):
        action(con, first)
    assert snapshot(settings) == before


def test_report_checks_its_input_and_a_second_confirmation_does_not_refreeze(two_cases):
    settings, (first, _), _ = two_cases
    with session(settings.db_path) as con:
        cs.review(con, first, "confirm", "ana")
        for bad, message in ((("fax", "R1"), "channel must be one of"), (("form", "  "), "reference")):
            with pytest.raises(cs.CaseError, match=message):
                cs.report(con, first, *bad, "ana")
        with pytest.raises(cs.CaseError, match="in the future"):
            cs.report(con, first, "form", "R1", "ana", sent_at=cs.utcnow() + timedelta(hours=2))
        assert cs.state_of(con, first) == st.CONFIRMED
        with pytest.raises(st.IllegalMove, match="CONFIRMED cannot move to CONFIRMED"):
            cs.review(con, first, "confirm", "bo")


def test_answers_move_the_case_and_are_kept_verbatim(two_cases):
    settings, (first, second), _ = two_cases
    with session(settings.db_path) as con:
        for case in (first, second):
            cs.review(con, case, "confirm", "ana")
            cs.report(con, case, "in-app", f"TT-{case}", "ana")
        assert cs.answer(con, first, "removed", "We removed the content <b>", "ana") == st.PLATFORM_ACTIONED
        assert cs.answer(con, second, "no_violation", "No violation found.", "ana") == st.PLATFORM_REJECTED
        with pytest.raises(cs.CaseError, match="verbatim"):
            cs.answer(con, first, "removed", "", "ana")
        with pytest.raises(cs.CaseError, match="before the report"):
            cs.answer(con, second, "other", "x", "ana", answered_at=cs.utcnow() - timedelta(days=1))
        assert cs.show(con, first)["answers"][0]["text"] == "We removed the content <b>"
        cs.report(con, second, "helpline", "POSH-1", "ana")  # reported again after a refusal
        assert cs.state_of(con, second) == st.REPORTED


def test_no_answer_within_48_hours_becomes_no_response_automatically(two_cases):
    settings, (first, second), _ = two_cases
    with session(settings.db_path) as con:
        sent = cs.utcnow() - timedelta(hours=1)
        con.execute("UPDATE posts SET first_seen_at = first_seen_at - INTERVAL 2 HOUR")  # seen before sent
        for case in (first, second):
            cs.review(con, case, "confirm", "ana")
            cs.report(con, case, "form", f"F-{case}", "ana", sent_at=sent)
        cs.answer(con, second, "other", "We need more information.", "ana")  # an answer stops the clock
        assert cs.apply_deadlines(con, sent + timedelta(hours=47, minutes=59)) == []
        assert cs.apply_deadlines(con, sent + timedelta(hours=48)) == [first]
        assert cs.apply_deadlines(con, sent + timedelta(hours=49)) == []  # once only
        event = cs.show(con, first)["events"][-1]
        assert (event["to_state"], event["automated"], event["actor"]) == (st.NO_RESPONSE, True, "tagwatch")
        assert cs.state_of(con, second) == st.REPORTED
        assert cs.answer(con, first, "removed", "Late, but removed.", "ana") == st.PLATFORM_ACTIONED
