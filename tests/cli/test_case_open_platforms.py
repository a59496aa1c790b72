"""`tagwatch case open --url` with a Bluesky and a TikTok post address (issue 17 item 5): the
post is asked of the platform's configured API (here the local fakes), never of bsky.app or
tiktok.com; unknown and malformed addresses are refused in one line, nothing written."""
from __future__ import annotations

from datetime import datetime, timezone

import duckdb
import pytest

from collectors import bluesky, tiktok
from fakes.bluesky import GET_POSTS, RESOLVE_HANDLE, BlueskyFake, make_post
from fakes.tiktok import QUERY, TikTokFake, make_video
from test_cli import run

DAY = datetime(2026, 1, 15, tzinfo=timezone.utc)
CREDS = {bluesky.IDENTIFIER_VAR: "monitor.example.org", bluesky.PASSWORD_VAR: "app-pass-1234",
         tiktok.KEY_VAR: "ck-test", tiktok.SECRET_VAR: "cs-test"}


@pytest.fixture
def creds(monkeypatch):
    for name, value in CREDS.items():
        monkeypatch.setenv(name, value)


def video_id(n: int) -> int:
    """A TikTok id as the platform makes them: the creation time in the upper 32 bits."""
    return (int(DAY.timestamp()) + n) << 32 | n


def cases(settings) -> list[tuple]:
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        return con.execute("SELECT c.case_id, c.platform, c.post_id, p.source, p.text FROM cases c "
                           "JOIN posts p USING (platform, post_id) ORDER BY c.case_id").fetchall()


@pytest.mark.slow
def test_a_bluesky_post_address_opens_a_case_through_the_configured_api(settings, creds, fake_servers):
    post = make_post(4, text="Mr Invented at Fernbrook is a creep #slapateacher",
                     handle="pupil.example.social")
    fake = fake_servers(BlueskyFake, [post])
    run(settings, "sources", "add", "--platform", "bluesky", "--base-url", fake.url)
    rkey = post["uri"].rsplit("/", 1)[1]
    url = f"https://bsky.app/profile/Pupil.Example.Social/post/{rkey}"
    assert run(settings, "case", "open", "--url", url, "--actor", "ana").stdout.strip() == "1"
    assert cases(settings) == [(1, "bluesky", post["uri"], fake.url, post["record"]["text"])]
    assert fake.requests_to(RESOLVE_HANDLE)[0].query["handle"] == "pupil.example.social"
    assert fake.requests_to(GET_POSTS)[0].query["uris"] == post["uri"]
    # The same post by its DID address is the same post, which has its case already.
    did_url = f"https://bsky.app/profile/{post['author']['did']}/post/{rkey}"
    again = run(settings, "case", "open", "--url", did_url, check=False)
    assert again.returncode == 1 and "the post already has case 1" in again.stderr
    assert len(cases(settings)) == 1


@pytest.mark.slow
def test_a_tiktok_video_address_opens_a_case_through_the_research_api(settings, creds, fake_servers):
    video = make_video(5, description="ms madeup deserves a slap #exposeyourteacher",
                       username="someone_invented", id=video_id(5))
    fake = fake_servers(TikTokFake, [video])
    run(settings, "sources", "add", "--platform", "tiktok", "--base-url", fake.url)
    url = f"https://www.tiktok.com/@someone_invented/video/{video['id']}?is_from_webapp=1"
    assert run(settings, "case", "open", "--url", url).stdout.strip() == "1"
    assert cases(settings) == [(1, "tiktok", str(video["id"]), fake.url, video["video_description"])]
    asked = fake.requests_to(QUERY)[0].json()
    assert asked["query"]["and"][0]["field_values"] == [str(video["id"])]
    assert (asked["start_date"], asked["end_date"]) == ("20260115", "20260116")  # the day in its id


@pytest.mark.parametrize("url, message", [
    ("https://www.youtube.com/watch?v=abc", "unknown platform"),
    ("https://example.org/news/2026/teacher", "unknown platform"),
    ("https://bsky.app/profile/pupil.example.social", "not a Bluesky post address"),
    ("https://www.tiktok.com/@someone_invented/photo/123", "not a TikTok video address"),
    ("https://www.tiktok.com/@someone_invented/video/12", "carries no creation date"),
    ("not a url at all", "unknown platform"),
])
@pytest.mark.slow
def test_unknown_and_malformed_addresses_are_refused_in_one_line(settings, creds, fake_servers,
                                                                 url, message):
    bsky, tt = fake_servers(BlueskyFake, []), fake_servers(TikTokFake, [])
    run(settings, "sources", "add", "--platform", "bluesky", "--base-url", bsky.url)
    run(settings, "sources", "add", "--platform", "tiktok", "--base-url", tt.url)
    refused = run(settings, "case", "open", "--url", url, check=False)
    assert refused.returncode == 1 and message in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 0
    assert [r.path for r in bsky.requests + tt.requests if "research" in r.path or "feed" in r.path] == []


@pytest.mark.slow
def test_a_post_the_platform_no_longer_serves_or_a_missing_credential_says_so(settings, creds,
                                                                              fake_servers, monkeypatch):
    post = make_post(6, handle="pupil.example.social")
    fake = fake_servers(BlueskyFake, [post])
    run(settings, "sources", "add", "--platform", "bluesky", "--base-url", fake.url)
    fake.delete_post(post["uri"])
    url = f"https://bsky.app/profile/pupil.example.social/post/{post['uri'].rsplit('/', 1)[1]}"
    gone = run(settings, "case", "open", "--url", url, check=False)
    assert gone.returncode == 1 and "does not serve the post" in gone.stderr
    monkeypatch.delenv(bluesky.PASSWORD_VAR)
    missing = run(settings, "case", "open", "--url", url, check=False)
    assert missing.returncode == 1 and bluesky.PASSWORD_VAR in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and cases(settings) == []
