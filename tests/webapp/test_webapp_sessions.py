"""Sessions that end, and logins that are throttled, attacked through a real server
(uvicorn on 127.0.0.1): a cookie kept after logout, the cookie of a removed user or of one
whose password changed, idle and absolute time-outs, 30 wrong passwords in a row, a spray
of names from one address, and 96 anonymous logins while an analyst works."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from casekit import seed
from review import sessions, users
from fakes.mastodon import MastodonReplayServer, make_status
from warehouse.db import session
from webapp import guard
from webapp.app import create_app
from webkit import PASSWORD, csrf, http_login, served

pytestmark = pytest.mark.slow


@pytest.fixture
def app_db(settings):
    with MastodonReplayServer(max_lifetime=60) as server:
        ids = seed(settings, server, [make_status(1), make_status(2)], [0.9, 0.8])
    with session(settings.db_path) as con:
        users.add_user(con, "ana", "analyst", PASSWORD)
        users.add_user(con, "una", "viewer", PASSWORD)
    return settings, ids


def logged_in(url, name, password=PASSWORD) -> requests.Session:
    http = requests.Session()
    r = http_login(http, url, name, password)
    assert r.status_code == 303, r.text
    return http


def with_cookie(url, http: requests.Session) -> requests.Session:
    """Another client holding a copy of `http`'s session cookie (what a thief would keep)."""
    thief = requests.Session()
    thief.cookies.set("tagwatch_session", http.cookies["tagwatch_session"], domain="127.0.0.1")
    return thief


def cli(settings, *args, stdin=""):
    proc = subprocess.run([sys.executable, "-m", "tagwatch.cli", *args], input=stdin, text=True,
                          capture_output=True, env={**os.environ, **settings.to_env()}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def events(db) -> int:
    with session(db) as con:
        return con.execute("SELECT count(*) FROM case_events").fetchone()[0]


def test_an_old_session_cookie_is_refused_after_logout(app_db):
    settings, (first, _) = app_db
    with served(create_app(settings.db_path, settings=settings)) as url:
        ana = logged_in(url, "ana")
        token = csrf(ana.get(f"{url}/", timeout=30))
        kept = with_cookie(url, ana)
        assert kept.get(f"{url}/", timeout=30, allow_redirects=False).status_code == 200
        assert ana.post(f"{url}/logout", data={"csrf": token}, allow_redirects=False,
                        timeout=30).headers["location"] == "/login"
        r = kept.get(f"{url}/", timeout=30, allow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        r = kept.post(f"{url}/cases/{first}/review", data={"csrf": token, "decision": "confirm"},
                      allow_redirects=False, timeout=30)
        assert r.status_code == 401
    assert events(settings.db_path) == 2  # only the openings
    with session(settings.db_path) as con:
        assert con.execute("SELECT end_reason FROM web_sessions").fetchall() == [("logout",)]


def test_removing_a_user_or_changing_a_password_ends_their_sessions(app_db):
    settings, (first, _) = app_db
    with served(create_app(settings.db_path, settings=settings)) as url:
        una, ana = logged_in(url, "una"), logged_in(url, "ana")
        ana_token = csrf(ana.get(f"{url}/", timeout=30))
        listed = cli(settings, "user", "list")
        assert [line.split()[:3] for line in listed.splitlines()[1:]] == [["ana", "analyst", "1"],
                                                                         ["una", "viewer", "1"]]
        assert "removed una; 1 session(s) ended" in cli(settings, "user", "remove", "una")
        r = una.get(f"{url}/cases/{first}", timeout=30, allow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert http_login(requests.Session(), url, "una").status_code == 401  # the account is gone
        assert ana.get(f"{url}/", timeout=30, allow_redirects=False).status_code == 200
        out = cli(settings, "user", "passwd", "ana", stdin="a new long passphrase\n")
        assert "password of ana changed; 1 session(s) ended" in out
        r = ana.post(f"{url}/cases/{first}/review", data={"csrf": ana_token, "decision": "confirm"},
                     allow_redirects=False, timeout=30)
        assert r.status_code == 401
        assert http_login(requests.Session(), url, "ana").status_code == 401  # the old password
        again = logged_in(url, "ana", "a new long passphrase")
        assert again.get(f"{url}/", timeout=30, allow_redirects=False).status_code == 200
    assert events(settings.db_path) == 2
    assert cli(settings, "user", "list").splitlines()[1].split()[:3] == ["ana", "analyst", "1"]


def test_sessions_end_after_the_idle_and_the_absolute_time_outs(app_db):
    settings, _ = app_db
    with served(create_app(settings.db_path, settings=settings)) as url:
        idle, old = logged_in(url, "ana"), logged_in(url, "una")
        with session(settings.db_path) as con:  # as if the time had passed (both default limits)
            con.execute("UPDATE web_sessions SET last_seen_at = last_seen_at - INTERVAL 31 MINUTE "
                        "WHERE user_name = 'ana'")
            con.execute("UPDATE web_sessions SET created_at = created_at - INTERVAL 9 HOUR "
                        "WHERE user_name = 'una'")
        for http in (idle, old):
            r = http.get(f"{url}/dashboard", timeout=30, allow_redirects=False)
            assert r.status_code == 303 and r.headers["location"].startswith("/login")
    with session(settings.db_path) as con:
        assert con.execute("SELECT DISTINCT end_reason FROM web_sessions").fetchall() == [("timed out",)]


def test_time_outs_and_the_secure_flag_come_from_the_settings(app_db):
    import dataclasses

    settings, _ = app_db
    strict = dataclasses.replace(settings, web_idle_minutes=1, web_session_hours=2, web_secure_cookie=True)
    web = create_app(settings.db_path, settings=strict).state.web
    assert (web.idle.total_seconds(), web.absolute.total_seconds()) == (60, 7200)
    with served(create_app(settings.db_path, settings=strict)) as url:
        cookie = requests.get(f"{url}/login", timeout=30).headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_thirty_wrong_passwords_in_a_row_are_throttled(app_db, caplog):
    settings, _ = app_db
    caplog.set_level(logging.WARNING, logger="tagwatch.webapp.login")
    with served(create_app(settings.db_path, settings=settings)) as url:
        http = requests.Session()
        answers = [http_login(http, url, "ana", f"guess number {i}") for i in range(30)]
        assert [r.status_code for r in answers] == [401] * guard.FREE_PER_NAME + [429] * (30 - guard.FREE_PER_NAME)
        assert all(int(r.headers["retry-after"]) >= 1 for r in answers[guard.FREE_PER_NAME:])
        right = http_login(http, url, "ana")  # even the right password waits now
        assert right.status_code == 429 and "too many failed logins" in right.text
        assert http.get(f"{url}/", timeout=30, allow_redirects=False).status_code == 303
        assert http_login(requests.Session(), url, "una").status_code == 303  # another name still may
    failures = [r.getMessage() for r in caplog.records if "failed login" in r.getMessage()]
    assert len(failures) == guard.FREE_PER_NAME and "'ana' from 127.0.0.1" in failures[0]


def test_a_spray_of_names_from_one_address_is_throttled(app_db):
    settings, _ = app_db
    with served(create_app(settings.db_path, settings=settings)) as url:
        http = requests.Session()
        codes = [http_login(http, url, f"name{i}", "a guessed password").status_code for i in range(30)]
        assert codes == [401] * guard.FREE_PER_ADDRESS + [429] * (30 - guard.FREE_PER_ADDRESS)
        assert http_login(http, url, "ana").status_code == 429


def test_96_anonymous_logins_do_not_hold_up_an_analysts_page(app_db):
    """Password hashing runs on the guard's own thread, outside the warehouse connection and
    the page pool: with that thread held up, logins in progress wait, the rest are turned away
    at once, and the analyst's page is still served."""
    settings, _ = app_db
    app = create_app(settings.db_path, settings=settings)
    with served(app) as url:
        analyst = logged_in(url, "ana")
        gate = threading.Event()
        app.state.web.guard.hashing.submit(gate.wait, 120)  # the hashing thread is busy until released

        def anonymous(i):
            return http_login(requests.Session(), url, f"stranger{i}", "a guessed password").status_code
        with ThreadPoolExecutor(max_workers=32) as pool:
            logins = [pool.submit(anonymous, i) for i in range(96)]
            deadline = time.monotonic() + 120  # a bound in case of a bug, not a timing assertion
            while sum(f.done() for f in logins) < 96 - guard.AT_ONCE and time.monotonic() < deadline:
                time.sleep(0.05)
            page = analyst.get(f"{url}/", timeout=60, allow_redirects=False)
            assert page.status_code == 200 and "queue-row" in page.text
            still_waiting = sum(not f.done() for f in logins)
            gate.set()
            codes = Counter(f.result(timeout=120) for f in logins)
    assert still_waiting == guard.AT_ONCE
    assert codes == {429: 96 - guard.AT_ONCE, 401: guard.AT_ONCE}
