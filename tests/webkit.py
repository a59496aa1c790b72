"""Logging in to the review app over HTTP (TestClient, or a real uvicorn with `served`):
shared by the webapp and case tests."""
from __future__ import annotations

import re
from contextlib import contextmanager

PASSWORD = "a long passphrase"


def csrf(page) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def login(client, name):
    client.post("/login", data={"csrf": csrf(client.get("/login")), "name": name, "password": PASSWORD})
    return csrf(client.get("/"))


def state(client, case_id) -> str:
    return re.search(r'id="state">([A-Z_]+)', client.get(f"/cases/{case_id}").text).group(1)


@contextmanager
def served(app):
    """The ASGI app under a real uvicorn on 127.0.0.1 (a thread of this process, so a test
    can reach app.state); yields its base URL and stops the server on exit."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def http_login(http, url: str, name: str, password: str = PASSWORD):
    """Log in a requests.Session against a served app; returns the answer to the POST."""
    token = csrf(http.get(f"{url}/login", timeout=30))
    return http.post(f"{url}/login", data={"csrf": token, "name": name, "password": password},
                     allow_redirects=False, timeout=60)
