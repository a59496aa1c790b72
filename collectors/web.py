"""Public web pages that have no API (a school-safety news feed, a public hashtag page) -> staging.

`source` is a page URL. With ``{tag}`` in it (``https://news.example.org/tags/{tag}``) the
page lists the tag's items and all are kept; without it (a news feed) only the items that
mention the tag (as #tag, a rel="tag" link or a category) are kept.

* Items: an HTML page's ``.h-entry`` elements (microformats), else its ``<article>``s; an
  RSS ``<item>`` or Atom ``<entry>``. An item's id is its link (absolute URL), else the
  page URL + its element id; its text the visible text; its time the ``<time datetime>``.
* Pages are followed through ``rel="next"`` up to `web_max_pages`, and no further back
  than the start of the collection (the watermark minus a day, or --since).
* robots.txt (RFC 9309, parsed with protego) is read once per host per run and obeyed
  for this User-Agent: a disallowed URL is never requested and is recorded in the
  manifest (`extra["disallowed"]`; the collection ends "capped", or "failed" when the
  first page itself is disallowed). A robots.txt that answers 4xx allows everything; one
  that cannot be read (5xx, no connection) disallows everything (RFC 9309 2.3.1.4).
* Politeness: at least `web_min_interval` seconds between two requests to one host
  (longer if robots.txt asks with Crawl-delay), robots.txt and retries included,
  shared by every collection in the process (`HostPacer`).
"""
from __future__ import annotations

import re
import threading
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import quote, urljoin

from bs4 import BeautifulSoup
from protego import Protego

from collectors.base import CollectOptions, collecting, hashtag, iso_z, start_of_collection
from collectors.http import PoliteClient, SourceError, host_of, host_port, plain
from collectors.staging import Manifest, parse_time, utcnow

PLATFORM = "web"
OVERLAP = timedelta(days=1)
_HASHTAG = re.compile(r"(?<![\w/])#(\w{1,100})")


class HostPacer:
    """At least `interval` seconds between two requests to the same host (scheme://host:port).

    `clock` (monotonic seconds) and `sleep` are injectable so tests see every wait.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.clock, self.sleep = clock, sleep
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, url: str, interval: float) -> None:
        host = host_of(url)
        with self._lock:
            last = self._last.get(host)
            if last is not None:
                due = last + interval - self.clock()
                if due > 0:
                    self.sleep(due)
            self._last[host] = self.clock()


DEFAULT_PACER = HostPacer()   # shared by every web collection in this process


def collect_tag(source: str, tag: str, *, staging_dir: Path | str, run_id: str,
                pseudonym_key: bytes, user_agent: str, watermark: str | None = None,
                since=None, checkpoint: dict | None = None, client: PoliteClient | None = None,
                options: CollectOptions | None = None) -> Manifest:
    """Collect the items of the page `source` (with {tag} filled in) that carry `tag`."""
    options = options or CollectOptions()
    tag = hashtag(tag)
    source = source.strip()
    per_tag = "{tag}" in source
    first_url = source.replace("{tag}", quote(tag)) if per_tag else source
    start = start_of_collection(since, parse_time(watermark), options, OVERLAP)
    own_client = client is None
    client = client or PoliteClient(user_agent)
    client.configure(first_url)  # the operator's page; rel="next" and redirects stay on its host
    fetcher = _Fetcher(client, user_agent, options)
    asked = {"url": first_url, "tag": tag, "since": iso_z(start), "max_pages": options.web_max_pages,
             "min_interval": options.web_min_interval, "user_agent": user_agent}
    with collecting(client, own_client, staging_dir, run_id, PLATFORM, source, tag, asked=asked,
                    watermark_before=watermark) as run:
        writer = run.writer
        fetcher.manifest = writer.manifest
        newest = parse_time(watermark)
        try:
            url: str | None = first_url
            while url:
                if writer.manifest.pages >= options.web_max_pages:
                    run.status, run.error = "capped", f"stopped after {options.web_max_pages} pages"
                    writer.manifest.cap_hit = True
                    break
                if not fetcher.allowed(url):
                    writer.manifest.extra.setdefault("disallowed", []).append(url)
                    if writer.manifest.pages == 0:
                        run.status = "failed"
                    else:
                        run.status = "capped"
                        writer.manifest.cap_hit = True
                    run.error = f"robots.txt disallows {url} for this User-Agent; not fetched"
                    break
                text, response = fetcher.get(url)
                writer.manifest.pages += 1
                items, next_url = parse_page(text, response.url,
                                             response.headers.get("Content-Type", ""))
                kept = [i for i in items if per_tag or tag in i["hashtags"]]
                collected_at = utcnow().isoformat()
                writer.write_posts(item_to_post(i, source, collected_at) for i in kept)
                dated = [i["created_at"] for i in items if i["created_at"] is not None]
                for moment in dated:
                    newest = moment if newest is None or moment > newest else newest
                if dated and max(dated) < start:
                    break  # the rest is older than this collection asks for
                url = urljoin(response.url, next_url) if next_url else None
                if url and host_port(url) != host_port(first_url):
                    # A page may not send the crawler to another host (an internal one above all).
                    run.status, writer.manifest.cap_hit = "capped", True
                    run.error = (f"the next page is on another host ({plain(host_port(url), 80)}): "
                                 "not followed")
                    writer.manifest.extra.setdefault("off_host", []).append(plain(url))
                    break
        except SourceError as exc:
            run.status, run.error = "failed", str(exc)
        if run.status != "failed" and newest is not None:
            writer.manifest.watermark_after = iso_z(newest)
        writer.manifest.extra["robots"] = fetcher.robots_status
    return writer.manifest


class _Fetcher:
    """GETs that obey robots.txt and the per-host pace, counted in the manifest."""

    def __init__(self, client: PoliteClient, user_agent: str, options: CollectOptions):
        self.client, self.user_agent, self.options = client, user_agent, options
        self.pacer = options.web_pacer or DEFAULT_PACER
        self.manifest: Manifest | None = None
        self._robots: dict[str, Protego | bool] = {}
        self.robots_status: dict[str, str] = {}

    def get(self, url: str) -> tuple[str, Any]:
        interval = max(self.options.web_min_interval, self._crawl_delay(url))
        return self.client.get_text(url, before_attempt=lambda: self._before(url, interval))

    def _before(self, url: str, interval: float) -> None:
        self.pacer.wait(url, interval)
        if self.manifest is not None:
            self.manifest.requests += 1

    def allowed(self, url: str) -> bool:
        rules = self._rules(url)
        return rules if isinstance(rules, bool) else rules.can_fetch(url, self.user_agent)

    def _crawl_delay(self, url: str) -> float:
        rules = self._robots.get(host_of(url))
        delay = rules.crawl_delay(self.user_agent) if isinstance(rules, Protego) else None
        return float(delay or 0)

    def _rules(self, url: str) -> Protego | bool:
        host = host_of(url)
        if host not in self._robots:
            robots_url = host + "/robots.txt"
            try:
                text, _ = self.client.get_text(
                    robots_url, before_attempt=lambda: self._before(robots_url,
                                                                    self.options.web_min_interval))
            except SourceError as exc:
                if exc.status is not None and 400 <= exc.status < 500:
                    self._robots[host], why = True, f"HTTP {exc.status}: no rules, all allowed"
                else:
                    self._robots[host], why = False, f"unreadable, nothing fetched ({exc})"
            else:
                self._robots[host], why = Protego.parse(text), "read"
            self.robots_status[robots_url] = why
        return self._robots[host]


def parse_page(text: str, page_url: str, content_type: str = "") -> tuple[list[dict], str | None]:
    """(items, the next page's href or None) of an HTML page or an RSS/Atom feed."""
    head = text.lstrip()[:200].lower()
    if "xml" in content_type.lower() and "html" not in content_type.lower() or \
            head.startswith("<?xml") or head.startswith("<rss") or head.startswith("<feed"):
        try:
            return _feed_items(ET.fromstring(text.encode("utf-8")), page_url), None
        except ET.ParseError as exc:
            raise SourceError(f"GET {page_url} returned a feed that is not well-formed XML: {exc}")
    soup = BeautifulSoup(text, "html.parser")
    entries = soup.select(".h-entry") or soup.find_all("article")
    items = [item for item in (_html_item(e, page_url) for e in entries) if item]
    following = soup.find(["a", "link"], rel="next", href=True)
    return items, following["href"] if following else None


def _html_item(entry, page_url: str) -> dict | None:
    link = entry.select_one("a.u-url[href]") or entry.find("a", href=True)
    url = urljoin(page_url, link["href"]) if link else None
    if url is None and entry.get("id"):
        url = f"{page_url.split('#')[0]}#{entry['id']}"
    if url is None:
        return None
    when = entry.find("time")
    created = parse_time(when.get("datetime") or when.get_text(strip=True)) if when else None
    text = entry.get_text(" ", strip=True)
    rel_tags = [a.get_text(strip=True).lstrip("#") for a in entry.find_all("a", rel="tag")]
    return {"url": url, "text": text, "created_at": created, "hashtags": _tags(text, rel_tags)}


def _feed_items(root: ET.Element, page_url: str) -> list[dict]:
    def local(el: ET.Element) -> str:
        return el.tag.rsplit("}", 1)[-1]

    def child(el: ET.Element, name: str) -> ET.Element | None:
        return next((c for c in el if local(c) == name), None)

    def text_of(el: ET.Element | None) -> str:
        raw = "".join(el.itertext()) if el is not None else ""
        return BeautifulSoup(raw, "html.parser").get_text(" ", strip=True) if "<" in raw else raw.strip()

    items = []
    for entry in root.iter():
        if local(entry) not in ("item", "entry"):
            continue
        link = child(entry, "link")
        url = (link.get("href") or text_of(link)) if link is not None else ""
        url = urljoin(page_url, url) if url else text_of(child(entry, "guid") or child(entry, "id"))
        if not url:
            continue
        body = [text_of(child(entry, n)) for n in ("title", "description", "summary", "content")]
        text = "\n\n".join(b for b in body if b)
        stamp = next((text_of(child(entry, n)) for n in ("pubDate", "published", "updated")
                      if child(entry, n) is not None), "")
        categories = [c.get("term") or text_of(c) for c in entry if local(c) == "category"]
        items.append({"url": url, "text": text, "created_at": _feed_time(stamp),
                      "hashtags": _tags(text, categories)})
    return items


def _feed_time(value: str) -> datetime | None:
    from email.utils import parsedate_to_datetime

    if not value:
        return None
    try:
        return parsedate_to_datetime(value)  # RSS: RFC 822 dates
    except (TypeError, ValueError):
        return parse_time(value)             # Atom: RFC 3339


def _tags(text: str, extra: Iterable[str]) -> list[str]:
    found = [t.strip().lower().replace(" ", "") for t in extra if t and t.strip()]
    found += [t.lower() for t in _HASHTAG.findall(text)]
    return list(dict.fromkeys(found))


def item_to_post(item: dict, source: str, collected_at: str) -> dict[str, Any]:
    """A page item as a staging post: no author (pages rarely name one reliably)."""
    return {
        "platform": PLATFORM, "post_id": item["url"], "url": item["url"], "text": item["text"],
        "created_at": item["created_at"], "hashtags": item["hashtags"],
        "author_key": None, "author_handle": None, "lang": None,
        "reply_count": None, "share_count": None, "like_count": None, "view_count": None,
        "source": source, "source_post_id": item["url"], "collected_at": collected_at,
        "parent_post_id": None,
    }
