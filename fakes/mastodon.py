"""An offline Mastodon: serves a fixed set of statuses through the real API shape.

Tests and demos run the collector against it instead of a live instance. It
implements what the collector relies on with Mastodon's own semantics
(app/models/concerns/paginable.rb, Api::V1::Timelines::TagController):

* ``GET /api/v1/timelines/tag/:hashtag`` with limit (default 20, max 40),
  max_id, since_id and min_id. Newest first; ``min_id`` returns the statuses
  immediately newer than it (still newest first), ``since_id`` the newest ones
  down to it. A non-empty page carries a ``Link`` header: rel="next"
  (max_id = oldest on the page) and rel="prev" (min_id = newest on the page).
* ``GET /api/v1/statuses/:id`` (404 once absent) and ``GET /api/v1/tags/:name``.

For re-checks, a status can be deleted (`delete_status`: 404, whether its author or a
moderator removed it, as on Mastodon) and an account can be gone (`remove_account`:
its statuses answer 410 Gone and leave the timelines).

`Faults` makes it misbehave on chosen requests, so every fault the collector
handles can be produced in a test. The server plumbing (lifecycle, request log,
latency, faults, self-stop after `max_lifetime` seconds) is fakes.api's;
`Faults` lives there and is re-exported here.
"""
from __future__ import annotations

import json
import re
import zlib
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import Any, Callable
from urllib.parse import quote, unquote, urlencode

from fakes.api import FakeAPIServer, Faults, Reply, Request

__all__ = ["Faults", "MastodonReplayServer", "load_sample", "make_status", "serve"]

DEFAULT_LIMIT = 20
MAX_LIMIT = 40
HISTORY_DAYS = 7

# path pattern -> the MastodonReplayServer method answering it (with the captured name or id)
_ROUTES = [
    (re.compile(r"/api/v1/timelines/tag/([^/]+)"), "_tag_timeline"),
    (re.compile(r"/api/v1/statuses/([^/]+)"), "_status"),
    (re.compile(r"/api/v1/tags/([^/]+)"), "_tag"),
]


class MastodonReplayServer(FakeAPIServer):
    """A Mastodon API on 127.0.0.1 in a daemon thread; use as a context manager."""

    protocol_version = "HTTP/1.0"  # one request per connection, as this replay always answered

    def __init__(self, statuses: list[dict] | None = None, host: str = "127.0.0.1", port: int = 0,
                 faults: Faults | None = None, max_lifetime: float | None = 600,
                 latency: float = 0.0, rate_limit: int | None = None, rate_window: int = 300,
                 clock: Callable[[], datetime] | None = None):
        super().__init__(faults, host=host, port=port, latency=latency, max_lifetime=max_lifetime)
        # Mastodon's published limit (300 requests / 5 min per IP by default): fixed windows
        # aligned on the epoch, X-RateLimit-Limit/-Remaining/-Reset on every answer, 429 past it.
        self.rate_limit, self.rate_window = rate_limit, rate_window
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.rate_limited = 0             # requests refused for the rate limit
        self._window: tuple[int, int] = (-1, 0)   # (window number, requests in it)
        self._statuses: dict[int, dict] = {}
        self._gone_accounts: set[str] = set()
        self._by_tag: dict[str, list[dict]] = {}   # tag -> its statuses, oldest first (a cache)
        for status in statuses or []:
            self.add_status(status)

    # -- data ------------------------------------------------------------------

    def add_status(self, status: dict) -> None:
        """Publish a status (its id must be a digit string, as Mastodon's are)."""
        with self.lock:
            self._statuses[int(status["id"])] = status
            self._by_tag = {}

    def delete_status(self, status_id: int | str) -> None:
        """The status disappears: lookups answer 404 and timelines leave it out."""
        with self.lock:
            del self._statuses[int(status_id)]
            self._by_tag = {}

    def remove_account(self, username: str) -> None:
        """The account is gone (suspended or deleted): its statuses answer 410 Gone."""
        with self.lock:
            self._gone_accounts.add(username)
            self._by_tag = {}

    def _account_gone(self, status: dict) -> bool:
        return status["account"]["username"] in self._gone_accounts

    def _snapshot(self) -> list[dict]:
        """All statuses of accounts that still exist, oldest first."""
        with self.lock:
            return [self._statuses[k] for k in sorted(self._statuses)
                    if not self._account_gone(self._statuses[k])]

    def _tagged(self, name: str) -> list[dict]:
        """The statuses carrying tag `name`, oldest first (cached: benchmarks ask thousands of times)."""
        key = name.lower()
        with self.lock:
            generation = self._by_tag
            found = generation.get(key)
        if found is None:
            found = [s for s in self._snapshot() if _has_tag(s, name)]
            with self.lock:
                if self._by_tag is generation:  # no change meanwhile
                    self._by_tag[key] = found
        return found

    # -- requests --------------------------------------------------------------

    @property
    def requests(self) -> list[tuple[str, dict[str, str]]]:  # type: ignore[override]
        """Every request received so far as (path, query), in order."""
        with self.lock:
            return [(r.path, r.query) for r in self._log]

    def answer(self, request: Request, number: int) -> Reply:
        """Past the rate limit a 429; otherwise the fault or the route, with X-RateLimit headers."""
        limited, limit_headers = self._rate()
        if limited:
            return Reply(429, {"error": "Too many requests"}, limit_headers)
        reply = super().answer(request, number)
        reply.headers.update(limit_headers)
        return reply

    def _rate(self) -> tuple[bool, dict[str, str]]:
        """(over the limit?, the X-RateLimit headers) for one more request now."""
        if self.rate_limit is None:
            return False, {}
        now = self.clock().timestamp()
        number = int(now // self.rate_window)
        with self.lock:
            used = self._window[1] + 1 if self._window[0] == number else 1
            self._window = (number, used)
            over = used > self.rate_limit
            self.rate_limited += over
        reset = datetime.fromtimestamp((number + 1) * self.rate_window, timezone.utc)
        return over, {"X-RateLimit-Limit": str(self.rate_limit),
                      "X-RateLimit-Remaining": str(max(0, self.rate_limit - used)),
                      "X-RateLimit-Reset": reset.isoformat(timespec="milliseconds").replace("+00:00", "Z")}

    def route(self, request: Request) -> Reply:
        if request.method == "GET":
            for pattern, endpoint in _ROUTES:
                match = pattern.fullmatch(request.path)
                if match:
                    try:
                        return getattr(self, endpoint)(unquote(match.group(1)), request.query)
                    except ValueError as exc:
                        return Reply(400, {"error": str(exc)})
        return Reply(404, {"error": "Not found"})

    def _tag_timeline(self, name: str, query: dict[str, str]) -> Reply:
        tagged = self._tagged(name)
        limit = self._page_size(query.get("limit"))
        max_id, since_id, min_id = (_id_param(query, p) for p in ("max_id", "since_id", "min_id"))
        if self.faults.min_id_as_since_id and min_id is not None:
            since_id, min_id = min_id, None
        page = _paginate(tagged, limit, max_id, since_id, min_id)
        page = _with_overlap(page, tagged, self.faults.overlap, max_id, min_id)
        return Reply(200, page, self._link_header(name, query, page))

    def _page_size(self, limit: str | None) -> int:
        size = min(abs(int(limit)), MAX_LIMIT) if limit else DEFAULT_LIMIT
        cap = self.faults.page_size_cap
        return min(size, cap) if cap else size

    def _link_header(self, name: str, query: dict[str, str], page: list[dict]) -> dict[str, str]:
        """Link rel=next/prev as Mastodon builds them: absolute, only `limit` carried over."""
        if not page or self.faults.no_link_header:
            return {}
        base = f"{self.url}/api/v1/timelines/tag/{quote(name, safe='')}"
        kept = {"limit": query["limit"]} if "limit" in query else {}
        next_url = f"{base}?{urlencode({**kept, 'max_id': page[-1]['id']})}"
        prev_url = f"{base}?{urlencode({**kept, 'min_id': page[0]['id']})}"
        return {"Link": f'<{next_url}>; rel="next", <{prev_url}>; rel="prev"'}

    def _status(self, status_id: str, query: dict[str, str]) -> Reply:
        with self.lock:
            status = self._statuses.get(int(status_id)) if status_id.isdigit() else None
            gone = status is not None and self._account_gone(status)
        if status is None:
            return Reply(404, {"error": "Record not found"})
        if gone:
            return Reply(410, {"error": "This account has been suspended"})
        return Reply(200, status)

    def _tag(self, name: str, query: dict[str, str]) -> Reply:
        tagged = self._tagged(name)
        if not tagged:
            return Reply(404, {"error": "Record not found"})
        return Reply(200, {"name": name.lower(), "url": f"{self.url}/tags/{name.lower()}",
                            "history": _tag_history(tagged), "following": False})


def _has_tag(status: dict, name: str) -> bool:
    wanted = name.lower()
    return any(t["name"].lower() == wanted for t in status.get("tags") or [])


def _id_param(query: dict[str, str], name: str) -> int | None:
    value = query.get(name)
    if not value:
        return None
    if not value.isdigit():
        raise ValueError(f"{name} must be a status id, got {value!r}")
    return int(value)


def _paginate(oldest_first: list[dict], limit: int, max_id: int | None, since_id: int | None,
              min_id: int | None) -> list[dict]:
    """Mastodon's to_a_paginated_by_id: a page, newest first.

    With min_id the page is the `limit` statuses immediately newer than min_id;
    otherwise it is the newest `limit` below max_id (and above since_id).
    """
    def below_max(s: dict) -> bool:
        return max_id is None or int(s["id"]) < max_id

    if min_id is not None:
        newer = [s for s in oldest_first if int(s["id"]) > min_id and below_max(s)]
        return newer[:limit][::-1]
    floor = since_id if since_id is not None else -1
    return [s for s in reversed(oldest_first) if int(s["id"]) > floor and below_max(s)][:limit]


def _with_overlap(page: list[dict], oldest_first: list[dict], overlap: int, max_id: int | None,
                  min_id: int | None) -> list[dict]:
    """The overlap fault: also serve the `overlap` items of the page the client came from.

    Going back (max_id) they sit at the top; going forward (min_id) at the bottom.
    """
    if not overlap:
        return page
    if min_id is not None:
        before = [s for s in oldest_first if int(s["id"]) <= min_id][-overlap:]
        return page + before[::-1]
    if max_id is not None:
        after = [s for s in oldest_first if int(s["id"]) >= max_id][:overlap]
        return after[::-1] + page
    return page


def _tag_history(tagged: list[dict]) -> list[dict[str, str]]:
    """Uses and accounts per day for the week ending on the newest status's day, newest day first."""
    days = [_created_at(s).date() for s in tagged]
    last = max(days)
    history = []
    for offset in range(HISTORY_DAYS):
        day = last - timedelta(days=offset)
        on_day = [s for s, d in zip(tagged, days) if d == day]
        midnight = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        history.append({"day": str(int(midnight.timestamp())), "uses": str(len(on_day)),
                        "accounts": str(len({s["account"]["id"] for s in on_day}))})
    return history


def _created_at(status: dict) -> datetime:
    return datetime.fromisoformat(status["created_at"])


def make_status(status_id: int | str, tags: tuple[str, ...] = ("teachersoftiktok",), *,
                content: str | None = None, username: str = "someone",
                domain: str = "replay.example", **fields: Any) -> dict:
    """A minimal but complete public Status, e.g. to `add_status` a new post in a test.

    `created_at` follows the id so time and id order agree, as they do on Mastodon:
    a snowflake id (as in the sample) carries its milliseconds since 1970 above
    its low 16 bits; a small id counts seconds from 20 Nov 2021. Any other
    Status field can be given as a keyword.
    """
    n = int(status_id)
    if n >= 1 << 32:
        created = datetime.fromtimestamp((n >> 16) / 1000, timezone.utc)
    else:
        created = datetime(2021, 11, 20, tzinfo=timezone.utc) + timedelta(seconds=n)
    links = " ".join(f'<a href="https://{domain}/tags/{t}" class="mention hashtag" rel="tag">'
                     f"#<span>{t}</span></a>" for t in tags)
    status = {
        "id": str(status_id),
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "uri": f"https://{domain}/users/{username}/statuses/{status_id}",
        "url": f"https://{domain}/@{username}/{status_id}",
        "content": content if content is not None else f"<p>Post {status_id} {links}</p>",
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "reblog": None,
        "account": {"id": str(zlib.crc32(username.encode())), "username": username,
                    "acct": username, "url": f"https://{domain}/@{username}",
                    "display_name": username.title()},
        "tags": [{"name": t.lower(), "url": f"https://{domain}/tags/{t.lower()}"} for t in tags],
    }
    return {**status, **fields}


def load_sample() -> list[dict]:
    """The bundled sample of invented statuses (fakes/sample/mastodon_sample.json)."""
    text = resources.files("fakes").joinpath("sample/mastodon_sample.json").read_text("utf-8")
    return json.loads(text)


def serve(host: str = "127.0.0.1", port: int = 8089) -> None:
    """Serve the sample in the foreground until Ctrl-C (for demos and manual testing)."""
    with MastodonReplayServer(load_sample(), host=host, port=port, max_lifetime=None) as server:
        print(f"Mastodon replay of the sample at {server.url} (Ctrl-C to stop)", flush=True)
        try:
            server.wait()
        except KeyboardInterrupt:
            pass
