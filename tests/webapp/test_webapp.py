"""The review app over HTTP: login, CSRF, roles, escaping, and every route refusing strangers."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from casekit import HOSTILE, hostile_content, seed
from review import journal, users
from fakes.mastodon import MastodonReplayServer, make_status
from warehouse.db import session
from webapp.app import create_app
from webkit import PASSWORD, csrf, login, state


@pytest.fixture
def app_db(settings):
    with MastodonReplayServer(max_lifetime=60) as server:
        ids = seed(settings, server, [make_status(1, content=hostile_content()), make_status(2)], [0.9, 0.8])
    with session(settings.db_path) as con:
        users.add_user(con, "ana", "analyst", PASSWORD)
        users.add_user(con, "una", "viewer", PASSWORD)
    return settings.db_path, ids


def test_every_route_refuses_requests_without_a_login(app_db):
    app = create_app(app_db[0])
    client = TestClient(app, follow_redirects=False)
    routes = [(m, r.path) for r in app.routes for m in getattr(r, "methods", ()) if m != "HEAD"]
    assert len(routes) >= 10
    for method, path in routes:
        if path == "/login":
            continue
        response = client.request(method, path.replace("{case_id}", "1"), data={"decision": "confirm"})
        if method == "GET":
            assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
        else:
            assert response.status_code == 401, path
        assert "Mr Invented" not in response.text
    with session(app_db[0]) as con:
        assert con.execute("SELECT count(*) FROM case_events").fetchone()[0] == 2  # only the openings


def test_wrong_password_and_unknown_user_are_refused_alike(app_db):
    client = TestClient(create_app(app_db[0]))
    for name, password in (("ana", "wrong password"), ("nobody", PASSWORD)):
        r = client.post("/login", data={"csrf": csrf(client.get("/login")), "name": name, "password": password})
        assert r.status_code == 401 and "wrong name or password" in r.text


def test_forms_without_the_sessions_csrf_token_are_refused(app_db):
    db, (first, _) = app_db
    client = TestClient(create_app(db))
    token = login(client, "ana")
    for bad in ({}, {"csrf": "forged"}):
        r = client.post(f"/cases/{first}/review", data={"decision": "confirm", **bad})
        assert r.status_code == 403
    r = client.post("/login", data={"name": "ana", "password": PASSWORD})  # login CSRF too
    assert r.status_code == 403
    assert state(client, first) == "DETECTED" and token


def test_a_viewer_reads_but_cannot_change(app_db):
    db, (first, _) = app_db
    client = TestClient(create_app(db))
    token = login(client, "una")
    assert client.get(f"/cases/{first}").status_code == 200
    assert 'action="/cases/1/review"' not in client.get(f"/cases/{first}").text
    r = client.post(f"/cases/{first}/review", data={"csrf": token, "decision": "confirm"})
    assert r.status_code == 403 and "viewers" in r.text
    assert state(client, first) == "DETECTED"


def test_analyst_path_and_hostile_text_is_escaped_on_every_page(app_db):
    db, (first, second) = app_db
    client = TestClient(create_app(db))
    token = login(client, "ana")
    pages = [client.get(p) for p in ("/", "/cases", f"/cases/{first}", "/dashboard")]
    client.post(f"/cases/{first}/review?from=queue", data={"csrf": token, "decision": "confirm",
                                                          "category": "allegation"})
    client.post(f"/cases/{first}/report", data={"csrf": token, "channel": "form", "reference": "<b>R1</b>"})
    r = client.post(f"/cases/{first}/answer", data={"csrf": token, "outcome": "removed",
                                                   "text": "<script>alert(3)</script> removed"})
    assert state(client, first) == "PLATFORM_ACTIONED"
    refused = client.post(f"/cases/{second}/report", data={"csrf": token, "channel": "form", "reference": "R2"})
    assert "DETECTED cannot move to REPORTED" in refused.text
    pages += [r, client.get(f"/cases/{first}"), client.get("/cases?state=PLATFORM_ACTIONED")]
    for page in pages:
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text and "<b>R1" not in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
    case_page = pages[-2].text
    assert "&lt;img src=x onerror=alert(1)&gt;" in case_page and 'class="blur"' in case_page
    assert "&lt;script&gt;alert(3)&lt;/script&gt; removed" in case_page


def test_login_only_redirects_within_the_app(app_db):
    client = TestClient(create_app(app_db[0]), follow_redirects=False)
    r = client.post("/login", data={"csrf": csrf(client.get("/login")), "name": "ana",
                                    "password": PASSWORD, "next": "//evil.example/x"})
    assert r.status_code == 303 and r.headers["location"] == "/"


@pytest.mark.slow
def test_a_load_holding_the_file_too_long_gives_a_busy_page_but_decisions_are_journalled(app_db):
    import subprocess
    import sys

    db, (first, _) = app_db
    client = TestClient(create_app(db, lock_wait=0.5))
    token = login(client, "ana")
    # A load takes the file as every tagwatch process does (warehouse.db.connect): the app,
    # keeping its connection since the login, lets go when asked.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from warehouse.db import connect; c = connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(8)", str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        r = client.get(f"/cases/{first}")
        assert r.status_code == 503 and "nothing was read or changed" in r.text
        assert "Traceback" not in r.text
        r = client.post(f"/cases/{first}/review", data={"csrf": token, "decision": "confirm"},
                        follow_redirects=False)
        assert r.status_code == 303 and journal.pending(db)[0]["case_id"] == first
    finally:
        holder.kill()
        holder.wait()
    assert state(client, first) == "CONFIRMED"  # the next request applied the journal
    assert journal.pending(db) == []


def test_school_contacts_see_only_the_intake_pages_and_the_form_is_guarded(app_db, settings):
    with session(app_db[0]) as con:
        users.add_user(con, "head.fern", "school", PASSWORD, "Fernbrook Academy")
    app = create_app(app_db[0], settings=settings)
    client = TestClient(app, follow_redirects=False)
    routes = [(m, r.path) for r in app.routes for m in getattr(r, "methods", ()) if m != "HEAD"]
    client.post("/login", data={"csrf": csrf(client.get("/login")), "name": "head.fern", "password": PASSWORD})
    token = csrf(client.get("/school"))
    for method, path in routes:  # every staff page refuses a school contact
        if path in ("/login", "/logout") or path.startswith("/school"):
            continue
        response = client.request(method, path.replace("{case_id}", "1"),
                                  data={"decision": "confirm", "csrf": token})
        if method == "GET":
            assert response.status_code == 303 and response.headers["location"] == "/school", path
        else:
            assert response.status_code == 403, path
        assert "Mr Invented" not in response.text
    form = {"urls": "https://elsewhere.example/@a/1", "affected_role": "teacher", "description": ""}
    assert client.post("/school/submit", data=form).status_code == 403  # no CSRF token
    assert client.post("/school/submit", data={**form, "csrf": token,
                                               "description": "x" * 70_000}).status_code == 413
    done = client.post("/school/submit", data={**form, "csrf": token})
    assert done.status_code == 303
    page = client.get("/school").text
    assert "TW-000001" in page and "not a platform tagwatch fetches from" in page
    analyst = TestClient(app, follow_redirects=False)
    login(analyst, "ana")
    assert analyst.get("/school").status_code == 303  # and staff do not use the school pages
    assert analyst.post("/school/submit", data={**form, "csrf": csrf(analyst.get("/"))}).status_code == 403
    with session(app_db[0]) as con:
        assert con.execute("SELECT count(*) FROM case_events").fetchone()[0] == 2  # nothing moved
        assert con.execute("SELECT count(*) FROM intake_submissions").fetchone()[0] == 1


def test_the_school_form_takes_one_line_as_one_submission_and_names_lines_that_are_not_urls(
        app_db, settings):
    with session(app_db[0]) as con:
        users.add_user(con, "head.fern", "school", PASSWORD, "Fernbrook Academy")
    client = TestClient(create_app(app_db[0], settings=settings), follow_redirects=False)
    client.post("/login", data={"csrf": csrf(client.get("/login")), "name": "head.fern", "password": PASSWORD})
    token = csrf(client.get("/school"))
    lines = "not a url\n\n  https://elsewhere.example/@a/1  \nnot a url\nwww.example.org/post\n"
    client.post("/school/submit", data={"urls": lines, "affected_role": "teacher", "description": "",
                                        "csrf": token})
    page = client.get("/school").text
    assert "reference numbers are TW-000001, TW-000002, TW-000003" in page
    assert "TW-000004" not in page  # the repeated line is one submission, the blank one none
    assert ("these lines are not web addresses (recorded for an analyst, nothing fetched): "
            "TW-000001 &#34;not a url&#34;; TW-000003 &#34;www.example.org/post&#34;") in page
    with session(app_db[0]) as con:
        assert [r[0] for r in con.execute("SELECT url FROM intake_submissions ORDER BY submission_id")
                .fetchall()] == ["not a url", "https://elsewhere.example/@a/1", "www.example.org/post"]


def test_the_dashboard_groups_spellings_and_speaks_plainly(settings):
    from datetime import datetime, timezone

    from review import cases as cs
    from review import metrics
    from warehouse import queries
    from warehouse.resurfacing import refresh_matches

    with MastodonReplayServer(max_lifetime=60) as server:
        seed(settings, server, [make_status(1, ("sl4pateacher",)), make_status(2, ("slap_a_teacher",)),
                                make_status(3, ("homework",))], [0.9, 0.8, 0.7])
    with session(settings.db_path) as con:
        queries.watchlist_add(con, "slapateacher", "banned", None)
        refresh_matches(con)
        cs.review(con, 1, "confirm", "ana")
        users.add_user(con, "ana", "analyst", PASSWORD)
        numbers = metrics.dashboard(con, datetime.now(timezone.utc))
    assert {r["tag"]: r["flagged"] for r in numbers["by_hashtag"]} == {"slapateacher": 2, "homework": 1}
    assert [r["age"] for r in numbers["still_online"]] == ["under a day"]
    client = TestClient(create_app(settings.db_path, settings=settings), follow_redirects=False)
    login(client, "ana")
    page = client.get("/dashboard").text
    assert "median (hours)" in page and "median_hours" not in page and "1: under a day" not in page
    assert "sl4pateacher" not in page and "slap_a_teacher" not in page
