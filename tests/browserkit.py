"""The real browser for the Playwright tests: Debian's Chromium, no browser download.
A module of browser tests sets `pytestmark = BROWSER` and asks for the `browser` fixture."""
from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
BROWSER = [pytest.mark.browser,
           pytest.mark.skipif(not CHROMIUM.exists(),
                              reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)")]


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def log_in(page, name: str, password: str, then: str = "tr.queue-row") -> None:
    """Fill the login form the page shows and wait for `then` (the queue, by default)."""
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector(then)
