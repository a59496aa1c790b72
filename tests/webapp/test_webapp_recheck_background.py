"""Issue 15 item 6: "re-check now" in the review app runs in the background. The page waits
a moment (web_wait), then the case page shows the re-check running, done or failed in plain
words, on every reload, until another one is asked for. Against a real uvicorn and a local
Mastodon fake that is slow (its `latency`), refuses, or is gone."""
from __future__ import annotations

import re
import socket
import time

import pytest
import requests

from casekit import seed
from fakes.api import Faults
from fakes.mastodon import MastodonReplayServer, make_status
from review import cases as cs
from review import users
from warehouse.db import session
from webapp.app import create_app
from webkit import PASSWORD, csrf, http_login, served

REFRESH = '<meta http-equiv="refresh"'


def status_line(page) -> str:
    found = re.search(r'<p id="recheck-status" class="recheck-(\w+)"[^>]*>([^<]*)</p>', page.text)
    return f"{found.group(1)}: {found.group(2)}" if found else ""


def until(http, url: str, wanted: str, bound: float = 60) -> requests.Response:
    """Reload the case page until its re-check line starts with `wanted` (a bound for a bug,
    not a timing assertion)."""
    deadline = time.monotonic() + bound
    while True:
        page = http.get(url, timeout=30)
        if status_line(page).startswith(wanted):
            return page
        assert time.monotonic() < deadline, f"still {status_line(page)!r}"
        time.sleep(0.2)


@pytest.fixture
def reported(settings):
    """A confirmed case whose platform said it was removed (a re-check finds it online:
    MISMATCH), a case not confirmed yet, an analyst; the fake keeps serving."""
    with MastodonReplayServer(max_lifetime=120) as server:
        [case, fresh] = seed(settings, server, [make_status(1), make_status(2)], [0.9, 0.8])
        with session(settings.db_path) as con:
            users.add_user(con, "ana", "analyst", PASSWORD)
            cs.review(con, case, "confirm", "ana", category="allegation")
            cs.report(con, case, "form", "R-1", "ana")
            cs.answer(con, case, "removed", "We removed it.", "ana")
        yield settings, server, case, fresh


def analyst(url: str) -> requests.Session:
    http = requests.Session()
    assert http_login(http, url, "ana").status_code == 303
    return http


@pytest.mark.slow
def test_a_recheck_of_a_slow_host_runs_in_the_background_and_the_page_shows_its_progress(reported):
    settings, server, case, _ = reported
    server.latency = 2.0  # every answer of the platform takes 2 s; the page waits 0.2 s
    with served(create_app(settings.db_path, settings=settings, web_wait=0.2)) as url:
        http = analyst(url)
        page_url = f"{url}/cases/{case}"
        token = csrf(http.get(page_url, timeout=30))
        started = time.monotonic()
        page = http.post(f"{page_url}/recheck", data={"csrf": token}, timeout=30)
        assert time.monotonic() - started < 1.5  # the page did not wait for the platform
        assert "carries on in the background" in page.text
        assert status_line(page).startswith("running: Re-check running: asked by ana")
        assert REFRESH in page.text  # the page reloads itself while it runs
        assert re.search(r'id="state">PLATFORM_ACTIONED', page.text)  # not recorded yet
        again = http.post(f"{page_url}/recheck", data={"csrf": token}, timeout=30)
        assert "a re-check of this case is already running (asked by ana" in again.text
        done = until(http, page_url, "done")
        assert "online (HTTP 200), now MISMATCH" in status_line(done)
        assert REFRESH not in done.text and re.search(r'id="state">MISMATCH', done.text)
        # stored: a later reload still says so
        assert status_line(http.get(page_url, timeout=30)) == status_line(done)
    with session(settings.db_path) as con:
        assert [x["outcome"] for x in cs.show(con, case)["rechecks"]] == ["online"]  # asked once


def test_a_slow_host_that_then_refuses_ends_failed_with_a_plain_reason(reported):
    settings, server, case, _ = reported
    server.latency = 1.0
    server.faults = Faults(error_requests={len(server.requests) + 1: 403})
    with served(create_app(settings.db_path, settings=settings, web_wait=0.1)) as url:
        http = analyst(url)
        page_url = f"{url}/cases/{case}"
        page = http.post(f"{page_url}/recheck", data={"csrf": csrf(http.get(page_url, timeout=30))},
                         timeout=30)
        assert status_line(page).startswith("running")
        failed = status_line(until(http, page_url, "failed"))
    assert "the platform gave no usable answer" in failed and "HTTP 403" in failed
    assert "the hourly re-check will ask again" in failed and "Traceback" not in failed


def test_an_unreachable_host_fails_at_once_and_says_so_after_a_reload(reported):
    settings, server, case, _ = reported
    with socket.socket() as s:  # a port nobody listens on: the platform is gone
        s.bind(("127.0.0.1", 0))
        gone = s.getsockname()[1]
    with session(settings.db_path) as con:
        con.execute("UPDATE posts SET source = ?", [f"http://127.0.0.1:{gone}"])
    with served(create_app(settings.db_path, settings=settings, web_wait=5.0)) as url:
        http = analyst(url)
        page_url = f"{url}/cases/{case}"
        started = time.monotonic()
        page = http.post(f"{page_url}/recheck", data={"csrf": csrf(http.get(page_url, timeout=30))},
                         timeout=30)
        assert time.monotonic() - started < 4  # no retries on a refused connection
        assert "re-checked: error" in page.text
        line = status_line(http.get(page_url, timeout=30))
    assert line.startswith("failed: Re-check failed")
    assert f"could not reach 127.0.0.1:{gone}: connection refused" in line


def test_a_case_that_cannot_be_rechecked_is_refused_and_the_page_says_why(reported):
    settings, _, _, fresh = reported
    with served(create_app(settings.db_path, settings=settings, web_wait=5.0)) as url:
        http = analyst(url)
        page_url = f"{url}/cases/{fresh}"
        page = http.post(f"{page_url}/recheck", data={"csrf": csrf(http.get(page_url, timeout=30))},
                         timeout=30)
        assert "only confirmed cases are re-checked" in page.text
        assert status_line(http.get(page_url, timeout=30)).startswith(
            "failed: Re-check failed")
