"""What the local fakes of platform APIs share: a server on 127.0.0.1 in a daemon
thread that stops itself after `max_lifetime` seconds (so a failed test cannot
leave one running), a log of every request, simulated latency, and `Faults`
applied by request number.

A fake subclasses `FakeAPIServer` and implements `route(request) -> Reply`; the
Mastodon replay (fakes.mastodon), the Bluesky and the TikTok fakes all do.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["FakeAPIServer", "Faults", "Reply", "Request"]


@dataclass
class Faults:
    """Misbehaviour to inject. Requests are numbered from 1 in the order the server receives them."""

    rate_limit_requests: set[int] = field(default_factory=set)   # answered 429 + Retry-After
    error_requests: dict[int, int] = field(default_factory=dict)  # request number -> HTTP status
    truncate_requests: set[int] = field(default_factory=set)     # 200 with half the JSON body
    cut_requests: set[int] = field(default_factory=set)  # 200 that promises the whole body, sends half
    retry_after: str = "1"        # Retry-After sent with 429 and 503 (seconds or an HTTP-date)
    overlap: int = 0              # repeat this many items of the previous page on the next one
    page_size_cap: int | None = None  # serve fewer items per page than the limit asks
    no_link_header: bool = False  # omit Link headers (some servers and proxies drop them)
    min_id_as_since_id: bool = False  # read min_id like since_id: the NEWEST page above it


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace")))


@dataclass
class Reply:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)


class FakeAPIServer:
    """Base of the platform fakes; use as a context manager."""

    # HTTP/1.1 keeps connections open between requests; a subclass may answer HTTP/1.0
    # (one request per connection) instead.
    protocol_version = "HTTP/1.1"

    def __init__(self, faults: Faults | None = None, host: str = "127.0.0.1", port: int = 0,
                 latency: float = 0.0, max_lifetime: float | None = 120):
        self.host, self.port = host, port
        self.faults = faults or Faults()
        self.latency = latency
        self.max_lifetime = max_lifetime
        self.lock = threading.RLock()
        self._log: list[Request] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None
        self._url: str | None = None

    # -- lifecycle -------------------------------------------------------------

    def start(self):
        httpd = ThreadingHTTPServer((self.host, self.port), _Handler)
        httpd.daemon_threads = True
        httpd.fake = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._url = f"http://{self.host}:{httpd.server_address[1]}"
        # A short poll interval makes stop() quick; tests start and stop many servers.
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake {self._url}", daemon=True)
        self._thread.start()
        if self.max_lifetime:
            self._timer = threading.Timer(self.max_lifetime, self.stop)
            self._timer.daemon = True
            self._timer.start()
        return self

    def stop(self) -> None:
        """Stop serving; safe to call twice and from the lifetime timer."""
        with self.lock:
            httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        httpd.shutdown()
        httpd.server_close()

    def wait(self) -> None:
        """Block until the server stops (e.g. serving in the foreground until Ctrl-C)."""
        if self._thread is not None:
            self._thread.join()

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:54321 (no trailing slash)."""
        if self._url is None:
            raise RuntimeError("server not started")
        return self._url

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- requests --------------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        """Every request received, in order, faulty answers included (the live log)."""
        return self._log

    def requests_to(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self._log if r.path == path]

    def handle(self, request: Request) -> tuple[int, bytes, dict[str, str]]:
        """Answer one request: (status, body, headers including Content-Length), faults applied."""
        with self.lock:
            self._log.append(request)
            number = len(self._log)
        self.received(request)
        if self.latency:
            time.sleep(self.latency)
        reply = self.answer(request, number)
        if isinstance(reply.payload, str):  # a page or feed (fakes.pages), not JSON
            body, kind = reply.payload.encode("utf-8"), "text/html; charset=utf-8"
        else:
            body, kind = json.dumps(reply.payload, ensure_ascii=False).encode("utf-8"), \
                "application/json; charset=utf-8"
        headers = {"Content-Type": kind, "Content-Length": str(len(body)), **reply.headers}
        if reply.status == 200 and number in self.faults.truncate_requests:
            body = body[: len(body) // 2]
            headers["Content-Length"] = str(len(body))
        elif reply.status == 200 and number in self.faults.cut_requests:
            body = body[: len(body) // 2]  # Content-Length still promises all of it
        return reply.status, body, headers

    def answer(self, request: Request, number: int) -> Reply:
        """The reply to request number `number`: the fault injected there, else `route`'s."""
        return self._fault(number) or self.route(request)

    def _fault(self, number: int) -> Reply | None:
        faults = self.faults
        status = 429 if number in faults.rate_limit_requests else faults.error_requests.get(number)
        if status is None:
            return None
        reply = self.error_reply(status, HTTPStatus(status).phrase)
        if status in (429, 503):
            reply.headers["Retry-After"] = faults.retry_after
        return reply

    def received(self, request: Request) -> None:
        """Called for every request, faulty answers included (to count quota use)."""

    def error_reply(self, status: int, message: str) -> Reply:
        """An error in the platform's own shape (subclasses override)."""
        return Reply(status, {"error": message})

    def route(self, request: Request) -> Reply:  # pragma: no cover - subclasses implement it
        raise NotImplementedError


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer
    disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms delayed-ACK stall)

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, parts.path, dict(parse_qsl(parts.query)),
                          {k.lower(): v for k, v in self.headers.items()}, body)
        status, payload, headers = self.server.fake.handle(request)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        if status == 200 and len(payload) < int(headers.get("Content-Length", len(payload))):
            self.close_connection = True  # a cut body: the client sees the connection end early

    do_GET = do_POST = _serve  # noqa: N815 (http.server's naming)

    def setup(self) -> None:
        self.protocol_version = self.server.fake.protocol_version  # type: ignore[attr-defined]
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests assert on `FakeAPIServer.requests` instead."""
