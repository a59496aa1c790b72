"""A reviewer in a real browser (Debian's Chromium driven by Playwright) against `tagwatch serve`:
log in, confirm with the keyboard, record a report and an answer; hostile text stays text."""
from __future__ import annotations

from browserkit import BROWSER, browser, log_in  # noqa: F401 (fixture)
from casekit import HOSTILE, hostile_content, seed, served_app
from review import users
from fakes.mastodon import MastodonReplayServer, make_status
from warehouse.db import session

pytestmark = BROWSER


def test_reviewer_confirms_reports_and_records_an_answer(settings, browser):
    with MastodonReplayServer(max_lifetime=60) as server:
        [hostile, calm] = seed(settings, server, [make_status(1, content=hostile_content()),
                                                  make_status(2, content="<p>Miss Example marks unfairly</p>")],
                               [0.95, 0.6],
                               # as scorers before migration 011 wrote it: staff_target among
                               # the categories, where it used to win the default category
                               details=[({"sexual": 0.2, "allegation": 0.6, "staff_target": 1.0}, 1.0),
                                        ({"insult": 0.3}, 0.0)])
    with session(settings.db_path) as con:
        users.add_user(con, "ana", "analyst", "a long passphrase")
    with served_app(settings) as url:
        page = browser.new_page()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url + "/")
        assert page.url.startswith(url + "/login")
        log_in(page, "ana", "a long passphrase")
        first_row = page.locator("tr.queue-row").first
        assert first_row.get_attribute("data-case") == str(hostile)  # worst first
        assert HOSTILE in first_row.locator(".post-text").inner_text()  # shown as text
        assert first_row.locator(".staff-target").inner_text() == "staff target 1.00"
        page.keyboard.press("j")
        page.keyboard.press("k")
        page.keyboard.press("c")  # the confirm form of the current (first) case, pre-filled
        page.wait_for_selector("#confirm-dialog[open]")
        page.locator("#confirm-submit").focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("text=reviewed")
        assert page.locator("tr.queue-row").count() == 1  # only the calm one is left

        with session(settings.db_path, read_only=True) as con:  # the one-key confirm's default
            assert con.execute("SELECT category FROM evidence WHERE case_id = ?",
                               [hostile]).fetchone()[0] == "allegation"
        page.goto(f"{url}/cases/{hostile}")
        assert page.inner_text("#state") == "CONFIRMED"
        assert page.inner_text(".staff-target") == "staff target 1.00"
        assert page.locator(".blur").count() == 1  # confirmed abuse is blurred until clicked
        page.click(".blur .post-text")
        assert page.locator(".blur").count() == 0
        assert page.locator(".post-text").inner_text() == HOSTILE
        page.select_option("#report-form select[name=channel]", "form")
        page.fill("#report-form input[name=reference]", "TT-2021-1120")
        page.click("#report-form button")
        page.wait_for_selector("#answer-form")
        assert page.inner_text("#state") == "REPORTED"
        page.select_option("#answer-form select[name=outcome]", "removed")
        page.fill("#answer-form textarea", 'We removed it. "><img src=x onerror=alert(9)>')
        page.click("#answer-form button")
        page.wait_for_selector("text=platform answer recorded")
        assert page.inner_text("#state") == "PLATFORM_ACTIONED"
        assert "onerror=alert(9)" in page.inner_text("main")
        assert page.locator("main img").count() == 0
        page.goto(f"{url}/dashboard")
        assert page.inner_text("#mismatch").startswith("0 of 1")  # claimed removed, not re-checked yet
        assert dialogs == []  # no script from a post or an answer ever ran
    assert calm != hostile
