"""Queue ergonomics in a real browser (Debian's Chromium, Playwright) against `tagwatch serve`:
each row shows when the post was made and how long ago, links to the original in a new tab
without a referrer (http(s) addresses only: a javascript: URL is not a link), and after a
decision the selection stays at the same place in the queue."""
from __future__ import annotations

from browserkit import BROWSER, browser, log_in  # noqa: F401 (fixture)
from casekit import seed, served_app
from fakes.mastodon import MastodonReplayServer, make_status
from review import users
from warehouse import queue_keys
from warehouse.db import session

pytestmark = BROWSER


def test_dates_original_links_and_the_selection_keeps_its_place(settings, browser):
    with MastodonReplayServer(max_lifetime=60) as server:
        ids = seed(settings, server, [make_status(i) for i in (1, 2, 3, 4)], [0.9, 0.8, 0.7, 0.6])
    with session(settings.db_path) as con:
        users.add_user(con, "ana", "analyst", "a long passphrase")
        # What a hostile platform could hand us as a post's address.
        con.execute("UPDATE posts SET url = 'javascript:alert(1)' WHERE post_id = "
                    "(SELECT post_id FROM cases WHERE case_id = ?)", [ids[3]])
        # written behind the writers' back: the queue's copy of the post is refreshed as they do
        queue_keys.refresh_posts(con, "SELECT platform, post_id FROM cases WHERE case_id = ?", [ids[3]])
    with served_app(settings) as url:
        page = browser.new_page()
        page.goto(url + "/login")
        log_in(page, "ana", "a long passphrase")
        rows = page.locator("tr.queue-row")
        assert [rows.nth(i).get_attribute("data-case") for i in range(4)] == [str(i) for i in ids]
        first = rows.nth(0)
        assert first.locator("time.posted").get_attribute("datetime").startswith("2021-11-20")
        assert first.locator(".age").inner_text().endswith(" d ago")
        link = first.locator("a.original")
        assert link.get_attribute("target") == "_blank"
        assert link.get_attribute("rel") == "noreferrer noopener"
        assert link.get_attribute("href") == "https://replay.example/@someone/1"
        assert rows.nth(3).locator("a.original").count() == 0  # javascript: is not a link
        assert page.locator("a[href^='javascript']").count() == 0

        page.keyboard.press("j")  # the second case
        assert "current" in rows.nth(1).get_attribute("class")
        page.keyboard.press("c")  # a form, pre-filled with the classifier's suggestion
        page.wait_for_selector("#confirm-dialog[open]")
        assert page.locator("#confirm-case").inner_text() == str(ids[1])
        assert page.locator("#confirm-form select[name=severity]").input_value() == "medium"  # score 0.8
        page.select_option("#confirm-form select[name=target_role]", "head_teacher")
        page.locator("#confirm-submit").focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("text=reviewed")
        rows = page.locator("tr.queue-row")
        assert rows.count() == 3
        current = page.locator("tr.queue-row.current")
        assert current.get_attribute("data-case") == str(ids[2])  # the place stayed, not the top
        current.locator("form.dismiss button").click()  # by the button too
        page.wait_for_selector("text=reviewed")
        assert page.locator("tr.queue-row.current").get_attribute("data-case") == str(ids[3])
    with session(settings.db_path) as con:
        assert dict(con.execute("SELECT case_id, state FROM case_state").fetchall()) == {
            ids[0]: "DETECTED", ids[1]: "CONFIRMED", ids[2]: "DISMISSED", ids[3]: "DETECTED"}
        assert con.execute("SELECT target_role, severity FROM evidence").fetchall() == [("head_teacher", "medium")]
