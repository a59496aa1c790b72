"""Mastodon collector: the public timeline of one hashtag on one instance -> staging.

A first run walks back from the newest post (Link rel="next"); an incremental
run starts at the watermark with ``min_id`` and walks forward in time
(Link rel="prev"), so it only asks for what is new. Every page is written to
staging as it arrives. Source problems end in a manifest with status "failed"
rather than an exception, so one bad instance never stops the others.

A failed run needs no checkpoint: the watermark only moves after a finished
run, so the next run walks the same range again and the loader keeps each post
once. After the timeline, the tag's daily use history (GET /api/v1/tags/:name)
goes into the manifest for the trend view (table tag_history).

An instance that wants a token for tag timelines gets one from
TAGWATCH_MASTODON_TOKEN_<HOST> (host upper-cased, other characters as "_",
e.g. TAGWATCH_MASTODON_TOKEN_MASTODON_SOCIAL); without it requests are anonymous.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

from bs4 import BeautifulSoup

from collectors.base import CollectOptions, author_fields, collecting, hashtag, parse_since_date
from collectors.http import PoliteClient, SourceError, host_port, plain
from collectors.staging import Manifest, StagingWriter, parse_time, utcnow

PLATFORM = "mastodon"
PAGE_LIMIT = 40  # the API's maximum
SPOILER_PREFIX = "CW: "

log = logging.getLogger(__name__)

# A '#tag' typed in the text, as Mastodon reads one: not inside a word or a URL
# fragment, and with at least one letter ("#1" is not a tag).
_HASHTAG_IN_TEXT = re.compile(r"(?<![\w/)])#(\w*[^\W\d_]\w*)")


def collect_tag(base_url: str, tag: str, *, staging_dir: Path | str, run_id: str,
                pseudonym_key: bytes, user_agent: str, watermark: str | None = None,
                since=None, checkpoint: dict | None = None, max_pages: int = 10000,
                client: PoliteClient | None = None,
                options: CollectOptions | None = None) -> Manifest:
    """Collect the statuses under `tag` on the instance at `base_url` into staging.

    `watermark` is the newest status id already loaded for this (instance, tag);
    with it only newer statuses are fetched. `since` (a date) backfills instead:
    the walk goes back from the newest status to that date, whatever the
    watermark. `checkpoint` is not needed here (see the module docstring).
    Returns the manifest written.
    """
    options = options or CollectOptions()
    source = normalise_base_url(base_url)
    tag = normalise_tag(tag)
    floor = parse_since_date(since) if since is not None else None
    if floor is not None:
        watermark = None  # a backfill walks back from the newest post to the date
    own_client = client is None
    client = client or PoliteClient(user_agent)
    client.configure(source)  # the operator's source; links and redirects elsewhere are refused
    headers = _auth_headers(source, options)
    rate_waits_before = client.rate_waits  # a shared client may have waited for other tasks
    asked = {"instance": source, "tag": tag, "limit": PAGE_LIMIT, "min_id": watermark,
             "max_pages": max_pages}
    if floor is not None:
        asked["since"] = floor.isoformat()
    with collecting(client, own_client, staging_dir, run_id, PLATFORM, source, tag, asked=asked,
                    watermark_before=watermark) as run:
        writer = run.writer
        try:
            capped = _collect_pages(client, writer, source, tag, watermark, max_pages,
                                    pseudonym_key, floor, headers, options)
            writer.manifest.extra.update(_tag_history(client, source, tag, headers))
        except SourceError as exc:
            run.status, run.error = "failed", str(exc)
        else:
            run.status, run.error = ("capped" if capped else "ok"), None
        writer.manifest.extra["rate_limit_waits"] = client.rate_waits - rate_waits_before
    return writer.manifest


def _auth_headers(source: str, options: CollectOptions) -> dict[str, str] | None:
    token = options.credentials.get(token_variable(source))
    return {"Authorization": f"Bearer {token.strip()}"} if token and token.strip() else None


def token_variable(source: str) -> str:
    """The environment variable that holds the optional token for an instance."""
    host = source.split("://", 1)[-1].split("/", 1)[0]
    return "TAGWATCH_MASTODON_TOKEN_" + re.sub(r"[^A-Z0-9]+", "_", host.upper()).strip("_")


def _tag_history(client: PoliteClient, source: str, tag: str,
                 headers: dict[str, str] | None) -> dict:
    """{"tag_history": [{day, uses, accounts}, ...]} from GET /api/v1/tags/:name.

    An instance that does not know the tag (404) has no history; any other
    failure is kept as `tag_history_error` rather than failing the collection,
    whose posts are already staged.
    """
    url = f"{source}/api/v1/tags/{quote(tag, safe='')}"
    try:
        body, _ = client.get_json(url, headers=headers)
    except SourceError as exc:
        return {} if exc.status == 404 else {"tag_history_error": str(exc)}
    history = []
    for entry in (body.get("history") if isinstance(body, dict) else None) or []:
        day = parse_time(_as_number(entry.get("day")))
        if day is not None:
            history.append({"day": day.date().isoformat(), "uses": _as_number(entry.get("uses")),
                            "accounts": _as_number(entry.get("accounts"))})
    return {"tag_history": history}


def _as_number(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _collect_pages(client: PoliteClient, writer: StagingWriter, source: str, tag: str,
                   watermark: str | None, max_pages: int, key: bytes, floor=None,
                   headers: dict[str, str] | None = None,
                   options: CollectOptions | None = None) -> bool:
    """Fetch and write pages until the timeline ends; True if `max_pages` stopped it early."""
    manifest = writer.manifest
    manifest.watermark_after = watermark
    url = f"{source}/api/v1/timelines/tag/{quote(tag, safe='')}"
    store_handles = bool(options and options.store_handles)

    def write(statuses: list[dict]) -> bool:
        """Stage the new statuses of a page; True once the page reaches below the backfill floor."""
        fresh = _newer_than(statuses, watermark)
        reached_floor = False
        if floor is not None:
            kept = [s for s in fresh if (parse_time(s.get("created_at")) or floor) >= floor]
            reached_floor = len(kept) < len(fresh)
            fresh = kept
        collected_at = utcnow().isoformat()
        writer.write_posts(status_to_post(s, source, key, collected_at, store_handles) for s in fresh)
        manifest.watermark_after = _newest_id([manifest.watermark_after, *(s["id"] for s in fresh)])
        return reached_floor

    if watermark is None:
        walks = [("next", {"limit": PAGE_LIMIT}, None)]   # newest first, back in time
    else:
        walks = [("prev", {"limit": PAGE_LIMIT, "min_id": watermark}, None)]  # forward in time
    first_page: list[dict] | None = None
    while walks:
        rel, params, stop_at = walks.pop(0)
        for statuses, more in _timeline_pages(client, url, params, rel, headers):
            manifest.pages += 1
            if first_page is None:
                first_page = statuses
            if write(statuses) and rel == "next":
                return False  # older than the backfill date from here on
            reached = stop_at is not None and any(
                id_order_key(s["id"]) <= id_order_key(stop_at) for s in statuses)
            if more and not reached and manifest.pages >= max_pages:
                log.warning("%s #%s: stopped at max_pages=%d with more to fetch", source, tag, max_pages)
                return True
            if reached:
                break
        if rel == "prev" and first_page and len(first_page) >= PAGE_LIMIT:
            # A full first page: a server that reads min_id like since_id (the newest
            # page rather than the one right after the watermark) would leave a gap
            # below it. Walk back from that page's oldest post to the watermark; on a
            # server that follows the documentation this costs one request.
            oldest = min((s["id"] for s in first_page), key=id_order_key)
            walks.append(("next", {"limit": PAGE_LIMIT, "max_id": oldest}, watermark))
    return False


def _timeline_pages(client: PoliteClient, url: str, params: dict[str, Any] | None,
                    rel: str, headers: dict[str, str] | None = None
                    ) -> Iterator[tuple[list[dict], bool]]:
    """Yield (statuses, more) per page, following the Link header `rel`.

    A server that sends no Link header (or a relative one) still paginates: the
    next request is built from the page's own ids (max_id = its oldest for
    "next", min_id = its newest for "prev"), as the Link header would have.
    Ends on an empty page or a request already made (a server that points back
    to a page would otherwise keep us going forever).
    """
    visited: set[str] = set()
    while True:
        statuses, response = client.get_json(url, params, headers=headers)
        if not isinstance(statuses, list):
            raise SourceError(f"GET {response.url} returned a JSON {type(statuses).__name__}, "
                              "not a list of statuses")
        visited.add(response.url)
        link = response.links.get(rel, {}).get("url")
        if link:
            link = urljoin(response.url, link)
            if host_port(link) != host_port(response.url):
                raise SourceError(f"GET {plain(response.url)}: its {rel} page is on another host "
                                  f"({plain(host_port(link), 80)}): not followed")
        elif statuses:
            ids = [s["id"] for s in statuses if isinstance(s, dict) and "id" in s]
            if ids:
                edge = (min if rel == "next" else max)(ids, key=id_order_key)
                cursor = {"max_id" if rel == "next" else "min_id": edge}
                link = _with_query(response.url, {"limit": PAGE_LIMIT, **cursor},
                                   drop=("max_id", "min_id", "since_id"))
        if statuses and link in visited:
            log.warning("%s: the next page (rel=%s) was already fetched; stopping", response.url, rel)
        more = bool(statuses) and link is not None and link not in visited
        yield statuses, more
        if not more:
            return
        url, params = link, None


def _with_query(url: str, params: dict[str, Any], drop: tuple[str, ...] = ()) -> str:
    """`url` with `params` set in its query (and the `drop` parameters removed)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in drop and k not in params]
    query += [(k, str(v)) for k, v in params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _newer_than(statuses: list[dict], watermark: str | None) -> list[dict]:
    """Statuses strictly newer than the watermark.

    The API promises this with min_id; checking again costs nothing and keeps an
    off-by-one server from re-sending what the warehouse already has.
    """
    if watermark is None:
        return statuses
    fresh = [s for s in statuses if id_order_key(s["id"]) > id_order_key(watermark)]
    if len(fresh) < len(statuses):
        log.warning("dropped %d statuses not newer than watermark %s",
                    len(statuses) - len(fresh), watermark)
    return fresh


def id_order_key(status_id: str) -> tuple[int, int, str]:
    """Sort key for Mastodon ids: numeric for digit strings, else textual.

    Ids are strings in the API; compared as text, "99" would be newer than "100".
    """
    text = str(status_id)
    return (1, int(text), "") if text.isdigit() else (0, 0, text)


def _newest_id(ids: list[str | None]) -> str | None:
    present = [i for i in ids if i is not None]
    return max(present, key=id_order_key) if present else None


def status_to_post(status: dict[str, Any], source: str, key: bytes, collected_at: str,
                   store_handles: bool = False) -> dict[str, Any]:
    """One Mastodon Status as a staging post (see staging.POST_FIELDS).

    A reblog stands for the post it shares, so the reblogged status is stored.
    The author is kept only as a keyed pseudonym.
    """
    status = status.get("reblog") or status
    text = html_to_text(status.get("content") or "")
    if status.get("spoiler_text"):
        text = f"{SPOILER_PREFIX}{status['spoiler_text']}\n\n{text}"
    return {
        "platform": PLATFORM,
        "post_id": status.get("uri") or status.get("url") or f"{source}/api/v1/statuses/{status['id']}",
        "url": status.get("url") or status.get("uri"),
        "text": text,
        "created_at": status.get("created_at"),
        "hashtags": _hashtags(status, text),
        **author_fields(key, PLATFORM, author_ref(status["account"], source),
                        status["account"].get("acct"), store_handles),
        "lang": status.get("language"),
        "reply_count": status.get("replies_count"),
        "share_count": status.get("reblogs_count"),
        "like_count": status.get("favourites_count"),
        "view_count": None,
        "source": source,
        "source_post_id": str(status["id"]),
        "collected_at": collected_at,
        "parent_post_id": None,
    }


def author_ref(account: dict[str, Any], source: str) -> str:
    """A stable, instance-independent reference to an account (to pseudonymise, never to store).

    The profile URL is the same whichever instance we read the post on; a bare
    local `acct` gets the instance's host so "alice" here and "alice" elsewhere differ.
    """
    if account.get("url"):
        return account["url"]
    acct = account["acct"]
    return acct if "@" in acct else f"{acct}@{source.split('://', 1)[-1]}"


def _hashtags(status: dict[str, Any], text: str) -> list[str]:
    """Lower-cased tags from the status entity, then any other '#tag' in the text, in order."""
    names = [t["name"] for t in status.get("tags") or []] + _HASHTAG_IN_TEXT.findall(text)
    return list(dict.fromkeys(n.lower() for n in names))


def html_to_text(html: str) -> str:
    """Status HTML as plain text: link, hashtag and mention text kept, paragraphs and
    line breaks as newlines, entities decoded.

    The result is text, never markup: a `<script>` element becomes its bare
    text, and encoded markup (`&lt;script&gt;`) stays as literal characters,
    which whoever displays it must escape.
    """
    soup = BeautifulSoup(html, "html.parser")
    for element in soup.find_all(["script", "style"]):
        # get_text() skips script and style strings; keep them so nothing is hidden from reviewers.
        element.replace_with(element.get_text())
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for paragraph in soup.find_all("p"):
        paragraph.append("\n")
    lines = (line.strip() for line in soup.get_text().splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def normalise_base_url(base_url: str) -> str:
    """The instance URL as stored in `source`: with a scheme, without a trailing slash."""
    url = base_url.strip().rstrip("/")
    return url if "://" in url else f"https://{url}"


def normalise_tag(tag: str) -> str:
    """'#Tag' or 'tag' -> 'tag' (Mastodon tags are case-insensitive)."""
    return hashtag(tag)


# --- looking a post up again (re-checks, posts members report) ------------------------------

# A status URL as instances show it: https://host/@user/123 (or /users/user/statuses/123).
_STATUS_URL = re.compile(r"^(https?://[^/\s]+)/(?:@[^/\s]+|users/[^/\s]+/statuses)/(\d+)/?$")


def parse_status_url(url: str) -> tuple[str, str]:
    """'https://host/@someone/123' -> ('https://host', '123'); ValueError if it is not one."""
    m = _STATUS_URL.match((url or "").strip())
    if not m:
        raise ValueError(f"not a Mastodon status URL: {url!r} (expected https://INSTANCE/@USER/ID)")
    return m.group(1), m.group(2)


def fetch_status(client: PoliteClient, source: str, status_id: str) -> dict[str, Any]:
    """The status with this id on the instance; SourceError (with .status) if it cannot be had."""
    status, _ = client.get_json(f"{normalise_base_url(source)}/api/v1/statuses/{quote(str(status_id), safe='')}")
    if not isinstance(status, dict) or "id" not in status:
        raise SourceError(f"{source}: status {status_id} came back as something that is not a status")
    if str(status["id"]) != str(status_id):  # a host may only answer for the post asked about
        raise SourceError(f"{source}: asked for status {status_id}, answered with status "
                          f"{plain(str(status['id']), 40)}: not accepted")
    return status


def lookup_status(client: PoliteClient, source: str, status_id: str) -> dict[str, Any]:
    """Is the status still there? {"url", "http_status", "state", "detail"}.

    state: "online"; "gone" (404: Mastodon answers the same whether the author or a
    moderator removed it); "account_gone" (410, or the account is marked suspended);
    "error" (no usable answer: nothing can be concluded).
    """
    url = f"{normalise_base_url(source)}/api/v1/statuses/{quote(str(status_id), safe='')}"
    try:
        status = fetch_status(client, source, status_id)
    except SourceError as exc:
        state = {404: "gone", 410: "account_gone"}.get(exc.status, "error")
        return {"url": url, "http_status": exc.status, "state": state, "detail": str(exc)}
    if (status.get("account") or {}).get("suspended"):
        return {"url": url, "http_status": 200, "state": "account_gone",
                "detail": "the status is served but its account is marked suspended"}
    return {"url": url, "http_status": 200, "state": "online", "detail": None}
