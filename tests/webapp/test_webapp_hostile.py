"""Issue 13 items 8 and 9 in the review app: "re-check now" never holds a page for a long
Retry-After (the hourly re-check asks again), and a post URL that is not http(s) (a row
from before collection refused them) is shown as text, never as a link."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from casekit import seed
from fakes.mastodon import Faults, MastodonReplayServer, make_status
from review import cases as cs
from review import users
from warehouse.db import session
from webapp.app import create_app
from webkit import PASSWORD, login


@pytest.fixture
def reported_case(settings):
    with MastodonReplayServer(max_lifetime=120) as server:
        [case] = seed(settings, server, [make_status(1)], [0.9])
        with session(settings.db_path) as con:
            users.add_user(con, "ana", "analyst", PASSWORD)
            cs.review(con, case, "confirm", "ana", category="allegation")
            cs.report(con, case, "form", "R-1", "ana")
        yield settings, server, case


def test_recheck_now_does_not_wait_for_a_long_retry_after(reported_case, monkeypatch):
    settings, server, case = reported_case
    monkeypatch.setattr("time.sleep", lambda s: pytest.fail(f"a page waited {s} s"))
    client = TestClient(create_app(settings.db_path, settings=settings))
    token = login(client, "ana")
    server.faults = Faults(rate_limit_requests=set(range(len(server.requests) + 1, 100)), retry_after="900")
    r = client.post(f"/cases/{case}/recheck", data={"csrf": token})
    assert r.status_code == 200 and "re-checked: error" in r.text
    assert "the hourly re-check will ask again" in r.text
    with session(settings.db_path) as con:
        [seen] = cs.show(con, case)["rechecks"]
    assert "900 s" in seen["detail"] and "5 s allowed" in seen["detail"]


def test_a_javascript_post_url_is_never_a_link(reported_case):
    settings, _, case = reported_case
    with session(settings.db_path) as con:
        for table in ("posts", "evidence"):   # rows from before collection refused such URLs
            con.execute(f"UPDATE {table} SET url = 'javascript:alert(document.cookie)'")
    client = TestClient(create_app(settings.db_path, settings=settings))
    login(client, "ana")
    page = client.get(f"/cases/{case}").text
    assert "javascript:alert(document.cookie)" in page and 'href="javascript:' not in page
