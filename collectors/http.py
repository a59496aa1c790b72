"""A polite HTTP client: every request tagwatch makes goes through it.

Politeness is part of honest collection (README.md, "Platforms and credentials"): an honest
User-Agent, timeouts, a bounded number of retries, and waiting as long as the
server asks on 429/503 (within a bound). Every way of giving up raises one exception,
`SourceError`, whose message names the URL and the reason in plain words, so a collector can
turn any source problem into a failed manifest instead of a crash.

The outbound policy (the URLs tagwatch fetches are partly chosen by outsiders: a post
URL a school sends, a page's rel="next", a redirect):
* a redirect is followed only to the same host (http -> https allowed), at most
  `max_redirects` times, and each hop is checked like the first request;
* a loopback, private, link-local or cloud-metadata address (written any way: see
  `internal_host`, or a name that resolves to one) is contacted only when that exact
  host[:port] is a configured source (`PoliteClient.configure`). The name is checked
  before the request, and the address actually connected to is checked again before a
  byte is sent (`guarded_adapter`): a name that resolves to a public address at the check
  and to a loopback one at the connection (DNS rebinding) is refused too;
* a response body is read up to `max_body` bytes, never more;
* an error never carries a raw response body: at most a short, escaped excerpt.
"""
from __future__ import annotations

import ipaddress
import json
import socket
import time
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable
import unicodedata
from urllib.parse import urlencode, urljoin, urlsplit

import requests
import requests.adapters

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


MAX_BODY = 16 * 1024 * 1024     # bytes read from one response at most (a page of posts is far less)
MAX_REDIRECTS = 3               # same-host redirects followed per request
DETAIL_CHARS = 200              # of a server's error text shown in a message


class PoliteClient:
    """GETs JSON with retries and backoff; `retries` counts the extra attempts made.

    `sleep` is injectable so tests can see every wait without waiting. `max_total_wait`
    bounds the sum of all waits of one request (a web page must not hang on a 429).
    `configured` are the hosts (URLs or host[:port]) that may be contacted even when
    they are internal addresses: the sources the operator configured.
    """

    def __init__(self, user_agent: str, *, connect_timeout: float = 10.0,
                 read_timeout: float = 30.0, max_retries: int = 5,
                 backoff_base: float = 1.0, backoff_cap: float = 120.0,
                 max_retry_after: float = 900.0,
                 max_total_wait: float | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 session: requests.Session | None = None,
                 rate_limit_reserve: int = 5,
                 clock: Callable[[], datetime] = utcnow,
                 configured: tuple[str, ...] = (),
                 max_body: int = MAX_BODY, max_redirects: int = MAX_REDIRECTS,
                 resolve: Callable[[str], list[str]] | None = None,
                 deadline: float | None = 300.0,
                 monotonic: Callable[[], float] = time.monotonic):
        if not user_agent:
            raise ValueError("an honest User-Agent is required")
        self.timeout = (connect_timeout, read_timeout)
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self.max_total_wait = max_total_wait
        self.sleep = sleep
        self.retries = 0
        # At most this many seconds per request, retries and waits included (None: no bound
        # beyond max_retries); re-checks and pasted links use a short one, a person waits.
        self.deadline = deadline
        self.monotonic = monotonic
        self.max_body = max_body
        self.max_redirects = max_redirects
        self.resolve = resolve or resolve_host
        self.configured: set[str] = set()
        self.configure(*configured)
        # Published limits (X-RateLimit-Remaining / -Reset, as Mastodon sends): when no more
        # than `rate_limit_reserve` requests are left, the next request to that host waits for
        # the reset. The reserve leaves room for the other tasks sharing the IP (pool slots).
        self.rate_limit_reserve = rate_limit_reserve
        self.clock = clock
        self.rate_waits = 0                 # waits for a published limit's reset
        self._limits: dict[str, tuple[int, datetime]] = {}
        self.session = session or requests.Session()
        self.session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
        self.session.trust_env = False  # no proxy from the environment decides where requests go
        adapter = guarded_adapter(self.check_peer)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def configure(self, *sources: str) -> None:
        """Mark sources (URLs or host[:port]) as configured: they may be contacted even
        when they are internal addresses (a local fake, an instance on the LAN)."""
        for source in sources:
            if source and "://" in source:
                self.configured.add(host_port(source))
            elif source:  # host[:port] as TAGWATCH_INTAKE_HOSTS gives it: either scheme
                self.configured.update(host_port(f"{scheme}://{source}") for scheme in ("http", "https"))

    def check_destination(self, url: str) -> None:
        """SourceError unless `url` may be contacted (see the module's outbound policy)."""
        try:
            parts = urlsplit(url)
            parts.port
        except ValueError:
            raise SourceError(f"{plain(url)} is not a valid web address: not contacted") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceError(f"{plain(url)} is not a web address (http or https): not contacted")
        if parts.username is not None or parts.password is not None:
            raise SourceError(f"{plain(url)} has a user name in it: not contacted")
        if host_port(url) in self.configured:
            return
        host = parts.hostname
        if internal_host(host) or any(internal_host(a) for a in self.resolve(host)):
            raise SourceError(f"{parts.hostname} is an internal or private network address and not "
                              "a configured source: not contacted")

    def check_peer(self, host: str, port: int, address: str) -> None:
        """SourceError unless the address a connection to host:port reached may be
        contacted: the same rule as `check_destination`, on the address itself."""
        name = f"{host.strip('[]').lower().rstrip('.')}:{port}"
        if name in self.configured:
            return
        if internal_host(address):
            raise SourceError(f"{plain(host, 80)} led to the internal address {plain(address, 60)} when "
                              "connecting (it answered a public one when checked): not contacted")

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
                             read=lambda reply: reply.json(), what="valid JSON")

    def get_text(self, url: str, *, headers: dict[str, str] | None = None,
                 before_attempt: Callable[[], None] | None = None) -> tuple[str, requests.Response]:
        """GET a page (HTML, XML, robots.txt) and return (its text, response), with the same
        retries, waits and errors as `request_json`."""
        return self._request("GET", url, headers={"Accept": "text/html,application/xhtml+xml,"
                                                  "application/xml;q=0.9,*/*;q=0.8", **(headers or {})},
                             before_attempt=before_attempt, read=lambda reply: reply.text,
                             what="readable text")

    def _request(self, method: str, url: str, *, params=None, json_body=None, form=None,
                 headers=None, before_attempt=None, refuse=None,
                 read: Callable[["Reply"], Any], what: str) -> tuple[Any, "Reply"]:
        attempt, waited = 0, 0.0
        give_up_at = None if self.deadline is None else self.monotonic() + self.deadline
        while True:
            try:
                response = self._send(method, url, params=params, json_body=json_body, form=form,
                                      headers=headers, before_attempt=before_attempt,
                                      timeout=self._timeout(give_up_at))
            except _TRANSIENT_ERRORS as exc:
                unreachable = _unreachable(exc)
                if unreachable:  # no such name, or nobody listening: another try cannot help
                    raise SourceError(f"could not reach {plain(host_port_name(url), 80)}: "
                                      f"{unreachable}") from None
                reason = f"{_describe(exc)} {plain(host_port_name(url), 80)}"
                wait, where = self._backoff(attempt), _with_params(url, params)
            except requests.RequestException as exc:  # bad URL, redirect loop...: retrying will not help
                raise SourceError(f"{method} {plain(_with_params(url, params))} failed: "
                                  f"{plain(str(exc))}") from exc
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
                                      f"{plain(response.reason or '', 60)}{_error_detail(response)}",
                                      status=response.status_code)
            if attempt == self.max_retries:
                raise SourceError(f"{method} {where} gave up after {attempt + 1} attempts; last: {reason}")
            if give_up_at is not None and self.monotonic() + wait >= give_up_at:
                raise SourceError(f"{method} {where} gave up after {attempt + 1} attempt(s) in "
                                  f"{self.deadline:.0f} s; last: {reason}")
            if self.max_total_wait is not None and waited + wait > self.max_total_wait:
                raise SourceError(f"{method} {where} gave up: {reason}, and waiting {wait:.0f} s more "
                                  f"would pass the {self.max_total_wait:.0f} s allowed")
            attempt += 1
            self.retries += 1
            waited += wait
            self.sleep(wait)

    def _timeout(self, give_up_at: float | None) -> tuple[float, float]:
        """Connect and read timeouts, cut to what is left of the deadline."""
        if give_up_at is None:
            return self.timeout
        left = max(0.5, give_up_at - self.monotonic())
        return (min(self.timeout[0], left), min(self.timeout[1], left))

    def _send(self, method: str, url: str, *, params, json_body, form, headers,
              before_attempt, timeout) -> "Reply":
        """One attempt: the request and any same-host redirects, each hop checked first;
        the body read up to `max_body` bytes."""
        start = _with_params(url, params)
        for hop in range(self.max_redirects + 1):
            self.check_destination(url if hop else start)
            if before_attempt is not None:
                before_attempt()
            self._respect_rate_limit(url)
            response = self.session.request(method, url, params=params, json=json_body, data=form,
                                            headers=headers, timeout=timeout,
                                            allow_redirects=False, stream=True)
            self._note_rate_limit(url, response)
            if not response.is_redirect:
                return Reply(response, self._read_body(response))
            target = urljoin(response.url, response.headers.get("Location", ""))
            response.close()
            if not same_host(response.url, target):
                raise SourceError(f"{method} {plain(response.url)} answered with a redirect to another "
                                  f"host ({plain(host_port(target), 80)}): not followed")
            if response.status_code == 303 or (response.status_code in (301, 302) and method != "HEAD"):
                method, json_body, form = "GET", None, None
            url, params = target, None
        raise SourceError(f"{method} {plain(start)} redirected more than {self.max_redirects} times: "
                          "not followed further")

    def _read_body(self, response: requests.Response) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            response.close()
            raise SourceError(f"{response.request.method} {plain(response.url)} answered with "
                              f"{int(declared):,} bytes, more than the {self.max_body:,} allowed: not read")
        chunks, size = [], 0
        try:
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > self.max_body:
                    raise SourceError(f"{response.request.method} {plain(response.url)} answered with "
                                      f"more than the {self.max_body:,} bytes allowed: not read")
                chunks.append(chunk)
        finally:
            response.close()
        return b"".join(chunks)

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
        if wait is not None and self.max_total_wait is not None and wait > self.max_total_wait:
            raise SourceError(f"{response.request.method} {where} answered HTTP {response.status_code} asking to wait "
                              f"{wait:.0f} s, more than the {self.max_total_wait:.0f} s allowed here")
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
    """'connection refused' or 'no such host (DNS lookup failed)' when that is what stopped
    a request. requests wraps urllib3, which wraps the socket error: walk the chain."""
    seen, todo = set(), [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, socket.gaierror) or type(current).__name__ == "NameResolutionError":
            return "no such host (DNS lookup failed)"
        todo += [getattr(current, "reason", None), current.__cause__, current.__context__,
                 *(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))]
    return None


def host_port_name(url: str) -> str:
    """The host (and port) of a URL as a person would name it in a message."""
    return urlsplit(url).netloc.rpartition("@")[2] or url


def _with_params(url: str, params: dict[str, Any] | None) -> str:
    """The URL as it would have been requested, for error messages."""
    return f"{url}?{urlencode(params)}" if params else url


def _error_detail(response: "Reply") -> str:
    """The error text of the body, if it has one, to make failures readable: short and
    escaped (a body is the server's to choose and ends up on pages and in the warehouse).

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
    return f": {plain(text)}" if text else ""


class Reply:
    """A response whose body was read within the size bound: what callers use of a
    requests.Response (status_code, headers, url, links, reason, ok, request) plus
    `content`, `text` and `json()` over the bounded body."""

    def __init__(self, response: requests.Response, body: bytes):
        self.response, self.content = response, body

    def __getattr__(self, name: str):
        return getattr(self.response, name)

    @property
    def text(self) -> str:
        return self.content.decode(_charset(self.response.headers.get("Content-Type", "")),
                                   errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


def _charset(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            value = value.strip().strip("\"'")
            try:
                "".encode(value)
                return value
            except LookupError:
                break
    return "utf-8"


def plain(text: str, limit: int = DETAIL_CHARS) -> str:
    """Outside text (a server's error, a URL) made safe for a message: control and
    format characters escaped, on one line, at most `limit` characters."""
    out = []
    for ch in " ".join(str(text).split()):
        out.append(ch.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs") else ch)
    text = "".join(out)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def host_port(url: str) -> str:
    """host:port of a URL (the scheme's default port filled in), lower case."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower(), 0)
    return f"{(parts.hostname or '').lower().rstrip('.')}:{port}"


def same_host(origin: str, target: str) -> bool:
    """May a redirect from `origin` go to `target`? The same host and port, or the same
    host moving from http to https on the default ports."""
    a, b = urlsplit(origin), urlsplit(target)
    if b.scheme not in ("http", "https") or b.username is not None or b.password is not None:
        return False
    if host_port(origin) == host_port(target):
        return True
    return ((a.hostname or "").lower() == (b.hostname or "").lower() and a.scheme == "http"
            and b.scheme == "https" and a.port in (None, 80) and b.port in (None, 443))


def internal_host(host: str) -> bool:
    """Is `host` (a name or an address, written any way resolvers accept: 2130706433,
    0x7f000001, 127.1, [::ffff:127.0.0.1]) loopback, private, link-local, the cloud
    metadata address or otherwise not public? Decided from the text alone."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal", ".lan", ".home.arpa")):
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        try:
            ip = ipaddress.ip_address(_numeric_host(host))
        except ValueError:
            return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_link_local or ip.is_loopback or ip.is_private


def _numeric_host(host: str) -> int:
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        raise ValueError(host)
    nums = [int(p, 0) for p in parts]
    value = 0
    for n in nums[:-1]:
        value = value * 256 + n
    return value * 256 ** (5 - len(parts)) + nums[-1] if len(parts) > 1 else nums[0]


def resolve_host(host: str) -> list[str]:
    """The addresses a name resolves to (none for an address or a name that does not
    resolve: the request then fails on its own)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return []
    except ValueError:
        pass
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, None)})
    except (OSError, UnicodeError):
        return []


def guarded_adapter(check_peer: Callable[[str, int, str], None]) -> requests.adapters.HTTPAdapter:
    """A transport adapter whose connections call `check_peer(host, port, address)` with
    the address they reached, after connecting and before sending anything: the address
    checked is the one used, whatever a name resolves to between the check and the connect."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def new_conn(connection_class):
        def _new_conn(self):
            sock = connection_class._new_conn(self)
            try:
                check_peer(self.host, self.port, sock.getpeername()[0])
            except BaseException:
                sock.close()
                raise
            return sock
        return _new_conn

    class Checked(HTTPConnection):
        _new_conn = new_conn(HTTPConnection)

    class CheckedTLS(HTTPSConnection):
        _new_conn = new_conn(HTTPSConnection)

    class Pool(HTTPConnectionPool):
        ConnectionCls = Checked

    class PoolTLS(HTTPSConnectionPool):
        ConnectionCls = CheckedTLS

    class Adapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": PoolTLS}

    return Adapter()
