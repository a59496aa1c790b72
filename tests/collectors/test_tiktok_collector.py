"""collect_tag for the TikTok Research API against a local fake, one test per fault handled."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from collectors import tiktok
from collectors.base import CollectOptions, MissingCredential
from collectors.http import PoliteClient
from collectors.staging import POST_FIELDS, find_manifests, read_staged_posts
from fakes.tiktok import QUERY, TOKEN, TikTokFake, make_video
from fakes.mastodon import Faults

TAG = "teachersoftiktok"
KEY = b"test-key"
UA = "tagwatch-tests/0 (+https://example.org/tagwatch)"
CREDS = {tiktok.KEY_VAR: "ck-test", tiktok.SECRET_VAR: "cs-test"}


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock(datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc))


@pytest.fixture
def fakes(fake_servers):
    return lambda videos=(), **kwargs: fake_servers(TikTokFake, list(videos), **kwargs)


@pytest.fixture
def options(tmp_path, clock):
    def make(**kwargs):
        kwargs.setdefault("credentials", CREDS)
        return CollectOptions(state_dir=tmp_path / "state", clock=clock, **kwargs)
    return make


@pytest.fixture
def collect(tmp_path, sleeps, options):
    runs = iter(range(1, 1000))
    client = PoliteClient(UA, backoff_base=0.5, sleep=sleeps.append)

    def run(fake, tag=TAG, run_id=None, **kwargs):
        kwargs.setdefault("client", client)
        kwargs.setdefault("options", options())
        manifest = tiktok.collect_tag(fake.url, tag, staging_dir=tmp_path / "staging",
                                      run_id=run_id or f"run{next(runs)}", pseudonym_key=KEY,
                                      user_agent=UA, **kwargs)
        [path] = find_manifests(tmp_path / "staging", manifest.run_id)
        return manifest, read_staged_posts(path)
    yield run
    client.close()


def videos(first, last, day="2026-02-20", **kwargs):
    return [make_video(n, day=day, **kwargs) for n in range(first, last + 1)]


def numbers(rows):
    return sorted(int(r["post_id"]) - 7300000000000000000 for r in rows)


def test_query_body_pages_and_fields(fakes, collect):
    fake = fakes(videos(1, 250))
    manifest, rows = collect(fake, since="2026-02-15")
    assert numbers(rows) == list(range(1, 251))
    assert (manifest.status, manifest.pages, manifest.received) == ("ok", 3, 250)
    queries = fake.requests_to(QUERY)
    first = queries[0].json()
    assert first["query"] == {"and": [{"operation": "IN", "field_name": "hashtag_name",
                                       "field_values": [TAG]}]}
    assert (first["start_date"], first["end_date"], first["max_count"]) == ("20260215", "20260301", 100)
    assert "search_id" not in first
    assert queries[1].json()["search_id"] == queries[2].json()["search_id"]
    assert [q.json().get("cursor") for q in queries] == [None, 100, 200]
    assert {"voice_to_text", "video_description"} <= set(queries[0].query["fields"].split(","))
    assert manifest.watermark_after == "20260301" and manifest.requests == 3
    assert all(set(r) == set(POST_FIELDS) for r in rows)


def test_caption_and_speech_are_both_in_the_text(fakes, collect):
    fake = fakes([make_video(1, day="2026-02-20", description="look at her #teachersoftiktok",
                             voice="she is a disgrace and should be sacked")])
    _, [row] = collect(fake, since="2026-02-01")
    assert row["text"] == ("look at her #teachersoftiktok\n\n"
                           "[spoken] she is a disgrace and should be sacked")
    assert row["author_handle"] is None and "someone_invented" not in row["author_key"]


def test_a_long_range_is_split_into_windows_of_at_most_30_days(fakes, collect):
    spread = [make_video(n, day=str(date(2025, 10, 1) + timedelta(days=n))) for n in range(0, 150)]
    fake = fakes(spread)
    manifest, rows = collect(fake, since="2025-10-01")
    assert len(rows) == 150
    for start, end in fake.windows:
        span = (datetime.strptime(end, "%Y%m%d") - datetime.strptime(start, "%Y%m%d")).days
        assert 0 <= span <= 29
    starts = [datetime.strptime(s, "%Y%m%d").date() for s, _ in dict.fromkeys(fake.windows)]
    assert starts[0] == date(2025, 10, 1) and fake.windows[-1][1] == "20260301"
    assert all((b - a).days == 30 for a, b in zip(starts, starts[1:]))  # contiguous, no gaps


def test_region_filter(fakes, collect, options):
    fake = fakes(videos(1, 5, region="GB") + videos(6, 9, region="US"))
    _, rows = collect(fake, since="2026-02-01", options=options(tiktok_region="gb"))
    assert numbers(rows) == [1, 2, 3, 4, 5]
    assert {"operation": "IN", "field_name": "region_code", "field_values": ["GB"]} in \
        fake.requests_to(QUERY)[0].json()["query"]["and"]


def test_token_is_cached_and_renewed_before_expiry(fakes, collect, clock):
    fake = fakes(videos(1, 5))
    collect(fake, since="2026-02-01")
    collect(fake, "othertag", since="2026-02-01")
    assert fake.token_requests == 1
    clock.now += timedelta(hours=1, minutes=50)  # 10 minutes left: still used
    collect(fake, since="2026-02-01")
    assert fake.token_requests == 1
    clock.now += timedelta(minutes=6)  # 4 minutes left: within the 5-minute margin
    collect(fake, since="2026-02-01")
    assert fake.token_requests == 2


def test_a_revoked_token_is_replaced_once(fakes, collect):
    fake = fakes(videos(1, 5))
    collect(fake, since="2026-02-01")
    fake.revoke_tokens()
    manifest, rows = collect(fake, since="2026-02-01")
    assert manifest.status == "ok" and len(rows) == 5 and fake.token_requests == 2


def test_missing_or_wrong_credentials(fakes, collect, options):
    fake = fakes(videos(1, 5))
    with pytest.raises(MissingCredential, match="TAGWATCH_TIKTOK_CLIENT_SECRET"):
        collect(fake, options=options(credentials={tiktok.KEY_VAR: "x"}))
    manifest, rows = collect(fake, since="2026-02-01",
                             options=options(credentials={**CREDS, tiktok.SECRET_VAR: "wrong"}))
    assert manifest.status == "failed" and "TAGWATCH_TIKTOK_CLIENT_KEY" in manifest.error
    assert "wrong" not in manifest.error and len(fake.requests_to(TOKEN)) == 1


def test_daily_budget_is_never_exceeded_and_the_next_day_continues(fakes, collect, options, clock):
    fake = fakes(videos(1, 450))
    manifest, rows = collect(fake, since="2026-02-15", options=options(tiktok_daily_requests=2))
    assert manifest.status == "quota" and manifest.quota_hit and "quota reached" in manifest.error
    assert fake.research_requests == 2 and len(rows) == 200
    assert manifest.checkpoint["cursor"] == 200 and manifest.checkpoint["search_id"]
    again, more = collect(fake, checkpoint=manifest.checkpoint, options=options(tiktok_daily_requests=2))
    assert again.status == "quota" and more == [] and fake.research_requests == 2  # nothing sent
    clock.now += timedelta(days=1)  # 00:00 UTC has passed: a fresh budget
    day2, rows2 = collect(fake, checkpoint=manifest.checkpoint, options=options(tiktok_daily_requests=2))
    assert day2.status == "quota" and len(rows2) == 200 and day2.checkpoint["cursor"] == 400
    clock.now += timedelta(days=1)
    day3, rows3 = collect(fake, checkpoint=day2.checkpoint, options=options(tiktok_daily_requests=2))
    assert day3.status == "ok" and day3.requests == 1
    assert sorted(numbers(rows) + numbers(rows2) + numbers(rows3)) == list(range(1, 451))
    assert fake.research_requests == 5


def test_platform_daily_quota_answer_stops_and_keeps_a_checkpoint(fakes, collect):
    fake = fakes(videos(1, 250), daily_quota=2)
    manifest, rows = collect(fake, since="2026-02-15")
    assert manifest.status == "quota" and len(rows) == 200 and manifest.retries == 0
    assert manifest.checkpoint["cursor"] == 200


@pytest.mark.parametrize("faults, retries", [
    (Faults(rate_limit_requests={3}, retry_after="5"), 1),   # token, page 1, then 429 rate_limit_exceeded
    (Faults(error_requests={2: 500}), 1),
    (Faults(error_requests={3: 503, 4: 503}), 2),
    (Faults(truncate_requests={2}), 1),
    (Faults(cut_requests={3}), 1),
])
def test_transient_faults_are_retried_and_counted_against_the_budget(fakes, collect, faults, retries):
    fake = fakes(videos(1, 150), faults=faults)
    manifest, rows = collect(fake, since="2026-02-15")
    assert (manifest.status, manifest.retries, len(rows)) == ("ok", retries, 150)
    assert manifest.requests == 2 + retries == fake.research_requests


def test_a_failed_run_resumes_with_search_id_and_cursor(fakes, collect):
    fake = fakes(videos(1, 350), faults=Faults(error_requests={n: 500 for n in range(4, 10)}))
    first, rows = collect(fake, run_id="r1", since="2026-02-15")
    assert first.status == "failed" and len(rows) == 200
    assert first.checkpoint["cursor"] == 200
    before = len(fake.requests_to(QUERY))
    second, rows = collect(fake, run_id="r1", since="2026-02-15")  # the retried task
    assert second.status == "ok" and numbers(rows) == list(range(1, 351))
    resumed = [q.json() for q in fake.requests_to(QUERY)[before:]]
    assert resumed[0]["cursor"] == 200 and resumed[0]["search_id"] == first.checkpoint["search_id"]
    assert second.duplicates == 0


def test_incremental_run_starts_at_the_watermark_day(fakes, collect, clock):
    fake = fakes(videos(1, 5, day="2026-02-28"))
    first, _ = collect(fake)  # first run: first_run_days back
    assert fake.windows[0] == ("20260222", "20260301")
    clock.now += timedelta(days=2)
    collect(fake, watermark=first.watermark_after)
    assert fake.windows[-1] == ("20260301", "20260303")


def comment(n, video_n, text="what a joke of a teacher #sackher", **fields):
    return {"id": 7400000000000000000 + n, "video_id": 7300000000000000000 + video_n, "text": text,
            "like_count": 1, "reply_count": 0, "parent_comment_id": None,
            "create_time": 1771600000 + n, **fields}


def test_comments_of_chosen_videos_become_posts_within_the_budget(fakes, tmp_path, options, sleeps):
    comments = {str(7300000000000000001): [comment(n, 1) for n in range(1, 151)],
                str(7300000000000000002): [comment(n, 2) for n in range(200, 203)],
                str(7300000000000000003): [comment(n, 3) for n in range(300, 302)]}
    fake = fakes(videos(1, 3), comments=comments)
    chosen = [{"post_id": str(7300000000000000000 + n), "url": f"https://www.tiktok.com/video/{n}"}
              for n in (1, 2, 3)]

    def run(run_id, budget):
        with PoliteClient(UA, sleep=sleeps.append) as client:
            manifest = tiktok.collect_comments(
                fake.url, chosen, staging_dir=tmp_path / "staging", run_id=run_id,
                pseudonym_key=KEY, user_agent=UA, client=client,
                options=options(tiktok_daily_requests=budget))
        [path] = find_manifests(tmp_path / "staging", run_id)
        return manifest, read_staged_posts(path)

    manifest, rows = run("c1", budget=3)   # video 1 has two pages: 2 + 1 requests
    assert manifest.status == "quota" and manifest.quota_hit and fake.research_requests == 3
    assert manifest.tag == tiktok.COMMENTS_TAG and manifest.requests == 3
    assert manifest.extra["comment_fetches"] == [{"post_id": chosen[0]["post_id"], "comments": 150},
                                                 {"post_id": chosen[1]["post_id"], "comments": 3}]
    assert len(rows) == 153 and all(r["platform"] == "tiktok" for r in rows)
    first = next(r for r in rows if r["post_id"] == str(7400000000000000001))
    assert first["parent_post_id"] == chosen[0]["post_id"] and first["hashtags"] == ["sackher"]
    assert first["text"] == "what a joke of a teacher #sackher" and first["author_key"] is None
    assert first["url"] == chosen[0]["url"]
    bodies = [r.json() for r in fake.requests_to("/v2/research/video/comment/list/")]
    assert bodies[0] == {"video_id": 7300000000000000001, "max_count": 100, "cursor": 0}
    assert bodies[1]["cursor"] == 100
    assert "text" in fake.requests_to("/v2/research/video/comment/list/")[0].query["fields"]
