"""The platform's decision in the DSA statement-of-reasons fields: recorded with an answer from
the library, the command line, the web form and the decision journal; bad values refused in
one line with the warehouse unchanged."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta

import duckdb
import pytest
from fastapi.testclient import TestClient

from casekit import seed
from fakes.mastodon import MastodonReplayServer, make_status
from review import cases as cs
from review import dsa, journal, users
from warehouse.db import session
from webapp.app import create_app
from webkit import PASSWORD, login, state



def run(settings, *args, check=True):
    proc = subprocess.run([sys.executable, "-m", "tagwatch.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **settings.to_env()}, timeout=300)
    assert proc.returncode == 0 or not check, proc.stderr
    return proc


@pytest.fixture
def reported(settings):
    """Two confirmed cases, each reported to the platform."""
    with MastodonReplayServer(max_lifetime=60) as server:
        ids = seed(settings, server, [make_status(1), make_status(2)], [0.9, 0.8])
    with session(settings.db_path) as con:
        for case_id in ids:
            cs.review(con, case_id, "confirm", "ana")
            cs.report(con, case_id, "in-app", f"REF-{case_id}", "ana")
        users.add_user(con, "ana", "analyst", PASSWORD)
    return settings, ids


def answers(settings) -> list[tuple]:
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        return con.execute(f"SELECT case_id, outcome, {', '.join(dsa.FIELDS)} FROM platform_answers "
                           "ORDER BY answer_id").fetchall()


def test_short_forms_are_stored_as_the_databases_constants(reported):
    settings, (first, second) = reported
    with session(settings.db_path) as con:
        cs.answer(con, first, "removed", "Removed under our hate speech policy.", "ana", statement={
            "decision_ground": "illegal_content", "category": "illegal_or_harmful_speech",
            "automated_detection": "yes", "automated_decision": "partially",
            "application_date": "2026-03-03", "restriction": "account_suspended"})
        cs.answer(con, second, "no_violation", "No violation.", "ana",
                  statement={"restriction": "NO_ACTION", "category": "", "decision_ground": None})
        shown = cs.show(con, first)["answers"][0]
    assert answers(settings) == [
        (first, "removed", "DECISION_GROUND_ILLEGAL_CONTENT", "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
         True, "AUTOMATED_DECISION_PARTIALLY", date(2026, 3, 3), "DECISION_ACCOUNT_SUSPENDED"),
        (second, "no_violation", None, None, None, None, None, "NO_ACTION")]
    assert dsa.describe(shown) == (
        "decision_ground DECISION_GROUND_ILLEGAL_CONTENT; category STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH; "
        "automated_detection Yes; automated_decision AUTOMATED_DECISION_PARTIALLY; application_date 2026-03-03; "
        "restriction DECISION_ACCOUNT_SUSPENDED")


def test_an_answer_without_the_fields_stores_none(reported):
    settings, (first, _) = reported
    with session(settings.db_path) as con:
        cs.answer(con, first, "other", "We are looking into it.", "ana")
    assert answers(settings) == [(first, "other", None, None, None, None, None, None)]


TOMORROW_PLUS = (date.today() + timedelta(days=3)).isoformat()


BAD = [
    ({"decision_ground": "rude"}, "removed", "decision_ground 'rude' is not a DSA value; use one of: "
                                             "illegal_content, incompatible_content"),
    ({"category": "STATEMENT_CATEGORY_RUDENESS"}, "removed", "category 'STATEMENT_CATEGORY_RUDENESS' is not a DSA value"),
    ({"automated_detection": "maybe"}, "removed", "automated_detection 'maybe' must be yes or no"),
    ({"automated_decision": "AUTOMATED_DECISION_SOMEWHAT"}, "removed", "automated_decision 'AUTOMATED_DECISION_SOMEWHAT'"),
    ({"application_date": "3rd March"}, "removed", "application_date '3rd March' is not a date (YYYY-MM-DD)"),
    ({"application_date": TOMORROW_PLUS}, "removed", f"application_date {TOMORROW_PLUS} is in the future"),
    ({"application_date": "1999-12-31"}, "removed", "too early"),
    ({"restriction": "shadowbanned"}, "removed", "restriction 'shadowbanned' is not a DSA value"),
    ({"restriction": "no_action"}, "removed", 'the outcome "removed" contradicts the restriction no_action'),
    ({"restriction": "removed"}, "no_violation", 'the outcome "no_violation" contradicts the restriction removed'),
    ({"decision_grounds": "illegal_content"}, "removed", "unknown statement-of-reasons field(s) decision_grounds"),
]


def test_bad_values_are_refused_in_one_line_and_nothing_is_written(reported):
    settings, (first, _) = reported
    for fields, outcome, message in BAD:
        with session(settings.db_path) as con:
            with pytest.raises(dsa.DsaError) as err:
                cs.answer(con, first, outcome, "Answer.", "ana", statement=fields)
            assert cs.state_of(con, first) == "REPORTED"
        assert message in str(err.value) and "\n" not in str(err.value), (fields, str(err.value))
    assert answers(settings) == []


@pytest.mark.slow
def test_the_command_line_records_and_shows_the_fields_and_refuses_bad_ones(reported):
    settings, (first, second) = reported
    out = run(settings, "case", "answer", str(first), "--outcome", "removed", "--text", "Removed.",
              "--decision-ground", "terms_of_service", "--category", "cyber_violence",
              "--automated-detection", "no", "--automated-decision", "AUTOMATED_DECISION_NOT_AUTOMATED",
              "--decision-date", "2026-03-04", "--restriction", "visibility_reduced")
    assert out.stdout.strip() == f"case {first}: PLATFORM_ACTIONED"
    shown = run(settings, "case", "show", str(first)).stdout
    assert ("statement of reasons: decision_ground DECISION_GROUND_INCOMPATIBLE_CONTENT; category "
            "STATEMENT_CATEGORY_CYBER_VIOLENCE; automated_detection No; automated_decision "
            "AUTOMATED_DECISION_NOT_AUTOMATED; application_date 2026-03-04; restriction "
            "DECISION_VISIBILITY_CONTENT_DEMOTED") in shown
    as_json = json.loads(run(settings, "case", "show", str(first), "--format", "json").stdout)
    assert as_json["answers"][0]["application_date"] == "2026-03-04"
    bad = run(settings, "case", "answer", str(second), "--outcome", "removed", "--text", "x",
              "--automated-decision", "sometimes", check=False)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "automated_decision 'sometimes'" in bad.stderr
    assert [a[0] for a in answers(settings)] == [first]


def test_the_web_form_records_the_fields_and_refuses_bad_ones(reported):
    settings, (first, second) = reported
    client = TestClient(create_app(settings.db_path))
    token = login(client, "ana")
    page = client.get(f"/cases/{first}").text
    assert 'name="decision_ground"' in page and "<option>account_suspended</option>" in page
    client.post(f"/cases/{first}/answer", data={
        "csrf": token, "outcome": "removed", "text": "Gone.", "decision_ground": "illegal_content",
        "category": "protection_of_minors", "automated_detection": "", "automated_decision": "fully",
        "application_date": "2026-03-05", "restriction": "removed"})
    assert state(client, first) == "PLATFORM_ACTIONED"
    assert "statement of reasons: decision_ground DECISION_GROUND_ILLEGAL_CONTENT; category " \
           "STATEMENT_CATEGORY_PROTECTION_OF_MINORS; automated_decision AUTOMATED_DECISION_FULLY" \
           in client.get(f"/cases/{first}").text
    refused = client.post(f"/cases/{second}/answer", data={
        "csrf": token, "outcome": "removed", "text": "Gone.", "restriction": "<b>vanished</b>"})
    assert "restriction &#39;&lt;b&gt;vanished&lt;/b&gt;&#39; is not a DSA value" in refused.text \
        or "restriction '&lt;b&gt;vanished&lt;/b&gt;' is not a DSA value" in refused.text
    assert state(client, second) == "REPORTED"


def test_a_journalled_answer_keeps_its_fields(reported):
    settings, (first, _) = reported
    journal.append(settings.db_path, "answer", first, {
        "outcome": "removed", "text": "Removed.", "decision_ground": "illegal_content",
        "restriction": "DECISION_VISIBILITY_CONTENT_DISABLED", "automated_detection": "no"}, "ana")
    with session(settings.db_path) as con:
        [result] = journal.apply_pending(con, settings.db_path)
    assert result["outcome"] == "applied"
    assert answers(settings)[0][2:] == ("DECISION_GROUND_ILLEGAL_CONTENT", None, False, None, None,
                                        "DECISION_VISIBILITY_CONTENT_DISABLED")
