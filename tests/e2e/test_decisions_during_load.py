"""Reviewers never wait for a load: a decision sent through the web app while the loader
(a separate process) holds the warehouse is accepted at once, kept in the journal before the
load finishes, and in the warehouse after it; one the case no longer allows is recorded as
refused, not lost."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import duckdb
import requests

from casekit import seed, served_app
from review import journal, users
from fakes.mastodon import MastodonReplayServer, make_status

# pipeline.load, held open inside its transaction until the test says "go" on stdin.
LOADER = r"""
import sys
from datetime import datetime, timezone
from collectors.staging import StagingWriter
from tagwatch import pipeline
from tagwatch.config import Settings

settings = Settings.from_env()
now = datetime.now(timezone.utc).isoformat()
with StagingWriter(settings.staging_dir, "daily", "mastodon", "https://bulk.example", "tag") as w:
    w.write_posts({"platform": "mastodon", "post_id": f"https://bulk.example/{i}", "text": f"post {i}",
                   "hashtags": ["tag"], "source": "https://bulk.example", "source_post_id": str(i),
                   "collected_at": now} for i in range(20000))
    w.close("ok")

def hold():
    print("holding", flush=True)
    sys.stdin.readline()

report = pipeline.load("daily", settings, before_commit=hold)
print("loaded", report["new_posts"], flush=True)
"""


def _csrf(session: requests.Session, url: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', session.get(url).text).group(1)


def test_a_decision_during_a_load_is_kept_then_applied(settings):
    with MastodonReplayServer(max_lifetime=60) as server:
        first, second = seed(settings, server, [make_status(i) for i in (1, 2)], [0.9, 0.9])
    from warehouse.db import session

    with session(settings.db_path) as con:
        users.add_user(con, "ana", "analyst", "a long passphrase")
    with served_app(settings) as url:
        web = requests.Session()
        token = _csrf(web, f"{url}/login")
        web.post(f"{url}/login", data={"csrf": token, "name": "ana", "password": "a long passphrase"})
        token = _csrf(web, f"{url}/")
        loader = subprocess.Popen([sys.executable, "-c", LOADER], env={**os.environ, **settings.to_env()},
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        try:
            assert loader.stdout.readline().strip() == "holding"
            confirm = web.post(f"{url}/cases/{first}/review", data={"csrf": token, "decision": "confirm"},
                               allow_redirects=False)
            # A new case cannot be escalated: accepted now, refused when applied.
            escalate = web.post(f"{url}/cases/{second}/move", data={"csrf": token, "to": "ESCALATED"},
                                allow_redirects=False)
            kept = journal.pending(settings.db_path)
            assert loader.poll() is None  # the load still holds the warehouse
        finally:
            out, err = loader.communicate("go\n", timeout=120)
        assert loader.returncode == 0, err
        assert (confirm.status_code, confirm.headers["location"]) == (303, f"/cases/{first}")
        assert escalate.status_code == 303
        assert "applied as soon as the load ends" in web.get(f"{url}/cases/{first}").text
    assert [(e["action"], e["case_id"], e["fields"], e["actor"]) for e in kept] == [
        ("review", first, {"decision": "confirm"}, "ana"), ("move", second, {"to": "ESCALATED"}, "ana")]
    assert out.split() == ["loaded", "20000"]
    assert journal.pending(settings.db_path) == []
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        states = dict(con.execute("SELECT case_id, state FROM case_state").fetchall())
        applied = con.execute("SELECT case_id, outcome, detail FROM journal_applied ORDER BY decided_at").fetchall()
        event = con.execute("SELECT actor, occurred_at FROM case_events WHERE case_id = ? "
                            "AND to_state = 'CONFIRMED'", [first]).fetchone()
    assert states == {first: "CONFIRMED", second: "DETECTED"}
    assert [a[:2] for a in applied] == [(first, "applied"), (second, "refused")] and applied[1][2]
    assert event[0] == "ana" and event[1] == kept[0]["decided_at"]  # the time it was sent
