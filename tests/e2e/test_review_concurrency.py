"""The loader (a separate process) writes the warehouse while a reviewer records decisions
through `tagwatch serve`: every decision lands and the reviewer never sees an error."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import duckdb
import requests

from casekit import seed, served_app
from review import users
from fakes.mastodon import MastodonReplayServer, make_status
from warehouse.db import session

# A real load: staging files of many posts, each merged by the loader in its own session.
LOADER = r"""
import sys, time
from datetime import datetime, timezone
from collectors.staging import StagingWriter
from warehouse.db import session
from warehouse.loader import load_manifests
staging, db, files, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
now = datetime.now(timezone.utc).isoformat()
paths = []
for f in range(files):
    with StagingWriter(staging, "bulk", "mastodon", "https://bulk.example", f"tag{f}") as w:
        w.write_posts({"platform": "mastodon", "post_id": f"https://bulk.example/{f}/{i}",
                       "text": f"bulk post {i}", "hashtags": [f"tag{f}"], "source": "https://bulk.example",
                       "source_post_id": str(i), "collected_at": now} for i in range(rows))
        paths.append(w.close("ok"))
print("loading", flush=True)
held = 0.0
for path in paths:
    t = time.monotonic()
    with session(db) as con:
        load_manifests(con, [path])
    held += time.monotonic() - t
print(f"loaded {files * rows} held {held:.2f}", flush=True)
"""


def test_no_decision_is_lost_while_a_load_runs(settings, tmp_path):
    with MastodonReplayServer(max_lifetime=60) as server:
        ids = seed(settings, server, [make_status(i) for i in range(1, 31)], [0.9] * 30)
    with session(settings.db_path) as con:
        users.add_user(con, "ana", "analyst", "a long passphrase")
    with served_app(settings) as url:
        web = requests.Session()
        token = re.search(r'name="csrf" value="([^"]+)"', web.get(f"{url}/login").text).group(1)
        web.post(f"{url}/login", data={"csrf": token, "name": "ana", "password": "a long passphrase"})
        token = re.search(r'name="csrf" value="([^"]+)"', web.get(f"{url}/").text).group(1)
        loader = subprocess.Popen(
            [sys.executable, "-c", LOADER, str(tmp_path / "bulk"), str(settings.db_path), "8", "25000"],
            env={**os.environ, **settings.to_env()}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert loader.stdout.readline().strip() == "loading"
        timings, answers, during = [], [], 0
        for case in ids:
            t = time.monotonic()
            r = web.post(f"{url}/cases/{case}/review", data={"csrf": token, "decision": "confirm"},
                         allow_redirects=False)
            timings.append(time.monotonic() - t)
            answers.append((r.status_code, r.headers.get("location")))
            during += loader.poll() is None  # measured, not asserted: see the README
            time.sleep(0.05)
        out, err = loader.communicate(timeout=300)
        assert loader.returncode == 0, err
        web.get(f"{url}/")  # the next connection applies decisions journalled during the last file
    # Decisions sent while the loader held the file waited up to a second, then were journalled.
    assert answers == [(303, f"/cases/{c}") for c in ids]  # every one accepted, none "busy"
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        states = con.execute("SELECT state, count(*) FROM case_state GROUP BY state").fetchall()
        bulk = con.execute("SELECT count(*) FROM posts WHERE post_id LIKE 'https://bulk.example/%'").fetchone()
    assert states == [("CONFIRMED", 30)] and bulk == (8 * 25000,)
    print(f"\n30 decisions during a 200,000-post load ({out.split('held')[1].strip()} s holding the file): "
          f"{during} answered while it ran; slowest {max(timings):.2f} s, median {sorted(timings)[15]:.2f} s")
