"""collect_tag for Bluesky against a local fake of the XRPC API, one test per fault handled."""
from __future__ import annotations


import pytest

from collectors import bluesky
from collectors.base import CollectOptions, MissingCredential
from collectors.http import PoliteClient
from collectors.staging import POST_FIELDS, find_manifests, pseudonymise, read_staged_posts
from fakes.bluesky import SEARCH, BlueskyFake, make_post
from fakes.mastodon import Faults

TAG = "teachersoftiktok"
KEY = b"test-key"
UA = "tagwatch-tests/0 (+https://example.org/tagwatch)"
CREDS = {bluesky.IDENTIFIER_VAR: "monitor.example.org", bluesky.PASSWORD_VAR: "app-pass-1234"}
LONG_AGO = "2025-12-01"


@pytest.fixture
def fakes(fake_servers):
    return lambda posts=(), **kwargs: fake_servers(BlueskyFake, list(posts), **kwargs)


@pytest.fixture
def collect(tmp_path, sleeps):
    runs = iter(range(1, 1000))
    client = PoliteClient(UA, backoff_base=0.5, sleep=sleeps.append)
    options = CollectOptions(credentials=CREDS, state_dir=tmp_path / "state")

    def run(fake, tag=TAG, run_id=None, **kwargs):
        kwargs.setdefault("client", client)
        kwargs.setdefault("options", options)
        if "watermark" not in kwargs and "checkpoint" not in kwargs:
            kwargs.setdefault("since", LONG_AGO)
        manifest = bluesky.collect_tag(fake.url, tag, staging_dir=tmp_path / "staging",
                                       run_id=run_id or f"run{next(runs)}", pseudonym_key=KEY,
                                       user_agent=UA, **kwargs)
        [path] = find_manifests(tmp_path / "staging", manifest.run_id)
        return manifest, read_staged_posts(path)
    yield run
    client.close()


def posts(first, last, tags=(TAG,), **kwargs):
    return [make_post(n, tags, **kwargs) for n in range(first, last + 1)]


def numbers(rows):
    return sorted(int(r["post_id"].rsplit("/", 1)[-1][2:]) for r in rows)


def test_search_walks_every_page_once_with_latest_order_and_hash_query(fakes, collect):
    fake = fakes(posts(1, 250))
    manifest, rows = collect(fake)
    assert numbers(rows) == list(range(1, 251))
    assert (manifest.status, manifest.pages, manifest.received, manifest.duplicates) == ("ok", 3, 250, 0)
    searches = fake.requests_to(SEARCH)
    assert [r.query.get("cursor") for r in searches] == [None, "100", "200"]
    assert all(r.query["q"] == f"#{TAG}" and r.query["sort"] == "latest"
               and r.query["limit"] == "100" for r in searches)
    assert manifest.watermark_after == "2026-01-01T04:10:00.000000Z"  # post 250
    assert all(set(r) == set(POST_FIELDS) for r in rows)


def test_one_login_for_many_tags_and_runs(fakes, collect):
    fake = fakes(posts(1, 30) + posts(31, 60, tags=("exposeyourteacher",)))
    for tag in (TAG, "exposeyourteacher", "ratemyteacher"):
        collect(fake, tag)
    collect(fake, TAG)
    assert fake.logins == 1
    assert all(r.headers["authorization"].startswith("Bearer ") for r in fake.requests_to(SEARCH))


def test_expired_access_token_is_refreshed_not_a_new_login(fakes, collect):
    fake = fakes(posts(1, 30))
    collect(fake)
    fake.expire_tokens()
    manifest, rows = collect(fake)
    assert manifest.status == "ok" and len(rows) == 30
    assert fake.logins == 1
    assert len(fake.requests_to("/xrpc/com.atproto.server.refreshSession")) == 1


def test_missing_credentials_name_the_variable(fakes, collect):
    fake = fakes()
    with pytest.raises(MissingCredential, match="TAGWATCH_BLUESKY_APP_PASSWORD"):
        collect(fake, options=CollectOptions(credentials={bluesky.IDENTIFIER_VAR: "x"}))
    with pytest.raises(MissingCredential, match="TAGWATCH_BLUESKY_IDENTIFIER"):
        collect(fake, options=CollectOptions(credentials={}))


def test_wrong_password_fails_clearly(fakes, collect, tmp_path):
    fake = fakes(posts(1, 5))
    wrong = CollectOptions(credentials={**CREDS, bluesky.PASSWORD_VAR: "nope"},
                           state_dir=tmp_path / "other-state")
    manifest, rows = collect(fake, options=wrong)
    assert manifest.status == "failed" and rows == []
    assert "TAGWATCH_BLUESKY_IDENTIFIER" in manifest.error and "Invalid identifier" in manifest.error
    assert "nope" not in manifest.error


def test_posts_without_the_tag_are_dropped_after_a_loose_search(fakes, collect):
    fake = fakes(posts(1, 5) + [
        make_post(6, ("teachersoftiktoker",)),                         # a longer tag
        make_post(7, (), text="teachersoftiktok is trending"),          # the word, no tag
        make_post(8, (TAG,), facets=False),                             # tag typed, no facet
    ])
    manifest, rows = collect(fake)
    assert numbers(rows) == [1, 2, 3, 4, 5, 8]
    assert manifest.extra["not_tagged"] == 2 and manifest.received == 6


def test_watermark_run_asks_since_with_overlap_and_adds_only_new(fakes, collect):
    fake = fakes(posts(1, 50))
    first, _ = collect(fake)
    for post in posts(51, 60):
        fake.add_post(post)
    second, rows = collect(fake, watermark=first.watermark_after)
    assert fake.requests_to(SEARCH)[-1].query["since"] == "2026-01-01T00:35:00.000000Z"  # 00:50 - 15 min
    assert numbers(rows) == list(range(35, 61))  # the overlap comes again; the loader keeps it once
    assert second.watermark_after == "2026-01-01T01:00:00.000000Z"


def test_repeats_across_pages_are_staged_once(fakes, collect):
    fake = fakes(posts(1, 250), faults=Faults(overlap=3))
    manifest, rows = collect(fake)
    assert numbers(rows) == list(range(1, 251))
    assert manifest.duplicates == 6 and manifest.received == 256


def test_result_cap_is_detected_recorded_and_walked_around(fakes, collect):
    fake = fakes(posts(1, 75), result_cap=30)
    manifest, rows = collect(fake, result_cap=30)
    assert numbers(rows) == list(range(1, 76))
    assert manifest.status == "ok" and manifest.cap_hit
    untils = [r.query.get("until") for r in fake.requests_to(SEARCH) if "cursor" not in r.query]
    assert untils[0] is None and all(untils[1:])


def test_result_cap_that_cannot_be_walked_around_ends_capped(fakes, collect):
    same_instant = [make_post(n, seconds=600) for n in range(1, 41)]
    fake = fakes(same_instant, result_cap=30)
    manifest, rows = collect(fake, result_cap=30)
    assert manifest.status == "capped" and manifest.cap_hit and len(rows) == 30
    assert "cap" in manifest.error


@pytest.mark.parametrize("faults, retries", [
    (Faults(rate_limit_requests={2}, retry_after="7"), 1),
    (Faults(error_requests={3: 503}), 1),
    (Faults(error_requests={2: 500, 3: 502}), 2),
    (Faults(truncate_requests={3}), 1),
    (Faults(cut_requests={2}), 1),
])
def test_transient_faults_are_retried(fakes, collect, sleeps, faults, retries):
    fake = fakes(posts(1, 150), faults=faults)
    manifest, rows = collect(fake)
    assert (manifest.status, manifest.retries, len(rows)) == ("ok", retries, 150)
    if faults.rate_limit_requests:
        assert sleeps == [7.0]


def test_a_run_killed_midway_resumes_where_it_stopped(fakes, collect, tmp_path):
    fake = fakes(posts(1, 450), faults=Faults(error_requests={n: 500 for n in range(4, 10)}))
    first, rows = collect(fake, run_id="r1")   # login, page 1, page 2, then 500s until it gives up
    assert first.status == "failed" and numbers(rows) == list(range(251, 451))
    assert first.checkpoint["intervals"][0][1] == "2026-01-01T04:11:00.001000Z"  # below post 251
    asked_before = len(fake.requests_to(SEARCH))
    # The same task retried (an Airflow retry): continue from the checkpoint, keeping what was staged.
    second, rows = collect(fake, run_id="r1")
    assert second.status == "ok" and numbers(rows) == list(range(1, 451))
    resumed = fake.requests_to(SEARCH)[asked_before:]
    # First what was posted since the walk began (from its newest post less the overlap),
    # then the rest of the interrupted walk, below the last page staged.
    assert resumed[0].query["since"] == "2026-01-01T07:15:00.000000Z" and "until" not in resumed[0].query
    assert resumed[1].query["until"] == "2026-01-01T04:11:00.001000Z"
    assert len(resumed) == 1 + 3  # not the 5 pages of a walk from the top
    assert second.duplicates == second.received - 450 == 16 + 1  # posts 435-450 and 251


def test_checkpoint_from_the_warehouse_covers_the_gap_and_new_posts(fakes, collect):
    fake = fakes(posts(1, 300), faults=Faults(error_requests={n: 500 for n in range(3, 9)}))
    first, rows = collect(fake)
    assert first.status == "failed" and numbers(rows) == list(range(201, 301))
    for post in posts(301, 320):
        fake.add_post(post)
    second, rows2 = collect(fake, checkpoint=first.checkpoint, watermark=None)
    assert second.status == "ok"
    assert set(numbers(rows)) | set(numbers(rows2)) == set(range(1, 321))
    assert second.watermark_after == "2026-01-01T05:20:00.000000Z"


def test_author_is_a_pseudonym_and_the_link_has_no_handle(fakes, collect, tmp_path):
    fake = fakes(posts(1, 3, handle="ms-halloway.example.social"))
    _, rows = collect(fake)
    for row in rows:
        assert "halloway" not in str(row)
        assert row["author_handle"] is None
        assert row["author_key"] == pseudonymise(KEY, "bluesky", make_post(1, handle="ms-halloway.example.social")["author"]["did"])
        assert row["url"].startswith("https://bsky.app/profile/did:plc:")
    opted_in = CollectOptions(credentials=CREDS, state_dir=tmp_path / "state", store_handles=True)
    _, rows = collect(fake, options=opted_in)
    assert {r["author_handle"] for r in rows} == {"ms-halloway.example.social"}
