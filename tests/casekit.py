"""Helpers for the review tests: posts go in the way production puts them there
(replay server -> Mastodon collector code -> staging -> loader), with chosen scores."""
from __future__ import annotations

import html
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone

import requests

from collectors import mastodon
from collectors.http import PoliteClient
from collectors.staging import StagingWriter
from review import cases as cs
from warehouse import queries
from warehouse.db import session
from warehouse.loader import load_manifests

# Post text (after HTML is removed) that would run script if a page failed to escape it.
HOSTILE = '"><img src=x onerror=alert(1)> <script>alert("x")</script> Mr Invented of Fernbrook Academy is a creep'


def hostile_content() -> str:
    """Status HTML whose text is HOSTILE (Mastodon escapes what authors type)."""
    return f"<p>{html.escape(HOSTILE)}</p>"


def load(settings, server, statuses: list[dict], run_id: str = "seed") -> list[dict]:
    """Publish `statuses` on `server` and load them as the collector would; returns the posts."""
    for status in statuses:
        server.add_status(status)
    with PoliteClient("tagwatch-tests", backoff_base=0.01, max_retries=1, configured=(server.url,)) as client:
        fetched = [mastodon.fetch_status(client, server.url, s["id"]) for s in statuses]
    now = datetime.now(timezone.utc).isoformat()
    posts = [mastodon.status_to_post(s, server.url, b"k", now) for s in fetched]
    with StagingWriter(settings.staging_dir, run_id, "mastodon", server.url, "seed") as writer:
        writer.write_posts(posts)
        manifest = writer.close("ok")
    with session(settings.db_path) as con:
        load_manifests(con, [manifest])
    return posts


def seed(settings, server, statuses: list[dict], scores: list[float], run_id: str = "seed",
         details: list[tuple[dict | None, float | None]] | None = None) -> list[int]:
    """Publish `statuses` on `server`, load them, score them, open cases; returns the case ids
    in the order of `statuses`. `details`: (categories, staff_target) per status."""
    posts = load(settings, server, statuses, run_id)
    details = details or [(None, None)] * len(posts)
    with session(settings.db_path) as con:
        queries.write_scores(con, [("mastodon", p["post_id"], s, cats, None, staff)
                                   for p, s, (cats, staff) in zip(posts, scores, details)],
                             "test-model", 0.5)
        cs.open_flagged(con)
        ids = dict(con.execute("SELECT post_id, case_id FROM cases").fetchall())
    return [ids[p["post_id"]] for p in posts]


@contextmanager
def served_app(settings):
    """`tagwatch serve` as a real process on a free port; yields its base URL."""
    with serve_process(settings) as (url, _):
        yield url


@contextmanager
def serve_process(settings):
    """`tagwatch serve` as a real process on a free port; yields (base URL, the process)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, **settings.to_env()}
    proc = subprocess.Popen([sys.executable, "-m", "tagwatch.cli", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{url}/login", timeout=2)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"tagwatch serve did not start: {proc.stdout.read()}")
                time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=20)
