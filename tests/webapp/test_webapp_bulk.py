"""The queue's bulk decisions, the Undo button, assignment and the queue's narrowed views over
HTTP: every new route checks the CSRF token and the role (a viewer decides nothing)."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from casekit import seed
from fakes.mastodon import MastodonReplayServer, make_status
from review import users
from warehouse.db import session
from webapp.app import create_app
from webkit import PASSWORD, login, state


@pytest.fixture
def queue(settings):
    with MastodonReplayServer(max_lifetime=60) as server:
        statuses = [make_status(i, username="troll" if i < 3 else f"u{i}") for i in (1, 2, 3, 4)]
        ids = seed(settings, server, statuses, [0.9, 0.8, 0.7, 0.6])
    with session(settings.db_path) as con:
        users.add_user(con, "ana", "analyst", PASSWORD)
        users.add_user(con, "una", "viewer", PASSWORD)
    return settings, ids


def test_a_viewer_and_a_forged_form_decide_nothing(queue):
    settings, ids = queue
    client = TestClient(create_app(settings.db_path, settings=settings))
    token = login(client, "una")
    page = client.get("/").text
    assert 'id="bulk"' not in page and 'class="pick"' not in page  # nothing to select
    for path, data in (("/queue/decide", {"case": ids[:2], "decision": "confirm"}),
                       ("/undo", {"decision_id": "1", "cases": str(ids[0])}),
                       (f"/cases/{ids[0]}/assign", {"assignee": "una"})):
        assert client.post(path, data={**data, "csrf": token}).status_code == 403
    analyst = TestClient(create_app(settings.db_path, settings=settings))
    login(analyst, "ana")
    for path in ("/queue/decide", "/undo", f"/cases/{ids[0]}/assign"):
        assert analyst.post(path, data={"csrf": "forged", "case": ids[:2], "decision": "confirm"}).status_code == 403
    assert {state(analyst, i) for i in ids} == {"DETECTED"}


def test_bulk_confirm_then_undo_then_assign(queue):
    settings, ids = queue
    client = TestClient(create_app(settings.db_path, settings=settings))
    token = login(client, "ana")
    # all open cases of one author: the queue narrowed to them
    author = re.search(r'href="/\?author=([^"]+)"', client.get("/").text).group(1)
    narrowed = client.get(f"/?author={author}").text
    assert re.findall(r'data-case="(\d+)"', narrowed) == [str(i) for i in ids[:2]]
    assert re.findall(r'data-case="(\d+)"', client.get("/?tag=teachersoftiktok").text) == [str(i) for i in ids]
    r = client.post("/queue/decide", data={"csrf": token, "case": [str(i) for i in ids[:2]], "decision": "confirm",
                                            "category": "threat", "target_role": "teacher", "severity": "high",
                                            "back": "/?tag=teachersoftiktok"})
    assert f"2 cases confirmed: #{ids[0]}, #{ids[1]}" in r.text and str(r.url).endswith("/?tag=teachersoftiktok")
    assert [state(client, i) for i in ids] == ["CONFIRMED", "CONFIRMED", "DETECTED", "DETECTED"]
    page = client.get("/").text
    form = re.search(r'<form method="post" action="/undo" id="undo-form".*?</form>', page, re.S).group(0)
    assert "confirm</strong> of 2 cases" in form
    data = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
    data["window_minutes"] = "99999"  # a forged window is not used
    r = client.post("/undo", data=data)
    assert "undone: " + ", ".join(f"#{i}" for i in sorted(ids[:2])) in r.text and 'id="undo-form"' not in r.text
    assert [state(client, i) for i in ids] == ["DETECTED"] * 4
    r = client.post("/undo", data=data)
    assert "not undone" in r.text and "undone already" in r.text
    # a refused bulk decision changes nothing and says which case
    client.post(f"/cases/{ids[3]}/review", data={"csrf": token, "decision": "dismiss"})
    r = client.post("/queue/decide", data={"csrf": token, "case": [str(ids[2]), str(ids[3])], "decision": "dismiss"})
    assert f"case {ids[3]}: a case in DISMISSED cannot move to DISMISSED" in r.text
    assert state(client, ids[2]) == "DETECTED"
    r = client.post("/queue/decide", data={"csrf": token, "decision": "dismiss"})
    assert "select the cases first" in r.text
    # assignment and the "assigned to me" view
    assert re.findall(r'data-case="(\d+)"', client.get("/?assigned=me").text) == []
    r = client.post(f"/cases/{ids[1]}/assign", data={"csrf": token, "assignee": "ana"})
    assert f"case {ids[1]}: assigned to ana" in r.text and 'id="assignee">ana<' in r.text
    assert re.findall(r'data-case="(\d+)"', client.get("/?assigned=me").text) == [str(ids[1])]
    r = client.post(f"/cases/{ids[1]}/assign", data={"csrf": token, "assignee": "una"})
    assert "cases are assigned to analysts" in r.text


def test_every_open_case_of_one_incident_decided_at_once(settings):
    same = "<p>The same invented allegation about a teacher at Fernbrook, posted twice</p>"
    with MastodonReplayServer(max_lifetime=60) as server:
        ids = seed(settings, server, [make_status(1, content=same, username="a"), make_status(2),
                                      make_status(3, content=same, username="b")], [0.9, 0.8, 0.7])
    with session(settings.db_path) as con:
        users.add_user(con, "ana", "analyst", PASSWORD)
    client = TestClient(create_app(settings.db_path, settings=settings))
    token = login(client, "ana")
    incident = re.search(r'href="/\?incident=(\d+)"', client.get("/").text).group(1)
    narrowed = client.get(f"/?incident={incident}").text
    picked = re.findall(r'class="pick" name="case" value="(\d+)"', narrowed)
    assert sorted(picked) == sorted(str(i) for i in (ids[0], ids[2]))
    r = client.post("/queue/decide", data={"csrf": token, "case": picked, "decision": "confirm",
                                            "severity": "high", "back": f"/?incident={incident}"})
    assert "2 cases confirmed" in r.text and "Nothing waiting for review" in r.text
    assert [state(client, i) for i in ids] == ["CONFIRMED", "DETECTED", "CONFIRMED"]
