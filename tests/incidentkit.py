"""Posts of several platforms, put in the way collection does it: the platform's API object
(as the local fakes serve it) -> the collector's own conversion -> staging -> the loader; then
scores and `open_flagged`, as after a scoring run."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone

from collectors import bluesky, mastodon, tiktok
from collectors.staging import StagingWriter
from fakes.bluesky import make_post
from fakes.mastodon import make_status
from fakes.tiktok import make_video
from review import cases as cs
from warehouse import queries
from warehouse.db import session
from warehouse.loader import load_manifests

SOURCES = {"mastodon": "https://replay.example", "bluesky": "https://bsky.example",
           "tiktok": "https://open.tiktokapis.example"}


def mastodon_post(n: int, text: str, **fields) -> dict:
    status = make_status(n, content=f"<p>{text}</p>", username=f"invented{n}", **fields)
    return mastodon.status_to_post(status, SOURCES["mastodon"], b"k", _now())


def bluesky_post(n: int, text: str) -> dict:
    return bluesky.post_to_staging(make_post(n, text=text, handle=f"invented{n}.example.social"),
                                   SOURCES["bluesky"], b"k", _now())


def tiktok_post(n: int, text: str, voice: str = "") -> dict:
    return tiktok.video_to_post(make_video(n, description=text, voice=voice, username=f"invented_{n}"),
                                SOURCES["tiktok"], b"k", _now())


def load_posts(settings, posts: list[dict], scores: list[float] | None = None, run_id: str = "seed") -> None:
    """Load `posts` through staging and the loader, and score them (default 0.9: flagged)."""
    manifests = []
    for platform in dict.fromkeys(p["platform"] for p in posts):
        with StagingWriter(settings.staging_dir, f"{run_id}-{platform}", platform, SOURCES[platform],
                           "seed") as writer:
            writer.write_posts([p for p in posts if p["platform"] == platform])
            manifests.append(writer.close("ok"))
    scores = scores or [0.9] * len(posts)
    with session(settings.db_path) as con:
        load_manifests(con, manifests)
        queries.write_scores(con, [(p["platform"], p["post_id"], s, None, None, None)
                                   for p, s in zip(posts, scores)], "test-model", 0.5)


def open_cases(settings, posts: list[dict], scores: list[float] | None = None, run_id: str = "seed") -> list[int]:
    """Load and score `posts` and open their cases as a scoring run does; the case ids in
    the order of `posts`."""
    load_posts(settings, posts, scores, run_id)
    with session(settings.db_path) as con:
        cs.open_flagged(con)
        ids = {(r[0], r[1]): r[2] for r in con.execute("SELECT platform, post_id, case_id FROM cases").fetchall()}
    return [ids[(p["platform"], p["post_id"])] for p in posts]


def cli(settings, *args, check: bool = True) -> subprocess.CompletedProcess:
    """`tagwatch ARGS` as a user runs it (a real process on the test's warehouse)."""
    proc = subprocess.run([sys.executable, "-m", "tagwatch.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **settings.to_env()}, timeout=300)
    assert proc.returncode == 0 or not check, proc.stderr
    return proc


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
