"""Re-checks beyond Mastodon, against local fakes that delete posts: Bluesky's getPosts (a gone
post is simply absent; getProfile tells an account gone) and TikTok's Research API queried by
video id, with the same credentials as collection. MISMATCH after a "removed" claim with the
post online; OFFLINE_VERIFIED with the reason once it is gone."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from collectors import bluesky, tiktok
from collectors.base import CollectOptions
from collectors.http import PoliteClient
from collectors.staging import StagingWriter
from review import cases as cs
from review import rechecks as rc
from review import states as st
from fakes.bluesky import GET_POSTS, BlueskyFake, make_post
from fakes.tiktok import QUERY, TikTokFake, make_video
from warehouse import queries
from warehouse.db import session
from warehouse.loader import load_manifests

CREDS = {bluesky.IDENTIFIER_VAR: "monitor.example.org", bluesky.PASSWORD_VAR: "app-pass-1234",
         tiktok.KEY_VAR: "ck-test", tiktok.SECRET_VAR: "cs-test"}


@pytest.fixture
def client():
    with PoliteClient("tagwatch-tests", backoff_base=0.01, max_retries=1) as c:
        yield c


@pytest.fixture
def options(tmp_path):
    return CollectOptions(credentials=CREDS, state_dir=tmp_path / "state")


def load_reported(settings, platform, source, staged, answers):
    """Load staged posts as collection would, flag them, confirm and report each case;
    answers[i] is the platform's answer to case i (None: no answer yet)."""
    with StagingWriter(settings.staging_dir, f"seed-{platform}", platform, source, "seed") as writer:
        writer.write_posts(staged)
        manifest = writer.close("ok")
    with session(settings.db_path) as con:
        load_manifests(con, [manifest])
        queries.write_scores(con, [(platform, p["post_id"], 0.9) for p in staged], "test-model", 0.5)
        cs.open_flagged(con)
        ids = dict(con.execute("SELECT post_id, case_id FROM cases").fetchall())
        cases = [ids[p["post_id"]] for p in staged]
        for case, answer in zip(cases, answers):
            cs.review(con, case, "confirm", "ana")
            cs.report(con, case, "in-app", f"R{case}", "ana")
            if answer:
                cs.answer(con, case, answer, f"answer: {answer}", "ana")
    return cases


def outcomes(settings, client, options, cases):
    found = rc.run(settings.db_path, client, cases, options=options)["rechecked"]
    return {r["case_id"]: (r["outcome"], r["moved_to"]) for r in found}


def test_bluesky_rechecks_through_get_posts(settings, client, options):
    now = datetime.now(timezone.utc).isoformat()
    posts = [make_post(n, handle=f"user{n}.example.social") for n in range(1, 5)]
    with BlueskyFake(posts, max_lifetime=60) as fake:
        staged = [bluesky.post_to_staging(p, fake.url, b"k", now) for p in posts]
        claimed_online, claimed_gone, silent_gone, account = load_reported(
            settings, "bluesky", fake.url, staged, ["removed", "removed", None, None])
        fake.delete_post(posts[1]["uri"])
        fake.delete_post(posts[2]["uri"])
        fake.remove_account(posts[3]["author"]["did"])
        found = outcomes(settings, client, options, [claimed_online, claimed_gone, silent_gone, account])
        asked = fake.requests_to(GET_POSTS)
    assert found == {
        claimed_online: ("online", st.MISMATCH),
        claimed_gone: ("removed_by_platform", st.OFFLINE_VERIFIED),
        silent_gone: ("deleted_by_author", st.OFFLINE_VERIFIED),
        account: ("account_gone", st.OFFLINE_VERIFIED),
    }
    assert len(asked) == 4 and all(r.headers["authorization"].startswith("Bearer ") for r in asked)
    with session(settings.db_path) as con:
        assert "said removed" in cs.show(con, claimed_online)["events"][-1]["note"]
        gone = cs.show(con, account)
        assert "account is gone" in gone["events"][-1]["note"]
        assert "taken down" in gone["rechecks"][0]["detail"]
        assert "app.bsky.feed.getPosts?uris=at://" in gone["rechecks"][0]["url"]


def test_tiktok_rechecks_by_video_id_through_the_research_api(settings, client, options):
    now = datetime.now(timezone.utc).isoformat()
    videos = [make_video(n, username=f"user{n}") for n in range(1, 4)]
    with TikTokFake(videos, max_lifetime=60) as fake:
        staged = [tiktok.video_to_post(v, fake.url, b"k", now) for v in videos]
        claimed_online, claimed_gone, still_up = load_reported(
            settings, "tiktok", fake.url, staged, ["removed", "removed", None])
        fake.delete_video(videos[1]["id"])
        found = outcomes(settings, client, options, [claimed_online, claimed_gone, still_up])
        queries_sent = fake.requests_to(QUERY)
    assert found == {
        claimed_online: ("online", st.MISMATCH),
        claimed_gone: ("removed_by_platform", st.OFFLINE_VERIFIED),
        still_up: ("online", None),
    }
    body = queries_sent[0].json()
    assert body["query"]["and"][0]["field_name"] == "video_id" and body["start_date"] == "20260115"
    with session(settings.db_path) as con:
        assert "removed by the platform" in cs.show(con, claimed_gone)["events"][-1]["note"]


def test_missing_credentials_give_an_error_observation_not_a_crash(settings, client, tmp_path):
    now = datetime.now(timezone.utc).isoformat()
    with TikTokFake([make_video(1)], max_lifetime=60) as fake:
        [case] = load_reported(settings, "tiktok", fake.url,
                               [tiktok.video_to_post(make_video(1), fake.url, b"k", now)], ["removed"])
        found = rc.run(settings.db_path, client, [case],
                       options=CollectOptions(credentials={}, state_dir=tmp_path / "s"))["rechecked"]
    assert found[0]["outcome"] == "error" and found[0]["moved_to"] is None
    with session(settings.db_path) as con:
        assert tiktok.KEY_VAR in cs.show(con, case)["rechecks"][0]["detail"]
