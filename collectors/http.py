"""A polite HTTP client for the collectors.

Politeness is part of honest collection (docs: platform-apis.md): an honest
User-Agent, timeouts, a bounded number of retries, and waiting as long as the
server asks on 429/503. Every way of giving up raises one exception,
`SourceError`, whose message names the URL and the reason, so a collector can
turn any source problem into a failed manifest instead of a crash.
"""
from __future__ import annotations

import socket
import time
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable
from urllib.parse import urlencode, urlsplit

import requests

from collectors.staging import utcnow

# Transport failures worth another attempt: the server may be restarting or a
# proxy may have cut the body short.
_TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


class SourceError(Exception):
    """A source could not be read; the message says which URL and why.

    `status` is the HTTP status of a refused request (e.g. 401), else None.
    """

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class PoliteClient:
    """GETs JSON with retries and backoff; `retries` counts the extra attempts made.

    `sleep` is injectable so tests can see every wait without waiting.
    """

    def __init__(self, user_agent: str, *, connect_timeout: float = 10.0,
                 read_timeout: float = 30.0, max_retries: int = 5,
                 backoff_base: float = 1.0, backoff_cap: float = 120.0,
                 max_retry_after: float = 900.0,
                 sleep: Callable[[float], None] = time.sleep,
                 session: requests.Session | None = None,
                 rate_limit_reserve: int = 5,
                 clock: Callable[[], datetime] = utcnow,
                 deadline: float | None = 300.0,
                 monotonic: Callable[[], float] = time.monotonic):
        if not user_agent:
            raise ValueError("an honest User-Agent is required")
        self.timeout = (connect_timeout, read_timeout)
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self.sleep = sleep
        self.retries = 0
        # At most this many seconds per request, retries and waits included (None: no bound
        # beyond max_retries); re-checks and pasted links use a short one, a person waits.
        self.deadline = deadline
        self.monotonic = monotonic
        # Published limits (X-RateLimit-Remaining / -Reset, as Mastodon sends): when no more
        # than `rate_limit_reserve` requests are left, the next request to that host waits for
        # the reset. The reserve leaves room for the other tasks sharing the IP (pool slots).
        self.rate_limit_reserve = rate_limit_reserve
        self.clock = clock
        self.rate_waits = 0                 # waits for a published limit's reset
        self._limits: dict[str, tuple[int, datetime]] = {}
        self.session = session or requests.Session()
        self.session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})

    def get_json(self, url: str, params: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> tuple[Any, requests.Response]:
        """GET `url` and return (parsed JSON body, response), retrying what may pass.

        The response is returned too because callers need its headers (Link).
        """
        return self.request_json("GET", url, params=params, headers=headers)

    def request_json(self, method: str, url: str, *, params: dict[str, Any] | None = None,
                     json_body: Any = None, form: dict[str, Any] | None = None,
                     headers: dict[str, str] | None = None,
                     before_attempt: Callable[[], None] | None = None,
                     refuse: Callable[[requests.Response], Exception | None] | None = None,
                     ) -> tuple[Any, requests.Response]:
        """Send one request (JSON or form body) and return (parsed JSON body, response).

        `before_attempt` runs before every attempt, retries included (a request
        budget counts each one: a 500 still uses quota). `refuse` may turn a
        response into an exception raised at once instead of retried (e.g. a
        daily quota that no wait within this run will lift).
        """
        return self._request(method, url, params=params, json_body=json_body, form=form,
                             headers=headers, before_attempt=before_attempt, refuse=refuse,
                             read=lambda response: response.json(), what="valid JSON")

    def get_text(self, url: str, *, headers: dict[str, str] | None = None,
                 before_attempt: Callable[[], None] | None = None) -> tuple[str, requests.Response]:
        """GET a page (HTML, XML, robots.txt) and return (its text, response), with the same
        retries, waits and errors as `request_json`."""
        return self._request("GET", url, headers={"Accept": "text/html,application/xhtml+xml,"
                                                  "application/xml;q=0.9,*/*;q=0.8", **(headers or {})},
                             before_attempt=before_attempt, read=lambda response: response.text,
                             what="readable text")

    def _request(self, method: str, url: str, *, params=None, json_body=None, form=None,
                 headers=None, before_attempt=None, refuse=None,
                 read: Callable[[requests.Response], Any], what: str) -> tuple[Any, requests.Response]:
        attempt = 0
        give_up_at = None if self.deadline is None else self.monotonic() + self.deadline
        while True:
            if before_attempt is not None:
                before_attempt()
            self._respect_rate_limit(url)
            try:
                response = self.session.request(method, url, params=params, json=json_body,
                                                data=form, headers=headers,
                                                timeout=self._timeout(give_up_at))
                self._note_rate_limit(url, response)
            except _TRANSIENT_ERRORS as exc:
                unreachable = _unreachable(exc)
                if unreachable:  # no name, or nobody listening: another try cannot help
                    raise SourceError(f"could not reach {_host_name(url)}: {unreachable}") from None
                reason, wait = f"{_describe(exc)} {_host_name(url)}", self._backoff(attempt)
                where = _with_params(url, params)
            except requests.RequestException as exc:  # bad URL, redirect loop...: retrying will not help
                raise SourceError(f"{method} {_with_params(url, params)} failed: {exc}") from exc
            else:
                where = response.url
                refused = refuse(response) if refuse is not None else None
                if refused is not None:
                    raise refused
                if response.ok:
                    try:
                        return read(response), response
                    except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
                        reason = (f"HTTP {response.status_code} with a body that is not {what} "
                                  "(truncated?)")
                        wait = self._backoff(attempt)
                elif _retryable(response.status_code):
                    reason = f"HTTP {response.status_code} {response.reason}"
                    asked = self._server_wait(response, where)
                    wait = self._backoff(attempt) if asked is None else asked
                else:
                    raise SourceError(f"{method} {where} failed with HTTP {response.status_code} "
                                      f"{response.reason}{_error_detail(response)}",
                                      status=response.status_code)
            if attempt == self.max_retries:
                raise SourceError(f"{method} {where} gave up after {attempt + 1} attempts; last: {reason}")
            if give_up_at is not None and self.monotonic() + wait >= give_up_at:
                raise SourceError(f"{method} {where} gave up after {attempt + 1} attempt(s) in "
                                  f"{self.deadline:.0f} s; last: {reason}")
            attempt += 1
            self.retries += 1
            self.sleep(wait)

    def _timeout(self, give_up_at: float | None) -> tuple[float, float]:
        """Connect and read timeouts, cut to what is left of the deadline."""
        if give_up_at is None:
            return self.timeout
        left = max(0.5, give_up_at - self.monotonic())
        return (min(self.timeout[0], left), min(self.timeout[1], left))

    def _note_rate_limit(self, url: str, response: requests.Response) -> None:
        remaining = response.headers.get("X-RateLimit-Remaining")
        reset = parse_rate_limit_reset(response.headers.get("X-RateLimit-Reset"), self.clock())
        if remaining is None or reset is None or not remaining.strip().isdigit():
            return
        self._limits[host_of(url)] = (int(remaining), reset)

    def _respect_rate_limit(self, url: str) -> None:
        """Wait for the published reset rather than spend the last requests of a window."""
        limit = self._limits.get(host_of(url))
        if limit is None or limit[0] > self.rate_limit_reserve:
            return
        wait = (limit[1] - self.clock()).total_seconds()
        if wait > self.max_retry_after:
            raise SourceError(f"{url}: the published rate limit resets in {wait:.0f} s, more than "
                              f"the {self.max_retry_after:.0f} s allowed")
        del self._limits[host_of(url)]  # a new window starts at the reset
        if wait > 0:
            self.rate_waits += 1
            self.sleep(wait)

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_cap, self.backoff_base * 2 ** attempt)

    def _server_wait(self, response: requests.Response, where: str) -> float | None:
        """The wait a 429/503 asks for, in seconds; refuses a wait beyond `max_retry_after`.

        The server's wait is never shortened: coming back early would only be
        refused again and counts against us.
        """
        if response.status_code not in (429, 503):
            return None
        wait = parse_retry_after(response.headers.get("Retry-After"))
        if wait is not None and wait > self.max_retry_after:
            raise SourceError(f"{response.request.method} {where} answered HTTP {response.status_code} asking to wait "
                              f"{wait:.0f} s, more than the {self.max_retry_after:.0f} s allowed")
        return wait

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "PoliteClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date).

    None when the header is absent or unreadable: the caller then backs off on its own.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT by definition
        return None
    return max(0.0, (when - utcnow()).total_seconds())


def parse_rate_limit_reset(value: str | None, now: datetime) -> datetime | None:
    """When a published rate-limit window ends: X-RateLimit-Reset as an ISO 8601 time
    (Mastodon), epoch seconds (GitHub and others) or seconds from now (IETF draft)."""
    if not value:
        return None
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    if number > 1e9:
        return datetime.fromtimestamp(number, timezone.utc)
    return now + timedelta(seconds=number)


def host_of(url: str) -> str:
    """scheme://host[:port] of a URL: what rate limits and politeness are counted per."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _describe(exc: Exception) -> str:
    if isinstance(exc, requests.Timeout):
        return "no answer in time from"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection broke while reading the body from"
    return "could not connect to"


def _unreachable(exc: BaseException) -> str | None:
    """'connection refused' or 'no such host (DNS)' when that is what stopped a request.

    requests wraps urllib3, which wraps the socket error; walk the chain to find it.
    """
    seen, todo = set(), [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, socket.gaierror):
            return "no such host (DNS lookup failed)"
        if type(current).__name__ == "NameResolutionError":  # urllib3 2.x, without its cause
            return "no such host (DNS lookup failed)"
        todo += [getattr(current, "reason", None), current.__cause__, current.__context__,
                 *(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))]
    return None


def _host_name(url: str) -> str:
    """The host (and port) of a URL, as a person would name it in a message."""
    return urlsplit(url).netloc or url


def _with_params(url: str, params: dict[str, Any] | None) -> str:
    """The URL as it would have been requested, for error messages."""
    return f"{url}?{urlencode(params)}" if params else url


def _error_detail(response: requests.Response) -> str:
    """The error text of the body, if it has one, to make failures readable.

    Mastodon sends `{"error": "text"}`, XRPC `{"error": name, "message": text}`,
    TikTok `{"error": {"code": ..., "message": ...}}`.
    """
    try:
        body = response.json()
        detail, message = body.get("error"), body.get("message")
    except (ValueError, AttributeError):
        return ""
    if isinstance(detail, dict):
        detail, message = detail.get("code"), detail.get("message")
    text = ": ".join(str(part) for part in (detail, message) if part)
    return f": {text}" if text else ""
