"""The school form with Bluesky and TikTok post addresses (issue 17 item 5): fetched through
each platform's configured API (the local fakes) when the operator allows the address's host
(TAGWATCH_INTAKE_HOSTS), recorded unfetched otherwise. Every school and person is invented."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from collectors import bluesky, tiktok
from collectors.base import CollectOptions
from fakes.bluesky import GET_POSTS, BlueskyFake, make_post
from fakes.tiktok import TikTokFake, make_video
from review import cases as cs
from review import schools, users
from warehouse import queries
from warehouse.db import session

T0 = datetime(2026, 5, 4, 9, tzinfo=timezone.utc)
DAY = datetime(2026, 1, 15, tzinfo=timezone.utc)
CREDS = {bluesky.IDENTIFIER_VAR: "monitor.example.org", bluesky.PASSWORD_VAR: "app-pass-1234",
         tiktok.KEY_VAR: "ck-test", tiktok.SECRET_VAR: "cs-test"}


def setup(settings, tmp_path, *fakes):
    with session(settings.db_path) as con:
        users.add_user(con, "head.fern", "school", "a long passphrase", "Fernbrook Academy",
                       "head@fernbrook.example")
        for fake in fakes:
            queries.source_add(con, "bluesky" if isinstance(fake, BlueskyFake) else "tiktok", fake.url)
    return (dataclasses.replace(settings, intake_hosts=("bsky.app", "www.tiktok.com")),
            CollectOptions(credentials=CREDS, state_dir=tmp_path / "state"))


def test_bluesky_and_tiktok_addresses_open_cases_with_frozen_evidence(settings, tmp_path, fake_servers):
    post = make_post(3, text="Mr Invented at Fernbrook is a creep", handle="pupil.example.social")
    video = make_video(4, description="ms madeup should be sacked", username="someone_invented",
                       id=(int(DAY.timestamp()) + 4) << 32 | 4)
    bsky, tt = fake_servers(BlueskyFake, [post]), fake_servers(TikTokFake, [video])
    s, options = setup(settings, tmp_path, bsky, tt)
    urls = [f"https://bsky.app/profile/pupil.example.social/post/{post['uri'].rsplit('/', 1)[1]}",
            f"https://www.tiktok.com/@someone_invented/video/{video['id']}"]
    results = schools.submit(s, "head.fern", urls, "about our staff", "teacher", now=T0, options=options)
    assert [r["outcome"] for r in results] == ["opened", "opened"]
    with session(settings.db_path) as con:
        shown = [cs.show(con, r["case_id"]) for r in results]
    assert [(c["platform"], c["post_id"]) for c in shown] == [("bluesky", post["uri"]),
                                                                ("tiktok", str(video["id"]))]
    assert [c["evidence"]["text"] for c in shown] == ["Mr Invented at Fernbrook is a creep",
                                                      "ms madeup should be sacked"]
    assert {c["post"]["source"] for c in shown} == {bsky.url, tt.url}


def test_addresses_on_hosts_not_allowed_or_not_of_one_post_are_recorded_unfetched(settings, tmp_path,
                                                                                 fake_servers):
    post = make_post(3, handle="pupil.example.social")
    bsky = fake_servers(BlueskyFake, [post])
    s, options = setup(settings, tmp_path, bsky)
    rkey = post["uri"].rsplit("/", 1)[1]
    urls = [f"https://bsky.app/profile/pupil.example.social/post/{rkey}",   # allowed, but see below
            "https://bsky.app/profile/pupil.example.social",                  # not one post
            "https://www.tiktok.com/@someone_invented/video/12",             # no date in the id
            f"https://staging.bsky.app/profile/pupil.example.social/post/{rkey}"]  # host not allowed
    s = dataclasses.replace(s, intake_hosts=("www.tiktok.com", "bsky.app"))
    results = schools.submit(s, "head.fern", urls[1:], "", "teacher", now=T0, options=options)
    assert [r["outcome"] for r in results] == ["not_fetched"] * 3
    notes = [r["note"] for r in results]
    assert "not a Bluesky post address" in notes[0]
    assert "carries no creation date" in notes[1]
    assert "staging.bsky.app is not a platform tagwatch fetches from" in notes[2]
    assert bsky.requests_to(GET_POSTS) == []
    # Without the operator's consent for bsky.app, nothing is asked of the API either.
    closed = dataclasses.replace(s, intake_hosts=("www.tiktok.com",))
    [result] = schools.submit(closed, "head.fern", urls[:1], "", "teacher", now=T0, options=options)
    assert result["outcome"] == "not_fetched" and "bsky.app is not a platform" in result["note"]
    assert bsky.requests == []
