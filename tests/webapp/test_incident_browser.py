"""An incident in a real browser (Debian's Chromium driven by Playwright) against `tagwatch serve`:
a TikTok video, a Mastodon post linking to it and a Bluesky copy of that post's text are one
incident; the queue shows them together with a badge, and each case page lists its two siblings."""
from __future__ import annotations

import html

from browserkit import BROWSER, browser, log_in  # noqa: F401 (fixture)
from casekit import HOSTILE, served_app
from incidentkit import bluesky_post, mastodon_post, open_cases, tiktok_post
from review import users
from warehouse.db import session

pytestmark = BROWSER


def test_an_incident_page_lists_its_two_sibling_cases(settings, browser):
    video = tiktok_post(5, "watch till the end #teachersoftiktok")
    words = f"{HOSTILE} https://www.tiktok.com/@invented_5/video/{video['post_id']}"
    posts = [video, mastodon_post(6, html.escape(words)), bluesky_post(7, words),
             mastodon_post(8, "a different post about the school car park being full every single morning")]
    tiktok_case, linking, copy, other = open_cases(settings, posts, [0.7, 0.95, 0.9, 0.8])
    with session(settings.db_path) as con:
        users.add_user(con, "una", "viewer", "a long passphrase")
    with served_app(settings) as url:
        page = browser.new_page()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url + "/login")
        log_in(page, "una", "a long passphrase")
        order = [r.get_attribute("data-case") for r in page.locator("tr.queue-row").all()]
        assert order == [str(linking), str(copy), str(tiktok_case), str(other)]   # the incident together
        badges = page.locator("tr.queue-row .incident")
        assert badges.count() == 3 and badges.first.locator("a.incident-page").inner_text() == (
            f"incident #{min(tiktok_case, linking, copy)} · 3 cases")

        badges.first.locator("a.incident-page").click()
        page.wait_for_selector("#siblings")
        assert page.url == f"{url}/cases/{linking}#incident"
        assert "Incident #" in page.inner_text("#incident") and "3 cases on 3 platforms" in page.inner_text("#incident")
        rows = {r.get_attribute("data-case"): r for r in page.locator("#siblings tr.sibling").all()}
        assert sorted(rows, key=int) == sorted([str(tiktok_case), str(copy)], key=int)   # oldest first
        assert "tiktok" in rows[str(tiktok_case)].inner_text() and "bluesky" in rows[str(copy)].inner_text()
        original = rows[str(tiktok_case)].locator("a[target=_blank]")
        assert original.get_attribute("rel") == "noreferrer noopener"
        assert original.get_attribute("href").endswith(f"/video/{video['post_id']}")

        rows[str(copy)].locator(f'a[href="/cases/{copy}"]').click()
        page.wait_for_url(f"{url}/cases/{copy}")
        assert [r.get_attribute("data-case") for r in page.locator("#siblings tr.sibling").all()] == [
            str(i) for i in sorted([tiktok_case, linking])]
        assert "text hash" in page.inner_text("main")   # the two posts share their text
        assert HOSTILE in page.inner_text(".post-text")   # shown as text
        page.goto(f"{url}/cases/{other}")
        assert page.locator("#siblings").count() == 0     # a distinct post has no siblings
        assert dialogs == []
