"""Hostile sizes and waits against the real server: a 150 MB chunked body is refused after
the first 64 KB, without the server reading or holding it; a platform that answers a
re-check with 429 and a long Retry-After does not hold the analyst's page (the re-check
carries on in the background and the page says so)."""
from __future__ import annotations

import re
import select
import socket
import time
from pathlib import Path

import pytest
import requests

from casekit import seed, serve_process
from review import cases as cs
from review import users
from fakes.api import Faults
from fakes.mastodon import MastodonReplayServer, make_status
from warehouse.db import session
from webapp.app import create_app
from webkit import PASSWORD, csrf, http_login, served

pytestmark = pytest.mark.slow
MB = 1024 * 1024


def memory(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in bytes."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {k: int(fields[k].split()[0]) * 1024 for k in ("VmRSS", "VmHWM")}


def send_chunked(url: str, path: str, cookie: str = "", total: int = 150 * MB, piece: int = 256 * 1024):
    """POST `total` bytes as a chunked body, stopping when the server answers or hangs up;
    returns (bytes sent, the raw answer). The server cannot have read more than was sent."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall((f"POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
                  f"Content-Type: application/x-www-form-urlencoded\r\nCookie: {cookie}\r\n\r\n").encode())
    chunk = f"{piece:x}\r\n".encode() + b"a" * piece + b"\r\n"
    sent = 0
    try:
        while sent < total and not select.select([sock], [], [], 0)[0]:
            sock.sendall(chunk)
            sent += piece
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    answer = b""
    try:
        while data := sock.recv(65536):
            answer += data
    except (ConnectionResetError, socket.timeout):
        pass
    sock.close()
    return sent, answer


def test_a_150_mb_chunked_body_is_refused_without_the_server_reading_it(settings):
    with session(settings.db_path) as con:
        users.add_user(con, "ana", "analyst", PASSWORD)
    with serve_process(settings) as (url, proc):
        http = requests.Session()
        assert http_login(http, url, "ana").status_code == 303
        cookie = f"tagwatch_session={http.cookies['tagwatch_session']}"
        Path(f"/proc/{proc.pid}/clear_refs").write_text("5")  # the peak (VmHWM) starts again from now
        before = memory(proc.pid)
        sent = {}
        for path, cookie_sent in (("/login", ""), ("/cases/1/review", cookie)):
            sent[path], answer = send_chunked(url, path, cookie_sent)
            assert answer.startswith(b"HTTP/1.1 413"), (path, answer[:200])
            assert sent[path] < 16 * MB, sent  # our 64 KB and what the kernel buffers, never 150 MB
        after = memory(proc.pid)
        print(f"\n150 MB chunked bodies: sent before the server hung up {[f'{n / MB:.1f} MB' for n in sent.values()]}; "
              f"server RSS {before['VmRSS'] / MB:.0f} MB before, peak {after['VmHWM'] / MB:.0f} MB during")
        assert after["VmHWM"] - before["VmRSS"] < 16 * MB
        assert http.get(f"{url}/", timeout=30, allow_redirects=False).status_code == 200  # still serving


def test_a_platform_asking_to_wait_does_not_hold_the_page_the_recheck_finishes_in_the_background(settings):
    with MastodonReplayServer(max_lifetime=120) as server:
        [case, _] = seed(settings, server, [make_status(1), make_status(2)], [0.9, 0.8])
        with session(settings.db_path) as con:
            users.add_user(con, "ana", "analyst", PASSWORD)
            cs.review(con, case, "confirm", "ana", category="allegation")
            cs.report(con, case, "form", "R-1", "ana")
            cs.answer(con, case, "removed", "We removed it.", "ana")
        # The re-check's first request is answered 429 "come back in 4 s": the collector obeys,
        # the page does not wait for it (web_wait=1 s).
        server.faults = Faults(rate_limit_requests={len(server.requests) + 1}, retry_after="4")
        with served(create_app(settings.db_path, settings=settings, web_wait=1.0)) as url:
            http = requests.Session()
            assert http_login(http, url, "ana").status_code == 303
            token = csrf(http.get(f"{url}/cases/{case}", timeout=30))
            page = http.post(f"{url}/cases/{case}/recheck", data={"csrf": token}, timeout=60)
            assert page.status_code == 200 and "carries on in the background" in page.text
            assert re.search(r'id="state">PLATFORM_ACTIONED', page.text)  # not re-checked yet
            deadline = time.monotonic() + 90  # a bound in case of a bug, not a timing assertion
            while "MISMATCH" not in http.get(f"{url}/cases/{case}", timeout=30).text:
                assert time.monotonic() < deadline, "the background re-check never finished"
                time.sleep(0.5)
        assert [path.split("/")[-1] for path, _ in server.requests[-2:]] == ["1", "1"]  # 429, then asked again
    with session(settings.db_path) as con:
        assert [x["outcome"] for x in cs.show(con, case)["rechecks"]] == ["online"]
