"""The school path in a real browser (Debian's Chromium, Playwright) against `tagwatch serve`:
an analyst adds two school contacts (CLI); school A submits two posts and forbidden URLs;
school B submits one of the same posts; the analyst works both cases in the browser; a
re-check finds one gone and one still online after "removed"; each school sees only its
own reports, in plain words; `tagwatch intake notify` sends each school one digest.
Every school, person and address here is invented."""
from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys

import pytest

from browserkit import BROWSER, browser  # noqa: F401 (fixture)
from casekit import served_app
from smtpkit import smtp_server  # noqa: F401 (fixture)
from fakes.mastodon import MastodonReplayServer, make_status

pytestmark = BROWSER
PW = "a long passphrase"
HOSTILE_NOTE = '<img src=x onerror=alert(1)> about Mr Invented'


def _cli(settings, *args, stdin="", env=None):
    proc = subprocess.run([sys.executable, "-m", "tagwatch.cli", *args], input=stdin, text=True,
                          capture_output=True, env={**os.environ, **settings.to_env(), **(env or {})},
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _login(browser, url, name):
    page = browser.new_context().new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PW)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page, dialogs


def _states(page, url):
    page.goto(url + "/school")
    return {row.locator(".url").inner_text().split("\n")[0]: row.locator(".plain-state").inner_text()
            for row in page.locator("tr.my-report").all()}


def test_two_schools_one_case_plain_words_and_one_digest_each(settings, browser, smtp_server):
    trap = socket.socket()
    trap.bind(("127.0.0.1", 0))
    trap.listen(8)
    trap.settimeout(0.5)
    trap_url = f"http://127.0.0.1:{trap.getsockname()[1]}/@someone/5"
    with MastodonReplayServer(max_lifetime=300) as server:
        host = server.url.split("://", 1)[1]   # the host answers for its own posts only
        server.add_status(make_status(21, content="<p>Mr Invented at Fernbrook should be sacked</p>", domain=host))
        server.add_status(make_status(22, content="<p>Ms Madeup is a liar, everyone report her</p>", domain=host))
        gone_url, stays_url = f"{server.url}/@someone/21", f"{server.url}/@someone/22"
        s = dataclasses.replace(settings, intake_hosts=(server.url.split("://", 1)[1],))
        _cli(s, "user", "add", "ana", "--role", "analyst", stdin=PW + "\n")
        out = _cli(s, "user", "add", "head.fern", "--role", "school", "--school", "Fernbrook Academy",
                   "--email", "head@fernbrook.example", stdin=PW + "\n")
        assert "Fernbrook Academy" in out
        _cli(s, "user", "add", "office.oak", "--role", "school", "--school", "Oakhollow Primary",
             "--email", "office@oakhollow.example", stdin=PW + "\n")
        with served_app(s) as url:
            a, a_dialogs = _login(browser, url, "head.fern")
            assert a.url == url + "/school"
            a.fill("#intake-form textarea[name=urls]", "\n".join(
                [gone_url, stays_url, "http://169.254.169.254/latest/meta-data/", "http://10.0.0.7/@x/1",
                 trap_url]))
            a.fill("#intake-form textarea[name=description]", HOSTILE_NOTE)
            a.select_option("#intake-form select[name=affected_role]", "teacher")
            a.click("#intake-form button")
            a.wait_for_selector("#just-submitted")
            refs = a.locator("#just-submitted .reference").all_inner_texts()
            assert len(refs) == 5 and all(r.startswith("TW-") for r in refs)
            assert "received: your reference numbers are" in a.inner_text("main")
            assert a.locator("#just-submitted .intake-note").count() == 3  # the forbidden ones
            assert "never fetched" in a.inner_text("#just-submitted")
            assert HOSTILE_NOTE in a.inner_text("#my-reports")  # shown as text
            assert a.locator("main img").count() == 0
            with pytest.raises(socket.timeout):
                trap.accept()  # the unconfigured loopback port never saw a connection
            a.goto(url + "/")  # review pages are not for schools
            assert a.url == url + "/school"

            b, b_dialogs = _login(browser, url, "office.oak")
            b.fill("#intake-form textarea[name=urls]", stays_url)
            b.click("#intake-form button")
            b.wait_for_selector("#just-submitted")
            assert _states(b, url) == {stays_url: "received"}

            an, _ = _login(browser, url, "ana")
            an.goto(url + "/")
            marks = an.locator("tr.queue-row .school-report").all_inner_texts()
            assert sorted(marks) == ["school report · 1 requester", "school report · 2 requesters"]
            cases = {}
            for row in an.locator("tr.queue-row").all():
                cases[row.locator(".post-text").inner_text()] = row.get_attribute("data-case")
            assert len(cases) == 2
            an.goto(url + "/intake")
            assert an.locator("#unfetched tbody tr").count() == 3
            for text, case_id in cases.items():
                an.goto(f"{url}/cases/{case_id}")
                an.check("#review-form input[value=confirm]")
                an.click("#review-form button")
                an.wait_for_selector("#report-form")
                an.fill("#report-form input[name=reference]", f"REF-{case_id}")
                an.click("#report-form button")
                an.wait_for_selector("#answer-form")
                an.select_option("#answer-form select[name=outcome]", "removed")
                an.fill("#answer-form textarea", "We removed it.")
                an.click("#answer-form button")
                an.wait_for_selector("text=platform answer recorded")
            assert _states(a, url)[gone_url] == "platform answered: “removed”"
            server.delete_status(21)  # the platform really removed this one; 22 stays up
            _cli(s, "case", "recheck", "--now")
            assert _states(a, url) == {
                gone_url: "verified removed", stays_url: "still online after the platform said removed",
                "http://169.254.169.254/latest/meta-data/": "received (not fetched)",
                "http://10.0.0.7/@x/1": "received (not fetched)", trap_url: "received (not fetched)"}
            assert _states(b, url) == {stays_url: "still online after the platform said removed"}
            assert gone_url not in b.inner_text("main")  # school B sees nothing of A's reports
            assert "Fernbrook" not in b.inner_text("main")
            b.goto(f"{url}/cases/{cases['Ms Madeup is a liar, everyone report her']}")
            assert b.url == url + "/school"  # nor any case page
            an.goto(f"{url}/cases/{cases['Ms Madeup is a liar, everyone report her']}")
            assert "(2 schools)" in an.inner_text("#requesters")
            assert a_dialogs == [] and b_dialogs == []
    trap.close()
    _cli(s, "intake", "notify", env={"AIRFLOW_CONN_SMTP_DEFAULT": smtp_server.url})
    assert sorted(tuple(m.rcpt_tos) for m in smtp_server.messages) == [
        ("head@fernbrook.example",), ("office@oakhollow.example",)]
    out = _cli(s, "intake", "notify", env={"AIRFLOW_CONN_SMTP_DEFAULT": smtp_server.url})
    assert "no digests due" in out and len(smtp_server.messages) == 2  # one a day
