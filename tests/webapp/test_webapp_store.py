"""The app's kept warehouse connection: reused between requests, given up at once when another
process asks for the file, and the queue computed once per committed change, by any process."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient

from casekit import seed
from fakes.mastodon import MastodonReplayServer, make_status
from review import users
from warehouse.db import connect, data_version, session, want_path, wanted
from webapp.app import create_app
from webkit import PASSWORD, login

# Another process takes the file as every tagwatch process does, and moves a case out of the queue.
MOVE = ("import sys, time; from warehouse.db import connect; from review import cases; started = time.monotonic(); "
        "con = connect(sys.argv[1], lock_wait=20); waited = time.monotonic() - started; "
        "cases.review(con, int(sys.argv[2]), 'dismiss', 'ops'); con.close(); print(round(waited, 2))")


@pytest.fixture
def app_db(settings):
    with MastodonReplayServer(max_lifetime=60) as server:
        ids = seed(settings, server, [make_status(1), make_status(2)], [0.9, 0.8])
    with session(settings.db_path) as con:
        users.add_user(con, "ana", "analyst", PASSWORD)
    return settings.db_path, ids


def queued(client) -> str:
    page = client.get("/")
    assert page.status_code == 200
    return page.text


def test_the_kept_connection_is_given_up_when_another_process_asks(app_db):
    db, (first, second) = app_db
    app = create_app(db)
    store = app.state.web.store
    store.keep_open = 600            # only the other process's asking can free the file now
    client = TestClient(app)
    login(client, "ana")
    assert f"/cases/{first}" in queued(client)
    kept = store._con
    assert kept is not None and f"/cases/{first}" in queued(client) and store._con is kept   # reused
    moved = subprocess.run([sys.executable, "-c", MOVE, str(db), str(first)], capture_output=True,
                           text=True, timeout=60)
    assert moved.returncode == 0, moved.stderr
    assert float(moved.stdout) < 5            # not the 600 s the app would keep it
    assert store._con is None                 # given up, not merely waited out
    page = queued(client)                     # the cached queue saw the other process's commit
    assert f"/cases/{first}" not in page and f"/cases/{second}" in page
    store.close()


def test_without_a_request_in_flight_the_app_gives_the_file_up_after_its_idle_time(app_db):
    db, _ = app_db
    app = create_app(db)
    app.state.web.store.keep_open = 0.3
    client = TestClient(app)
    login(client, "ana")
    queued(client)
    time.sleep(1.0)
    assert app.state.web.store._con is None
    # a process that does not ask (any DuckDB client) can open it now
    out = subprocess.run([sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1]).close()",
                          str(db)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_a_decision_in_this_process_changes_the_cached_queue(app_db):
    db, (first, second) = app_db
    client = TestClient(create_app(db))
    token = login(client, "ana")
    assert f"/cases/{first}" in queued(client)
    r = client.post(f"/cases/{first}/review", data={"csrf": token, "decision": "dismiss"})
    assert r.status_code == 200
    page = queued(client)
    assert f"/cases/{first}" not in page and f"/cases/{second}" in page


def test_data_version_changes_with_every_commit_and_only_then(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    before = data_version(con)
    con.execute("SELECT count(*) FROM posts").fetchall()
    assert data_version(con) == before
    con.execute("INSERT INTO watchlist (tag, status) VALUES ('invented', 'watch')")
    after = data_version(con)
    assert after != before
    con.execute("CHECKPOINT")
    assert data_version(con) != after
    con.close()
    import duckdb
    assert data_version(duckdb.connect()) is None        # in memory: nothing to watch


def test_the_want_signal_is_fresh_for_a_few_seconds_and_not_for_its_own_process(tmp_path):
    db = tmp_path / "w.duckdb"
    assert not wanted(db)
    want_path(db).write_text("1", encoding="ascii")       # another pid
    assert wanted(db)
    want_path(db).write_text(str(__import__("os").getpid()), encoding="ascii")
    assert not wanted(db)
    want_path(db).write_text("1", encoding="ascii")
    assert not wanted(db, fresh=-1)                        # an old signal is ignored
