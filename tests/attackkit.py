"""Local servers for the attack tests: an internal service that counts every hit, and a
site whose answers the test chooses (redirects, huge or chunked bodies). All bind
127.0.0.1 and stop when the test ends."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterable

SECRET = "internal-secret-7f3a"

# path -> (status, headers, body): body is bytes, or an iterable of chunks sent chunked
Answer = tuple[int, dict[str, str], "bytes | Iterable[bytes]"]


class Site:
    """A server answering every GET with `route(path)`; `hits` lists the paths asked for."""

    def __init__(self, route: Callable[[str], Answer], lifetime: float = 60):
        self.route = route
        self.hits: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (http.server's naming)
                site.hits.append(self.path)
                status, headers, body = site.route(self.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if isinstance(body, bytes):
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for chunk in body:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: what the bound is for
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        self._timer = threading.Timer(lifetime, self.close)
        self._timer.daemon = True
        self._timer.start()

    def close(self) -> None:
        self._timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "Site":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def internal_service() -> Site:
    """What an attacker wants tagwatch to fetch for them: a service that only listens on
    loopback (a metadata endpoint, an admin API) and hands out a secret to anyone asking."""
    body = ('{"error": "%s", "AccessKeyId": "%s"}' % (SECRET, SECRET)).encode()
    return Site(lambda path: (200, {"Content-Type": "application/json"}, body))


def redirect(location: str, status: int = 302) -> Answer:
    return status, {"Location": location, "Content-Type": "text/plain"}, b"moved"
