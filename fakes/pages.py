"""A local public website for the `web` platform (pages and feeds without an API):
`PageServer({"/tags/x": (200, "text/html", "<html>...</html>"), "/robots.txt": ...})`
serves each path (with its query, e.g. "/tags/x?page=2") as given, 404 otherwise.
Faults (429, 5xx) and the request log come from fakes.api."""
from __future__ import annotations

from urllib.parse import urlencode

from fakes.api import FakeAPIServer, Faults, Reply, Request


class PageServer(FakeAPIServer):
    def __init__(self, pages: dict[str, tuple[int, str, str]] | None = None, *,
                 faults: Faults | None = None, **kwargs):
        super().__init__(faults, **kwargs)
        self.pages = dict(pages or {})   # path[?query] -> (status, content type, body)

    def error_reply(self, status: int, message: str) -> Reply:
        return Reply(status, message, {"Content-Type": "text/plain; charset=utf-8"})

    def route(self, request: Request) -> Reply:
        key = request.path + (f"?{urlencode(request.query)}" if request.query else "")
        status, kind, body = self.pages.get(key, (404, "text/plain; charset=utf-8", "not found"))
        return Reply(status, body, {"Content-Type": kind})
