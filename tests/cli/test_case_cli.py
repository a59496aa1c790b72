"""`tagwatch case ...` and `tagwatch user add` as a user runs them (real processes, a fake Mastodon)."""
from __future__ import annotations

import json

import duckdb
import pytest

from casekit import HOSTILE, hostile_content
from fakes.mastodon import MastodonReplayServer, make_status
from test_cli import run


@pytest.mark.slow
def test_the_whole_path_from_member_report_to_mismatch_and_offline_verified(settings, tmp_path):
    with MastodonReplayServer([make_status(11, content=hostile_content(), username="troll"),
                               make_status(12, username="other")], max_lifetime=120) as server:
        base = server.url
        # a loopback host is fetched only when it is a configured source
        refused = run(settings, "case", "open", "--url", f"{base}/@troll/11", check=False)
        assert refused.returncode == 1 and "not a configured source: not contacted" in refused.stderr
        run(settings, "sources", "add", "--platform", "mastodon", "--base-url", base)
        first = run(settings, "case", "open", "--url", f"{base}/@troll/11", "--actor", "ana").stdout.strip()
        second = run(settings, "case", "open", "--url", f"{base}/@other/12").stdout.strip()
        assert (first, second) == ("1", "2")
        listing = json.loads(run(settings, "case", "list", "--format", "json").stdout)
        assert {r["case_id"] for r in listing} == {1, 2}
        assert {"case_id", "state", "platform", "post_id", "url", "score"} <= set(listing[0])
        for case in (first, second):
            run(settings, "case", "review", case, "--decision", "confirm", "--category", "allegation",
                "--target-role", "teacher", "--note", "checked", "--actor", "ana")
            run(settings, "case", "report", case, "--channel", "in-app", "--reference", f"REF-{case}")
        run(settings, "case", "answer", first, "--outcome", "removed", "--text", "We removed it.")
        server.delete_status(12)
        out = run(settings, "case", "recheck", "--now").stdout
        assert "case 1: online (HTTP 200) -> MISMATCH" in out
        assert "case 2: deleted_by_author (HTTP 404) -> OFFLINE_VERIFIED" in out
    shown = json.loads(run(settings, "case", "show", first, "--format", "json").stdout)
    assert shown["state"] == "MISMATCH" and shown["evidence"]["text"] == HOSTILE
    assert [e["to_state"] for e in shown["events"]] == [
        "DETECTED", "CONFIRMED", "REPORTED", "PLATFORM_ACTIONED", "MISMATCH"]
    text = run(settings, "case", "show", second).stdout
    assert "OFFLINE_VERIFIED" in text and "deleted" in text
    csv_out = run(settings, "case", "list", "--state", "MISMATCH", "--format", "csv").stdout
    assert csv_out.splitlines()[0].startswith("case_id,state,platform,post_id,url,score")
    assert len(csv_out.splitlines()) == 2 and "replay.example/@troll/11" in csv_out

    pack = run(settings, "case", "escalation-pack", first, "--out", str(tmp_path / "pack")).stdout.split()
    data = json.loads(open(pack[0], encoding="utf-8").read())
    assert data["evidence"]["text"] == HOSTILE and len(data["evidence"]["content_sha256"]) == 64
    assert data["reports"][0]["reference"] == "REF-1" and data["platform_answers"][0]["text"] == "We removed it."
    assert open(pack[1], "rb").read(5) == b"%PDF-"


@pytest.mark.slow
def test_user_add_reads_the_password_from_stdin_and_hashes_it(settings):
    run(settings, "user", "add", "ana", "--role", "analyst", input="a long passphrase\n")
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        [(role, stored)] = con.execute("SELECT role, password_hash FROM users").fetchall()
    assert role == "analyst" and stored.startswith("scrypt$") and "passphrase" not in stored
    again = run(settings, "user", "add", "ana", "--role", "viewer", input="another passphrase\n", check=False)
    assert again.returncode == 1 and "exists already" in again.stderr
    short = run(settings, "user", "add", "bo", "--role", "viewer", input="short\n", check=False)
    assert short.returncode == 1 and "at least 10 characters" in short.stderr


@pytest.mark.parametrize("args, message", [
    (["case", "review", "1", "--decision", "confirm"], "no case 1"),
    (["case", "report", "1", "--channel", "fax", "--reference", "x"], "invalid choice"),
    (["case", "open", "--url", "https://example.org/not-a-status"], "unknown platform"),
    (["case", "open", "--platform", "mastodon", "--post-id", "nope"], "no mastodon post 'nope'"),
    (["case", "open", "--platform", "myspace", "--post-id", "1"], "unknown platform 'myspace'; platforms: bluesky"),
    (["case", "show", "abc"], "'abc' is not a whole number"),
    (["case", "escalation-pack", "1", "--out", "x"], "no case 1"),
    (["case", "answer", "1", "--outcome", "removed", "--text", "x", "--answered-at", "soon"], "not an ISO 8601 time"),
])
def test_bad_case_commands_get_a_clear_error(settings, args, message):
    proc = run(settings, *args, check=False)
    assert proc.returncode in (1, 2) and message in proc.stderr and "Traceback" not in proc.stderr
