"""The `tagwatch` command end to end, as a user runs it (a real process, a real server)."""
from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from fakes.mastodon import MastodonReplayServer, load_sample, make_status

TAGWATCH = [sys.executable, "-m", "tagwatch.cli"]


def run(settings, *args, input=None, check=True):
    env = {**os.environ, **settings.to_env()}
    proc = subprocess.run([*TAGWATCH, *args], capture_output=True, text=True, env=env,
                          input=input, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}")
    return proc


def query(settings, sql):
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def _expected_ids(server_statuses, tag):
    return {s["uri"] for s in server_statuses if any(t["name"].lower() == tag for t in s["tags"])}


@pytest.mark.slow
def test_collect_gets_every_post_then_nothing_then_exactly_the_new_ones(settings):
    sample = load_sample()
    with MastodonReplayServer(sample, max_lifetime=120) as server:
        run(settings, "collect", "--platform", "mastodon", "--base-url", server.url,
            "--tag", "exposeyourteacher", "--tag", "#RateMyTeacher")
        want = _expected_ids(sample, "exposeyourteacher") | _expected_ids(sample, "ratemyteacher")
        got = {r[0] for r in query(settings, "SELECT post_id FROM posts")}
        assert got == want and len(want) > 40  # several pages of 40
        scored = query(settings, "SELECT count(*), count(score) FROM scores")
        assert scored == [(len(want), len(want))]

        run(settings, "collect", "--platform", "mastodon", "--base-url", server.url,
            "--tag", "exposeyourteacher", "--tag", "ratemyteacher")
        assert query(settings, "SELECT count(*) FROM posts") == [(len(want),)]

        newest = max(int(s["id"]) for s in sample)
        fresh = [make_status(newest + i, ("exposeyourteacher",), content=f"<p>new post {i}</p>")
                 for i in (1, 2, 3)]
        for status in fresh:
            server.add_status(status)
        run(settings, "collect", "--platform", "mastodon", "--base-url", server.url,
            "--tag", "exposeyourteacher", "--tag", "ratemyteacher")
    got_after = {r[0] for r in query(settings, "SELECT post_id FROM posts")}
    assert got_after - got == {s["uri"] for s in fresh}
    runs = query(settings, "SELECT tag, new, status FROM collection_runs ORDER BY loaded_at, tag")
    assert [r[1] for r in runs[2:4]] == [0, 0]
    assert sum(r[1] for r in runs[4:]) == 3
    assert all(r[2] == "ok" for r in runs)


@pytest.mark.slow
def test_collect_from_an_unreachable_source_fails_clearly_and_keeps_no_posts(settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    proc = run(settings, "collect", "--platform", "mastodon", "--base-url",
               f"http://127.0.0.1:{port}", "--tag", "teachersoftiktok", check=False)
    assert proc.returncode == 1
    assert "collection failed" in proc.stderr and f"127.0.0.1:{port}" in proc.stderr
    assert query(settings, "SELECT count(*) FROM posts") == [(0,)]
    assert query(settings, "SELECT status FROM collection_runs") == [("failed",)]
    assert query(settings, "SELECT count(*) FROM watermarks") == [(0,)]


@pytest.mark.parametrize("args, message", [
    (["collect", "--platform", "myspace", "--base-url", "http://127.0.0.1:1", "--tag", "x"], "unknown platform"),
    (["collect", "--platform", "mastodon", "--base-url", "http://127.0.0.1:1", "--tag", "two words"], "not a hashtag"),
    (["watchlist", "add", "x", "--status", "maybe"], "invalid choice"),
    (["flagged", "--since", "lately"], "cannot read the period"),
    (["score", "--input", "/no/such/file.csv", "--output", "out.csv"], "file.csv"),
    (["sources", "add", "--base-url", "ftp://nope"], "not an http(s) base URL"),
])
@pytest.mark.slow
def test_bad_arguments_get_a_clear_error_and_change_nothing(settings, args, message):
    run(settings, "watchlist", "add", "teachersoftiktok")
    before = query(settings, "SELECT * FROM watchlist")
    proc = run(settings, *args, check=False)
    assert proc.returncode in (1, 2)
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert query(settings, "SELECT * FROM watchlist") == before


@pytest.mark.slow
def test_flagged_lists_abusive_posts_and_shows_hostile_text_inertly(settings):
    hostile = "Mr Invented is a creep \x1b[2J\x1b[31m<script>alert(1)</script> everyone report him"
    with MastodonReplayServer([make_status(1, ("exposeyourteacher",), content=f"<p>{hostile}</p>")],
                              max_lifetime=60) as server:
        run(settings, "collect", "--platform", "mastodon", "--base-url", server.url,
            "--tag", "exposeyourteacher")
    table = run(settings, "flagged", "--since", "all").stdout
    csv_out = run(settings, "flagged", "--since", "all", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(csv_out)))
    flagged = query(settings, "SELECT count(*) FROM scores WHERE label")[0][0]
    assert len(rows) == flagged  # the list is exactly what the model flagged
    assert "\x1b" not in table  # no raw escape sequences reach the terminal
    if flagged:  # the CSV carries the text verbatim, properly quoted; the table shows escapes
        assert rows[0]["text"].startswith("Mr Invented is a creep")
        assert "\\x1b" in table


@pytest.mark.slow
def test_hostile_text_is_escaped_in_every_table(settings):
    note = "see \x1b[2J\x1b[31mred \u202etxet\nforged line"
    run(settings, "watchlist", "add", "teachersoftiktok", "--note", note)
    table = run(settings, "watchlist", "list").stdout
    assert "\x1b" not in table and "\u202e" not in table
    assert "\\x1b[2J" in table and "\\u202e" in table
    assert len(table.splitlines()) == 2  # header and one row: the newline forged no extra row


@pytest.mark.slow
def test_score_csv_passes_columns_through(settings, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,text,extra\n1,thank you miss for all the help,a\n"
                   "2,\"sir is a paedo, everyone report him\",b\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    said = run(settings, "score", "--input", str(src), "--output", str(out)).stdout
    assert "created the folder" not in said
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["id"] for r in rows] == ["1", "2"] and [r["extra"] for r in rows] == ["a", "b"]
    assert all(0 <= float(r["score"]) <= 1 and r["label"] in ("0", "1") for r in rows)
    nested = tmp_path / "new" / "folder" / "out.csv"
    said = run(settings, "score", "--input", str(src), "--output", str(nested)).stdout
    assert f"(created the folder {nested.parent}, which did not exist)" in said and nested.exists()


@pytest.mark.slow
def test_watchlist_and_sources_round_trip(settings):
    run(settings, "watchlist", "add", "#SlapATeacher", "--status", "banned", "--note", "2021 wave")
    run(settings, "sources", "add", "--platform", "mastodon", "--base-url", "https://school.example/")
    listing = run(settings, "watchlist", "list", "--format", "csv").stdout
    assert "slapateacher,banned,2021 wave" in listing
    assert "https://school.example," in run(settings, "sources", "list", "--format", "csv").stdout


@pytest.mark.slow
def test_run_covers_the_watchlist_across_sources(settings):
    sample = load_sample()
    with MastodonReplayServer(sample, max_lifetime=120) as a, \
            MastodonReplayServer(sample[:60], max_lifetime=120) as b:
        run(settings, "watchlist", "add", "teachersoftiktok", "slapateacher")
        run(settings, "sources", "add", "--base-url", a.url)
        run(settings, "sources", "add", "--base-url", b.url)
        proc = run(settings, "run")
    want = _expected_ids(sample, "teachersoftiktok") | _expected_ids(sample, "slapateacher")
    assert {r[0] for r in query(settings, "SELECT post_id FROM posts")} == want
    # two instances x two tags, and posts seen on both instances are stored once
    assert query(settings, "SELECT count(*) FROM collection_runs") == [(4,)]
    assert "flagged list:" in proc.stdout
    flagged_csv = Path(settings.data_dir) / "flagged"
    assert list(flagged_csv.glob("flagged-*.csv"))


@pytest.mark.slow
def test_train_on_a_labelled_file_and_refuse_a_broken_one(settings, tmp_path, monkeypatch):
    good = tmp_path / "labels.csv"
    good.write_text("text,label\n" + "".join(
        f"\"teacher {i} is a liar and a creep\",1\n\"thanks teacher {i} for the lesson\",0\n"
        for i in range(30)), encoding="utf-8")
    models = tmp_path / "models"
    env_settings = type(settings).from_env(models_dir=models)
    proc = run(env_settings, "train", "--no-default-data", "--input", str(good))
    assert "trained model" in proc.stdout
    assert (models / "CURRENT").exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("words,score\nhello,3\n", encoding="utf-8")
    proc = run(env_settings, "train", "--no-default-data", "--input", str(bad), check=False)
    assert proc.returncode == 1 and "bad.csv" in proc.stderr and "Traceback" not in proc.stderr
