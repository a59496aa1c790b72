"""A bulk decision in the queue and its undo, in a real browser (Debian's Chromium, Playwright)
against `tagwatch serve`: boxes ticked with a click and a shift-click range, one category,
target and severity for all, then the Undo button puts every case back where it was."""
from __future__ import annotations

from browserkit import BROWSER, browser, log_in  # noqa: F401 (fixture)
from casekit import seed, served_app
from fakes.mastodon import MastodonReplayServer, make_status
from review import users
from warehouse.db import session

pytestmark = BROWSER


def test_bulk_confirm_with_a_shift_click_range_then_undo(settings, browser):
    with MastodonReplayServer(max_lifetime=60) as server:
        ids = seed(settings, server, [make_status(i) for i in (1, 2, 3, 4, 5)], [0.9, 0.85, 0.8, 0.75, 0.7])
    with session(settings.db_path) as con:
        users.add_user(con, "ana", "analyst", "a long passphrase")
    with served_app(settings) as url:
        page = browser.new_page()
        page.goto(url + "/login")
        log_in(page, "ana", "a long passphrase")
        boxes = page.locator("input.pick")
        boxes.nth(1).click()
        boxes.nth(3).click(modifiers=["Shift"])  # the range 2..4
        assert [boxes.nth(i).is_checked() for i in range(5)] == [False, True, True, True, False]
        assert page.locator("#selected-count").inner_text() == "3"
        page.select_option("#bulk select[name=decision]", "confirm")
        page.select_option("#bulk select[name=category]", "threat")
        page.select_option("#bulk select[name=target_role]", "teacher")
        page.select_option("#bulk select[name=severity]", "high")
        page.click("#bulk-apply")
        page.wait_for_selector("text=3 cases confirmed")
        assert page.locator("tr.queue-row").count() == 2
        assert "confirm of 3 cases" in page.locator("#undo-form").inner_text()
        with session(settings.db_path) as con:
            assert con.execute("SELECT case_id, category, target_role, severity FROM evidence ORDER BY 1").fetchall() \
                == [(i, "threat", "teacher", "high") for i in sorted(ids[1:4])]
        page.click("#undo-button")
        page.wait_for_selector("text=undone:")
        assert page.locator("tr.queue-row").count() == 5
        assert page.locator("#undo-form").count() == 0  # nothing left to undo
    with session(settings.db_path) as con:
        assert {s for (s,) in con.execute("SELECT state FROM case_state").fetchall()} == {"DETECTED"}
        assert con.execute("SELECT count(*) FROM case_events WHERE note LIKE 'undo of the confirm%'").fetchone() == (3,)
