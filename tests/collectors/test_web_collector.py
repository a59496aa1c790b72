"""collect_tag for public web pages against local servers on 127.0.0.1: robots.txt, pace, items."""
from __future__ import annotations

import threading
from contextlib import ExitStack
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from collectors import web
from collectors.base import CollectOptions
from collectors.http import PoliteClient, host_of
from collectors.staging import find_manifests, read_staged_posts

UA = "tagwatch-tests/0 (+https://example.org/tagwatch)"
TAG = "slapateacher"


class Site:
    """A small public site: robots.txt, a hashtag page in two pages, a news feed, a private path."""

    def __init__(self, pages: dict[str, tuple[int, str, str]]):
        self.pages = pages            # path -> (status, content type, body)
        self.requests: list[tuple[str, str]] = []   # (path, User-Agent)
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                site.requests.append((self.path, self.headers.get("User-Agent", "")))
                status, ctype, body = site.pages.get(self.path, (404, "text/plain", "not found"))
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def paths(self) -> list[str]:
        return [p for p, _ in self.requests]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def article(n: int, tags: str = f"#{TAG}", day: str = "2026-02-20") -> str:
    return (f'<article class="h-entry"><a class="u-url" href="/posts/{n}">post {n}</a>'
            f'<p class="e-content">saw this today {tags} she deserves it</p>'
            f'<time datetime="{day}T10:00:{n:02d}Z">20 Feb</time></article>')


def html(*articles: str, next_href: str | None = None) -> str:
    nxt = f'<a rel="next" href="{next_href}">older</a>' if next_href else ""
    return f"<html><body><main>{''.join(articles)}</main>{nxt}</body></html>"


ROBOTS = "User-agent: *\nDisallow: /private/\n"


def site_pages(robots: tuple[int, str, str] = (200, "text/plain", ROBOTS)) -> dict:
    return {
        "/robots.txt": robots,
        f"/tags/{TAG}": (200, "text/html", html(article(1), article(2), next_href=f"/tags/{TAG}?page=2")),
        f"/tags/{TAG}?page=2": (200, "text/html", html(article(3), next_href="/private/older")),
        "/private/older": (200, "text/html", html(article(4))),
        "/private/tags/" + TAG: (200, "text/html", html(article(5))),
        "/news.rss": (200, "application/rss+xml", RSS),
    }


RSS = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>School safety news</title>
<item><title>Trend #{TAG} worries heads</title><link>https://news.example.org/a</link>
<description>&lt;p&gt;A new trend&lt;/p&gt;</description><pubDate>Fri, 20 Feb 2026 09:00:00 GMT</pubDate></item>
<item><title>Exam timetable</title><link>https://news.example.org/b</link>
<pubDate>Fri, 20 Feb 2026 08:00:00 GMT</pubDate></item>
</channel></rss>"""


class FakeTime:
    """A monotonic clock that only moves when slept on: waits are recorded, never waited."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def servers():
    with ExitStack() as stack:
        def start(pages=None):
            site = Site(pages or site_pages())
            stack.callback(site.close)
            return site
        yield start


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def collect(tmp_path, fake_time):
    runs = iter(range(1, 1000))
    pacer = web.HostPacer(clock=fake_time.clock, sleep=fake_time.sleep)
    client = PoliteClient(UA, backoff_base=0.01, max_retries=1, sleep=fake_time.sleep)

    def run(source, tag=TAG, interval=2.0, **kwargs):
        options = CollectOptions(web_min_interval=interval, web_pacer=pacer,
                                 clock=lambda: datetime(2026, 3, 1, tzinfo=timezone.utc))
        manifest = web.collect_tag(source, tag, staging_dir=tmp_path / "staging",
                                   run_id=f"run{next(runs)}", pseudonym_key=b"k", user_agent=UA,
                                   client=client, options=options, **kwargs)
        [path] = find_manifests(tmp_path / "staging", manifest.run_id)
        return manifest, read_staged_posts(path)
    yield run, pacer
    client.close()


def test_robots_disallowed_path_is_never_fetched_and_is_recorded(servers, collect):
    run, _ = collect
    site = servers()
    manifest, rows = run(site.url + "/tags/{tag}", since="2026-01-01")
    assert sorted(r["url"] for r in rows) == [f"{site.url}/posts/{n}" for n in (1, 2, 3)]
    assert not any(p.startswith("/private/") for p in site.paths())
    assert site.paths() == ["/robots.txt", f"/tags/{TAG}", f"/tags/{TAG}?page=2"]
    assert manifest.extra["disallowed"] == [site.url + "/private/older"]
    assert manifest.status == "capped" and "robots.txt disallows" in manifest.error
    assert (manifest.pages, manifest.requests) == (2, 3)
    assert all(ua == UA for _, ua in site.requests)  # honest User-Agent, robots.txt included
    row = next(r for r in rows if r["url"].endswith("/posts/1"))
    assert row["platform"] == "web" and TAG in row["hashtags"] and "she deserves it" in row["text"]
    assert row["created_at"] == datetime(2026, 2, 20, 10, 0, 1, tzinfo=timezone.utc)
    assert manifest.watermark_after.startswith("2026-02-20T10:00:03")


def test_a_disallowed_first_page_fails_without_a_request(servers, collect):
    run, _ = collect
    site = servers()
    manifest, rows = run(site.url + "/private/tags/{tag}")
    assert manifest.status == "failed" and rows == [] and site.paths() == ["/robots.txt"]
    assert manifest.extra["disallowed"] == [f"{site.url}/private/tags/{TAG}"]


def test_unreadable_robots_disallows_everything_and_missing_robots_allows(servers, collect):
    run, _ = collect
    broken = servers(site_pages(robots=(503, "text/plain", "down")))
    manifest, _ = run(broken.url + "/tags/{tag}")
    assert manifest.status == "failed" and set(broken.paths()) == {"/robots.txt"}
    missing = servers(site_pages(robots=(404, "text/plain", "no")))
    manifest, rows = run(missing.url + "/tags/{tag}", since="2026-01-01")
    assert manifest.status == "ok" and len(rows) == 4  # no rules: /private/ too


def test_requests_to_one_host_keep_the_minimum_interval(servers, collect, fake_time):
    run, pacer = collect
    first, second = servers(), servers()
    times: dict[str, list[float]] = {}
    original = pacer.wait

    def recording_wait(url, interval):
        original(url, interval)
        times.setdefault(host_of(url), []).append(fake_time.now)
    pacer.wait = recording_wait
    run(first.url + "/tags/{tag}", interval=3.0, since="2026-01-01")
    run(second.url + "/tags/{tag}", interval=3.0, since="2026-01-01")
    run(first.url + "/tags/{tag}", interval=3.0, since="2026-01-01")  # robots.txt again: a new run
    assert set(times) == {first.url, second.url}
    for host, moments in times.items():
        assert len(moments) >= 3
        assert all(b - a >= 3.0 for a, b in zip(moments, moments[1:])), host
    # the second host did not wait for the first one's pace
    assert times[second.url][0] - times[first.url][2] < 3.0


def test_crawl_delay_lengthens_the_pace(servers, collect, fake_time):
    run, _ = collect
    site = servers(site_pages(robots=(200, "text/plain", ROBOTS + "Crawl-delay: 10\n")))
    run(site.url + "/tags/{tag}", interval=1.0, since="2026-01-01")
    assert fake_time.sleeps and max(fake_time.sleeps) == pytest.approx(10.0)


def test_a_news_feed_keeps_only_items_carrying_the_tag(servers, collect):
    run, _ = collect
    site = servers()
    manifest, rows = run(site.url + "/news.rss", since="2026-01-01")
    assert manifest.status == "ok"
    [row] = rows
    assert row["url"] == "https://news.example.org/a" and row["text"].startswith("Trend #")
    assert "A new trend" in row["text"] and "<p>" not in row["text"]
    assert row["created_at"] == datetime(2026, 2, 20, 9, 0, tzinfo=timezone.utc)
