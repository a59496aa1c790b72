"""Issue 13 items 8 and 9 at collection: a 2 MB hashtag, a huge post text and a
javascript: post URL served by a (fake) Mastodon instance are bounded on their way into
staging, whatever the platform; a 2 MB tag is refused as a tag to collect."""
from __future__ import annotations

import pytest

from collectors import bluesky, mastodon, tiktok, web
from collectors.base import CollectOptions, hashtag
from collectors.http import PoliteClient
from collectors.staging import CUT_MARK, MAX_TEXT, find_manifests, read_staged_posts, web_url
from fakes.mastodon import MastodonReplayServer, make_status

HUGE_TAG = "a" * 2_000_000


def test_a_hostile_status_is_bounded_before_staging(tmp_path):
    status = make_status(1, tags=("teachersoftiktok",), content="<p>" + "x" * (MAX_TEXT + 5000) + "</p>",
                         url="javascript:alert(document.cookie)")
    status["tags"].append({"name": HUGE_TAG, "url": "https://replay.example/tags/a"})
    with MastodonReplayServer([status], max_lifetime=60) as server, PoliteClient("tests") as client:
        manifest = mastodon.collect_tag(server.url, "teachersoftiktok", staging_dir=tmp_path, run_id="r1",
                                        pseudonym_key=b"k", user_agent="tests", client=client)
    assert manifest.status == "ok"
    [path] = find_manifests(tmp_path, "r1")
    [row] = read_staged_posts(path)
    assert row["url"] is None                                  # never a link that runs script
    assert row["hashtags"] == ["teachersoftiktok"]             # the 2 MB "tag" is dropped
    assert len(row["text"]) == MAX_TEXT + len(CUT_MARK) and row["text"].endswith(CUT_MARK)


@pytest.mark.parametrize("collector", [mastodon, bluesky, tiktok, web])
def test_a_2_mb_hashtag_is_refused_as_a_tag_to_collect(collector, tmp_path):
    with pytest.raises(ValueError, match="not a hashtag: 2,000,000 characters"):
        collector.collect_tag("http://127.0.0.1:9/{tag}", HUGE_TAG, staging_dir=tmp_path, run_id="r",
                              pseudonym_key=b"k", user_agent="tests", options=CollectOptions(credentials={
                                  "TAGWATCH_BLUESKY_IDENTIFIER": "x", "TAGWATCH_BLUESKY_APP_PASSWORD": "x",
                                  "TAGWATCH_TIKTOK_CLIENT_KEY": "x", "TAGWATCH_TIKTOK_CLIENT_SECRET": "x"}))


@pytest.mark.parametrize("url, kept", [
    ("https://mastodon.example/@a/1", True), ("http://x.example/p", True), ("HTTPS://X.example/", True),
    ("javascript:alert(1)", False), ("JavaScript:alert(1)", False), ("data:text/html,<script>", False),
    ("vbscript:x", False), ("//evil.example/x", False), ("https:evil", False), ("", False), (None, False),
    ("https://x.example/" + "a" * 3000, False),
])
def test_only_http_urls_are_kept(url, kept):
    assert (web_url(url) is not None) == kept


def test_hashtag_bounds():
    assert hashtag("#TeachersOfTikTok") == "teachersoftiktok"
    assert hashtag("a" * 100) == "a" * 100
    with pytest.raises(ValueError):
        hashtag("a" * 101)
    with pytest.raises(ValueError):
        hashtag("#")
