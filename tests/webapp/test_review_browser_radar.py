"""In a real browser (Debian's Chromium, Playwright) against `tagwatch serve`: an analyst presses
"Re-check now" on a case the platform claimed removed while the fake keeps it online (MISMATCH),
then follows the navigation to the resurfacing page and accepts a proposed tag; hostile tags
stay text, and the network of tags is an image the page's CSP lets load."""
from __future__ import annotations

from datetime import datetime, timezone

from browserkit import BROWSER, browser  # noqa: F401 (fixture)
from casekit import hostile_content, seed, served_app
from review import cases as cs
from review import users
from fakes.mastodon import MastodonReplayServer, make_status
from warehouse.db import session

pytestmark = BROWSER
HOSTILE_SPELLING = '<img src=x onerror=alert(7)>trend'


def test_recheck_now_and_accepting_a_proposed_tag(settings, browser):  # noqa: F811
    now = datetime.now(timezone.utc)
    with MastodonReplayServer(max_lifetime=120) as server:
        [case] = seed(settings, server, [make_status(1, content=hostile_content())], [0.95])
        with session(settings.db_path) as con:
            users.add_user(con, "ana", "analyst", "a long passphrase")
            cs.review(con, case, "confirm", "ana")
            cs.report(con, case, "form", "TT-1", "ana")
            cs.answer(con, case, "removed", "We removed it.", "ana")
            for tag, spelling in (("schoolprank", "schoolprank"), ("hostile", HOSTILE_SPELLING)):
                con.execute("INSERT INTO tag_proposals (tag, spelling, status, posts, support, lift, "
                            "previous_posts, first_proposed_at, updated_at) "
                            "VALUES (?, ?, 'proposed', 10, 8, 4.0, 1, ?, ?)", [tag, spelling, now, now])
        with served_app(settings) as url:
            page = browser.new_page()
            dialogs, console = [], []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("console", lambda m: console.append(m.text))
            page.goto(f"{url}/cases/{case}")
            page.fill("input[name=name]", "ana")
            page.fill("input[name=password]", "a long passphrase")
            page.click("button[type=submit]")
            page.wait_for_selector("#recheck-form")
            assert page.inner_text("#state") == "PLATFORM_ACTIONED"
            page.click("#recheck-form button")
            page.wait_for_selector("text=re-checked: online")
            assert page.inner_text("#state") == "MISMATCH"
            assert "online" in page.inner_text("#rechecks")

            page.click("header >> text=Resurfacing")
            page.wait_for_selector("#proposals")
            assert HOSTILE_SPELLING in page.inner_text("#proposals")  # as text
            page.locator("#proposals tr", has_text="schoolprank").locator("button", has_text="Accept").click()
            page.wait_for_selector("text=#schoolprank accepted")
            assert "schoolprank" not in page.inner_text("#proposals")
            # The only image is the tag network, drawn by this app and allowed by its CSP.
            assert page.locator("main img:not(#network)").count() == 0 and dialogs == []
            width = 0
            for _ in range(100):  # (wait_for_function evaluates a string: the CSP refuses it)
                width = page.eval_on_selector("#network", "img => img.complete ? img.naturalWidth : -1")
                if width >= 0:
                    break
                page.wait_for_timeout(100)
            assert width == 900  # loaded: not blocked, not broken
            assert not [m for m in console if "Content Security Policy" in m]
    with session(settings.db_path) as con:
        assert con.execute("SELECT status FROM watchlist WHERE tag = 'schoolprank'").fetchone() == ("watch",)
