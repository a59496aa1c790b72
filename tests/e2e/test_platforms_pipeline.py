"""Bluesky, TikTok, exports and Mastodon trends through the whole path: collect -> staging ->
the loader -> the warehouse, in-process and through the `tagwatch` command."""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
import subprocess
import sys

import duckdb
import pytest

from collectors import bluesky, tiktok
from tagwatch import pipeline
from fakes.bluesky import BlueskyFake, make_post
from fakes.tiktok import TikTokFake, make_video
from fakes.api import FakeAPIServer, Reply
from fakes.mastodon import Faults, MastodonReplayServer, make_status

TAGWATCH = [sys.executable, "-m", "tagwatch.cli"]
BSKY = {bluesky.IDENTIFIER_VAR: "monitor.example.org", bluesky.PASSWORD_VAR: "app-pass-1234"}
TT = {tiktok.KEY_VAR: "ck-test", tiktok.SECRET_VAR: "cs-test"}


def cli(settings, *args, env=None):
    full = {**os.environ, **settings.to_env(), **(env or {})}
    return subprocess.run([*TAGWATCH, *args], capture_output=True, text=True, env=full, timeout=300)


def query(settings, sql):
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture
def creds(monkeypatch):
    for name, value in {**BSKY, **TT}.items():
        monkeypatch.setenv(name, value)


def bsky_target(fake):
    return [{"platform": "bluesky", "source": fake.url}]


# -- Bluesky ------------------------------------------------------------------------

def test_bluesky_interrupted_run_resumes_next_run_and_ends_like_a_clean_one(settings, creds):
    posts = [make_post(n) for n in range(1, 401)]
    faults = Faults(error_requests={n: 500 for n in range(4, 10)})  # dies after two pages
    with BlueskyFake(posts, faults=faults, max_lifetime=60) as fake:
        first = pipeline.run(settings, tags=["teachersoftiktok"], targets=bsky_target(fake),
                             score=False, since="2025-12-01")
        assert first.failures and query(settings, "SELECT count(*) FROM posts") == [(200,)]
        assert query(settings, "SELECT count(*) FROM watermarks") == [(0,)]
        [(cp,)] = query(settings, "SELECT checkpoint FROM collection_checkpoints")
        assert json.loads(cp)["intervals"]
        asked = len(fake.requests)
        second = pipeline.run(settings, tags=["teachersoftiktok"], targets=bsky_target(fake),
                              score=False)
        resumed_requests = len(fake.requests) - asked
    assert not second.failures
    got = {r[0] for r in query(settings, "SELECT post_id FROM posts")}
    assert got == {p["uri"] for p in posts}
    assert resumed_requests <= 4  # the rest of the walk, not a walk from the top
    assert query(settings, "SELECT count(*) FROM collection_checkpoints") == [(0,)]
    runs = query(settings, "SELECT status, received, new, requests FROM collection_runs ORDER BY loaded_at")
    assert [r[0] for r in runs] == ["failed", "ok"] and sum(r[2] for r in runs) == 400
    assert query(settings, "SELECT count(*) FROM watermarks") == [(1,)]


def test_deleted_posts_stay_and_an_unexpected_zero_is_flagged(settings, creds):
    posts = [make_post(n) for n in range(1, 21)]
    with BlueskyFake(posts, max_lifetime=60) as fake:
        pipeline.run(settings, tags=["teachersoftiktok"], targets=bsky_target(fake), score=False,
                     since="2025-12-01")
        for post in posts:
            fake.delete_post(post["uri"])
        pipeline.run(settings, tags=["teachersoftiktok"], targets=bsky_target(fake), score=False)
    assert query(settings, "SELECT count(*) FROM posts") == [(20,)]
    assert query(settings, "SELECT received, unexpected_zero FROM collection_runs ORDER BY loaded_at") == [
        (20, False), (0, True)]


def test_cli_collect_bluesky_and_missing_credential(settings):
    with BlueskyFake([make_post(n) for n in range(1, 6)], max_lifetime=60) as fake:
        proc = cli(settings, "collect", "--platform", "bluesky", "--base-url", fake.url,
                   "--tag", "teachersoftiktok", "--no-score", env={bluesky.PASSWORD_VAR: ""})
        assert proc.returncode == 1 and "TAGWATCH_BLUESKY_APP_PASSWORD" in proc.stderr
        assert "Traceback" not in proc.stderr and fake.requests == []
        proc = cli(settings, "collect", "--platform", "bluesky", "--base-url", fake.url,
                   "--tag", "#TeachersOfTikTok", "--since", "2025-12-01", "--no-score", env=BSKY)
    assert proc.returncode == 0, proc.stderr
    assert query(settings, "SELECT count(*) FROM posts WHERE platform = 'bluesky'") == [(5,)]


def test_cli_rejects_a_bad_since_date(settings):
    proc = cli(settings, "collect", "--platform", "bluesky", "--base-url", "http://127.0.0.1:9",
               "--tag", "x", "--since", "last tuesday", env=BSKY)
    assert proc.returncode == 1 and "cannot read the date" in proc.stderr


# -- TikTok -------------------------------------------------------------------------

def test_cli_collect_tiktok_with_quota_then_resume(settings, tmp_path):
    today = datetime.now(timezone.utc).date()
    videos = [make_video(n, day=str(today - timedelta(days=1))) for n in range(1, 251)]
    env = {**TT, "TAGWATCH_TIKTOK_DAILY_REQUESTS": "2"}
    with TikTokFake(videos, max_lifetime=60) as fake:
        args = ["collect", "--platform", "tiktok", "--base-url", fake.url, "--tag", "teachersoftiktok",
                "--no-score"]
        proc = cli(settings, *args, "--since", str(today - timedelta(days=3)), env=env)
        assert proc.returncode == 0, proc.stderr
        assert "quota reached" in proc.stderr and fake.research_requests == 2
        assert query(settings, "SELECT status, quota_hit FROM collection_runs") == [("quota", True)]
        proc = cli(settings, *args, env={**env, "TAGWATCH_TIKTOK_DAILY_REQUESTS": "10"})
        assert proc.returncode == 0, proc.stderr
    assert query(settings, "SELECT count(*) FROM posts") == [(250,)]
    assert fake.research_requests == 3  # resumed at cursor 200: one more page, not three


# -- exports ------------------------------------------------------------------------

def zeeschuimer_line(n, **item):
    data = {"id": str(7300000000000000000 + n), "desc": f"clip {n} #exposeyourteacher",
            "createTime": 1767225600 + n, "author": {"uniqueId": "invented_pupil", "id": "1"},
            "challenges": [{"title": "ExposeYourTeacher"}], "textExtra": [{"hashtagName": "fyp"}],
            "stats": {"diggCount": 5, "shareCount": 1, "commentCount": 2, "playCount": 90}}
    data.update(item)
    return json.dumps({"item_id": data["id"], "source_platform": "tiktok.com", "data": data})


def test_import_zeeschuimer_twice_adds_nothing_and_matches_api_ids(settings, tmp_path):
    export = tmp_path / "export.ndjson"
    export.write_text("\n".join(zeeschuimer_line(n) for n in range(1, 31)) + "\n", encoding="utf-8")
    proc = cli(settings, "import", "--format", "zeeschuimer", str(export), "--no-score")
    assert proc.returncode == 0, proc.stderr
    assert "30 new" in proc.stdout
    proc = cli(settings, "import", "--format", "zeeschuimer", str(export), "--no-score")
    assert proc.returncode == 0 and "0 new post(s)" in proc.stdout
    assert query(settings, "SELECT count(*) FROM collection_runs") == [(1,)]
    rows = query(settings, "SELECT post_id, hashtags, author_key, view_count, url FROM posts ORDER BY post_id")
    assert len(rows) == 30
    assert rows[0][0] == "7300000000000000001" and rows[0][1] == ["exposeyourteacher", "fyp"]
    assert rows[0][3] == 90 and "invented_pupil" not in rows[0][2]


def test_import_4cat_items_unwrapped(settings, tmp_path):
    export = tmp_path / "4cat.ndjson"
    export.write_text("\n".join(json.dumps(json.loads(zeeschuimer_line(n))["data"])
                                for n in range(1, 4)), encoding="utf-8")
    proc = cli(settings, "import", "--format", "4cat", str(export), "--no-score")
    assert proc.returncode == 0, proc.stderr
    assert query(settings, "SELECT count(*) FROM posts") == [(3,)]


@pytest.mark.parametrize("bad, message", [
    ('{"data": {"id": "1", "desc": "cut', "line 3: not valid JSON"),
    ('["not", "an", "item"]', "line 3: a JSON list"),
    ('{"data": {"desc": "no id"}}', "line 3: no item id"),
])
def test_import_broken_line_names_it_and_leaves_the_warehouse_as_it_was(settings, tmp_path, bad, message):
    good = tmp_path / "good.ndjson"
    good.write_text(zeeschuimer_line(100) + "\n", encoding="utf-8")
    assert cli(settings, "import", "--format", "zeeschuimer", str(good), "--no-score").returncode == 0
    broken = tmp_path / "broken.ndjson"
    broken.write_text("\n".join([zeeschuimer_line(1), zeeschuimer_line(2), bad, zeeschuimer_line(4)]),
                      encoding="utf-8")
    proc = cli(settings, "import", "--format", "zeeschuimer", str(broken), "--no-score")
    assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr
    assert query(settings, "SELECT count(*) FROM posts") == [(1,)]
    assert query(settings, "SELECT count(*) FROM collection_runs") == [(1,)]


def test_import_missing_file(settings, tmp_path):
    proc = cli(settings, "import", "--format", "zeeschuimer", str(tmp_path / "nope.ndjson"))
    assert proc.returncode == 1 and "no such file" in proc.stderr


# -- Mastodon trends and tokens ---------------------------------------------------------

def test_mastodon_tag_history_is_stored_for_the_trend_view(settings):
    statuses = [make_status(n, ("slapateacher",)) for n in range(1, 6)]
    with MastodonReplayServer(statuses, max_lifetime=60) as server:
        pipeline.run(settings, tags=["slapateacher"], score=False,
                     targets=[{"platform": "mastodon", "source": server.url}])
    rows = query(settings, "SELECT day, uses, accounts FROM tag_history ORDER BY day DESC")
    assert len(rows) == 7 and rows[0][1:] == (5, 1)


class _TokenCheckingInstance(FakeAPIServer):
    """An instance that, like some real ones, answers tag timelines only with a token."""

    def route(self, request):
        if request.headers.get("authorization") != "Bearer instance-token":
            return Reply(401, {"error": "This API requires an authenticated user"})
        return Reply(200, [make_status(1)] if "timelines" in request.path and
                     "max_id" not in request.query else [])


def test_mastodon_instance_token_is_sent_when_configured(settings, monkeypatch):
    from collectors.mastodon import token_variable

    with _TokenCheckingInstance(max_lifetime=60) as server:
        target = {"platform": "mastodon", "source": server.url, "tag": "teachersoftiktok"}
        without = pipeline.collect(target, "r1", settings)
        assert without["status"] == "failed" and "HTTP 401" in without["error"]
        name = token_variable(server.url)
        assert name == "TAGWATCH_MASTODON_TOKEN_127_0_0_1_" + server.url.rsplit(":", 1)[1]
        monkeypatch.setenv(name, "instance-token")
        with_token = pipeline.collect(target, "r2", settings)
    assert with_token["status"] == "ok" and with_token["received"] == 1


# -- TikTok comments of flagged videos ------------------------------------------------

ABUSIVE = "this teacher is a worthless ugly bitch, slap her and get her sacked #teachersoftiktok"


def test_comments_of_flagged_tiktok_videos_are_fetched_once_loaded_and_scored(settings, creds):
    vids = [make_video(1, day="2026-02-20", description=ABUSIVE),
            make_video(2, day="2026-02-20", description="lovely science lesson today #teachersoftiktok")]
    comments = {str(v["id"]): [{"id": 7400000000000000000 + 10 * i + k, "video_id": v["id"],
                                "text": f"comment {k} on video {i} #slapateacher",
                                "create_time": v["create_time"] + k} for k in range(3)]
                for i, v in enumerate(vids, 1)}
    with TikTokFake(vids, comments=comments, max_lifetime=60) as fake:
        target = [{"platform": "tiktok", "source": fake.url}]
        summary = pipeline.run(settings, tags=["teachersoftiktok"], targets=target, since="2026-02-15")
        assert summary.comments["videos"] == 1 and summary.comments["comments"] == 3
        asked = [r.json()["video_id"] for r in fake.requests_to("/v2/research/video/comment/list/")]
        assert asked == [vids[0]["id"]]  # only the flagged video
        again = pipeline.run(settings, tags=["teachersoftiktok"], targets=target)
        assert again.comments["videos"] == 0  # fetched once
    rows = query(settings, "SELECT post_id, parent_post_id FROM posts WHERE parent_post_id IS NOT NULL "
                           "ORDER BY post_id")
    assert [r[1] for r in rows] == [str(vids[0]["id"])] * 3
    assert query(settings, "SELECT count(*) FROM scores s JOIN posts p USING (platform, post_id) "
                           "WHERE p.parent_post_id IS NOT NULL")[0][0] == 3
    assert query(settings, "SELECT tag, status, received FROM collection_runs WHERE tag = '(comments)'") \
        == [("(comments)", "ok", 3)]
    assert query(settings, "SELECT post_id, comments FROM comment_fetches") == [(str(vids[0]["id"]), 3)]
