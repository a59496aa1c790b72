"""A platform that is down, unknown or silent: no pointless retries, a bounded wait, a plain message."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import pytest

from collectors.http import PoliteClient, SourceError


def closed_port() -> int:
    with socket.socket() as sock:  # nobody listens there once it is closed again
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refused_connection_is_not_retried_and_says_so_plainly():
    sleeps = []
    port = closed_port()
    client = PoliteClient("tagwatch-test", sleep=sleeps.append, configured=(f"127.0.0.1:{port}",))
    with pytest.raises(SourceError) as failed:
        client.get_json(f"http://127.0.0.1:{port}/api/v1/statuses/1")
    assert str(failed.value) == f"could not reach 127.0.0.1:{port}: connection refused"
    assert client.retries == 0 and sleeps == []


def test_a_host_that_does_not_exist_is_not_retried():
    sleeps = []
    client = PoliteClient("tagwatch-test", sleep=sleeps.append)
    with pytest.raises(SourceError) as failed:  # .invalid never resolves (RFC 6761)
        client.get_json("https://mastodon.invalid/api/v1/statuses/1")
    assert str(failed.value) == "could not reach mastodon.invalid: no such host (DNS lookup failed)"
    assert client.retries == 0 and sleeps == []


@pytest.fixture
def silent_server():
    """Accepts connections and never answers (a hung platform)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held, stop = [], threading.Event()

    def accept():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def test_a_silent_platform_is_given_up_at_the_deadline_not_after_every_retry(silent_server):
    client = PoliteClient("tagwatch-test", read_timeout=30.0, max_retries=5, deadline=1.0,
                          sleep=lambda s: None, configured=(silent_server,))
    with pytest.raises(SourceError) as failed:
        client.get_json(f"{silent_server}/api/v1/statuses/1")
    message = str(failed.value)
    assert "gave up after 1 attempt(s) in 1 s" in message
    assert "no answer in time from 127.0.0.1" in message
    assert "urllib3" not in message and "HTTPConnectionPool" not in message


def test_case_open_of_an_unreachable_post_is_one_plain_line(settings):
    port = closed_port()
    env = {**os.environ, **settings.to_env(), "TAGWATCH_INTAKE_HOSTS": f"127.0.0.1:{port}"}
    proc = subprocess.run(
        [sys.executable, "-m", "tagwatch.cli", "case", "open", "--url",
         f"http://127.0.0.1:{port}/@someone/1234"], capture_output=True, text=True, env=env,
        timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "urllib3" not in proc.stderr
    assert f"could not reach 127.0.0.1:{port}: connection refused" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
