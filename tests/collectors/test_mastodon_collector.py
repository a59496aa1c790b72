"""collect_tag against the offline Mastodon, one test per fault the collector handles."""
from __future__ import annotations

import socket
import time
from contextlib import ExitStack
from datetime import timedelta
from email.utils import format_datetime

import pytest

from collectors.http import PoliteClient, SourceError, parse_retry_after
from collectors.mastodon import collect_tag, html_to_text, id_order_key, status_to_post
from collectors.staging import POST_FIELDS, find_manifests, pseudonymise, read_staged_posts, utcnow
from fakes.mastodon import Faults, MastodonReplayServer, load_sample, make_status

TAG = "teachersoftiktok"
KEY = b"test-key"
UA = "tagwatch-tests/0 (+https://example.org/tagwatch)"


@pytest.fixture
def servers():
    """Start a replay server with `servers(statuses, faults)`; all are stopped after the test."""
    with ExitStack() as stack:
        def start(statuses=(), faults=None):
            server = MastodonReplayServer(list(statuses), faults=faults, max_lifetime=30)
            return stack.enter_context(server)
        yield start


@pytest.fixture
def client(sleeps):
    """A client whose waits are recorded instead of slept."""
    with PoliteClient(UA, backoff_base=0.5, sleep=sleeps.append) as polite:
        yield polite


@pytest.fixture
def collect(tmp_path, client):
    """collect_tag into tmp_path; returns (manifest, rows written)."""
    runs = iter(range(1, 1000))

    def run(server_or_url, tag=TAG, **kwargs):
        url = getattr(server_or_url, "url", server_or_url)
        kwargs.setdefault("client", client)
        kwargs.setdefault("pseudonym_key", KEY)
        manifest = collect_tag(url, tag, staging_dir=tmp_path, run_id=f"run{next(runs)}",
                               user_agent=UA, **kwargs)
        [manifest_path] = find_manifests(tmp_path, manifest.run_id)
        return manifest, read_staged_posts(manifest_path)
    return run


def statuses(first, last, tags=(TAG,)):
    return [make_status(i, tags) for i in range(first, last + 1)]


def timeline(server):
    """The tag-timeline requests the server received (the tag-history request left out)."""
    return [(path, q) for path, q in server.requests if path.startswith("/api/v1/timelines/")]


def ids(rows):
    return sorted(int(r["source_post_id"]) for r in rows)


# -- pagination ----------------------------------------------------------------

def test_link_pagination_collects_every_post_once(servers, collect):
    server = servers(statuses(1, 95))
    manifest, rows = collect(server)
    assert ids(rows) == list(range(1, 96))
    assert (manifest.status, manifest.pages, manifest.received, manifest.duplicates) == ("ok", 4, 95, 0)
    assert manifest.watermark_after == "95"
    assert manifest.asked == {"instance": server.url, "tag": TAG, "limit": 40, "min_id": None,
                              "max_pages": 10000}
    assert [q.get("max_id") for _, q in timeline(server)] == [None, "56", "16", "1"]


def test_sample_tag_collected_completely_through_small_pages(servers, collect):
    sample = load_sample()
    expected = sorted(int(s["id"]) for s in sample
                      if any(t["name"] == "exposeyourteacher" for t in s["tags"]))
    manifest, rows = collect(servers(sample, Faults(page_size_cap=10)), "#ExposeYourTeacher")
    assert ids(rows) == expected
    assert manifest.pages == len(expected) // 10 + 2  # full pages, the short one, the empty one
    assert all(set(row) == set(POST_FIELDS) for row in rows)


def test_items_repeated_across_pages_are_written_once_and_counted(servers, collect):
    server = servers(statuses(1, 35), Faults(page_size_cap=10, overlap=2))
    manifest, rows = collect(server)
    assert ids(rows) == list(range(1, 36))
    assert manifest.duplicates == manifest.received - 35 > 0
    assert manifest.status == "ok"
    # The last page holds only repeats and links back to itself: the loop guard ends the walk.
    requested = [tuple(sorted(q.items())) for _, q in server.requests]
    assert len(requested) == len(set(requested))


def test_max_pages_reports_capped(servers, collect):
    manifest, rows = collect(servers(statuses(1, 35), Faults(page_size_cap=10)), max_pages=2)
    assert (manifest.status, manifest.pages, len(rows)) == ("capped", 2, 20)


# -- incremental runs ----------------------------------------------------------

def test_second_run_with_watermark_adds_nothing(servers, collect):
    server = servers(statuses(1, 50))
    first, _ = collect(server)
    second, rows = collect(server, watermark=first.watermark_after)
    assert rows == [] and second.status == "ok"
    assert second.watermark_before == second.watermark_after == "50"
    assert second.asked["min_id"] == "50"
    assert timeline(server)[-1][1] == {"limit": "40", "min_id": "50"}


def test_run_after_new_posts_appear_collects_exactly_those(servers, collect):
    server = servers(statuses(1, 50))
    first, _ = collect(server)
    for status in statuses(51, 140):
        server.add_status(status)
    second, rows = collect(server, watermark=first.watermark_after)
    assert ids(rows) == list(range(51, 141))
    assert second.watermark_after == "140"
    assert second.duplicates == 0
    # Forward in time from the watermark, following rel="prev"; the first page was
    # full, so one request back from its oldest post checks there is no gap.
    assert [q.get("min_id") for _, q in timeline(server)[-5:-1]] == ["50", "90", "130", "140"]
    assert timeline(server)[-1][1].get("max_id") == "51"


def test_a_server_reading_min_id_like_since_id_leaves_no_gap(servers, collect):
    server = servers(statuses(1, 50), Faults(min_id_as_since_id=True))
    first, _ = collect(server)
    for status in statuses(51, 140):
        server.add_status(status)
    second, rows = collect(server, watermark=first.watermark_after)
    assert ids(rows) == list(range(51, 141))
    assert second.watermark_after == "140"


def test_pagination_without_link_headers_follows_the_ids(servers, collect):
    server = servers(statuses(1, 130), Faults(no_link_header=True))
    first, rows = collect(server)
    assert ids(rows) == list(range(1, 131))
    for status in statuses(131, 200):
        server.add_status(status)
    second, rows = collect(server, watermark=first.watermark_after)
    assert ids(rows) == list(range(131, 201))


def test_incremental_run_drops_what_is_not_newer_than_the_watermark(servers, collect):
    server = servers(statuses(1, 60), Faults(overlap=3))
    manifest, rows = collect(server, watermark="55")
    assert ids(rows) == [56, 57, 58, 59, 60]  # 53..55 were served again and dropped
    assert manifest.watermark_after == "60"


def test_ids_compare_numerically():
    assert id_order_key("99") < id_order_key("100") < id_order_key("107240230944768000")


# -- retries and failures --------------------------------------------------------

def test_rate_limit_waits_as_long_as_retry_after_asks(servers, collect, sleeps):
    manifest, rows = collect(servers(statuses(1, 50), Faults(rate_limit_requests={2}, retry_after="7")))
    assert sleeps == [7.0]
    assert (manifest.status, manifest.retries, len(rows)) == ("ok", 1, 50)


def test_retry_after_as_http_date(servers, collect, sleeps):
    when = format_datetime(utcnow() + timedelta(seconds=30), usegmt=True)
    manifest, _ = collect(servers(statuses(1, 3), Faults(rate_limit_requests={1}, retry_after=when)))
    assert manifest.status == "ok"
    assert 25 <= sleeps[0] <= 31


def test_retry_after_longer_than_allowed_fails_clearly(servers, collect):
    server = servers(statuses(1, 3), Faults(rate_limit_requests={1}, retry_after="3600"))
    with PoliteClient(UA, max_retry_after=900, sleep=pytest.fail) as client:
        manifest, rows = collect(server, client=client)
    assert manifest.status == "failed" and rows == []
    assert "3600 s" in manifest.error and "900 s" in manifest.error and server.url in manifest.error


def test_retry_after_is_really_slept(servers, collect):
    server = servers(statuses(1, 3), Faults(rate_limit_requests={1}, retry_after="1"))
    with PoliteClient(UA) as client:
        started = time.monotonic()
        manifest, rows = collect(server, client=client)
        elapsed = time.monotonic() - started
    assert manifest.status == "ok" and len(rows) == 3
    assert elapsed >= 1.0


def test_server_error_then_success(servers, collect, sleeps):
    manifest, rows = collect(servers(statuses(1, 50), Faults(error_requests={1: 500})))
    assert (manifest.status, manifest.retries, len(rows)) == ("ok", 1, 50)
    assert sleeps == [0.5]  # backoff_base


def test_503_honours_retry_after(servers, collect, sleeps):
    manifest, _ = collect(servers(statuses(1, 5), Faults(error_requests={1: 503}, retry_after="4")))
    assert manifest.status == "ok" and sleeps == [4.0]


def test_backoff_grows_exponentially_up_to_the_cap(servers, sleeps):
    server = servers(statuses(1, 5), Faults(error_requests={n: 502 for n in range(1, 5)}))
    with PoliteClient(UA, backoff_base=1, backoff_cap=5, sleep=sleeps.append, configured=(server.url,)) as client:
        client.get_json(f"{server.url}/api/v1/timelines/tag/{TAG}")
    assert sleeps == [1, 2, 4, 5]


def test_truncated_body_then_success(servers, collect):
    manifest, rows = collect(servers(statuses(1, 50), Faults(truncate_requests={1})))
    assert (manifest.status, manifest.retries, len(rows)) == ("ok", 1, 50)


def test_connection_cut_mid_body_then_success(servers, collect):
    manifest, rows = collect(servers(statuses(1, 50), Faults(cut_requests={2})))
    assert (manifest.status, manifest.retries, len(rows)) == ("ok", 1, 50)


def test_truncated_body_every_time_fails_clearly(servers, collect, sleeps):
    server = servers(statuses(1, 5), Faults(truncate_requests=set(range(1, 100))))
    manifest, rows = collect(server)
    assert manifest.status == "failed" and rows == []
    assert manifest.retries == 5 and len(sleeps) == 5
    assert "gave up after 6 attempts" in manifest.error
    assert "not valid JSON" in manifest.error
    assert f"{server.url}/api/v1/timelines/tag/{TAG}" in manifest.error


def test_unreachable_server_fails_clearly(collect):
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    manifest, rows = collect(f"http://127.0.0.1:{port}/")
    assert manifest.status == "failed" and rows == []
    assert manifest.error == f"could not reach 127.0.0.1:{port}: connection refused"
    assert manifest.retries == 0  # nobody listens: another try cannot help
    assert manifest.source == f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("status", [401, 403, 404])
def test_client_errors_fail_at_once(servers, collect, sleeps, status):
    server = servers(statuses(1, 5), Faults(error_requests={1: status}))
    manifest, rows = collect(server)
    assert manifest.status == "failed" and rows == [] and sleeps == []
    assert f"HTTP {status}" in manifest.error and f"/api/v1/timelines/tag/{TAG}" in manifest.error
    assert len(server.requests) == 1


def test_failure_midway_keeps_the_pages_already_written(servers, collect):
    server = servers(statuses(1, 95), Faults(error_requests={2: 404}))
    manifest, rows = collect(server)
    assert manifest.status == "failed" and manifest.pages == 1 and len(rows) == 40


def test_a_body_that_is_not_a_list_fails(servers, collect, client, monkeypatch):
    server = servers(statuses(1, 5))
    real_get_json = client.get_json

    def get_an_object(url, params=None, headers=None):
        return {"error": "nope"}, real_get_json(url, params)[1]
    monkeypatch.setattr(client, "get_json", get_an_object)
    manifest, _ = collect(server)
    assert manifest.status == "failed" and "not a list" in manifest.error


def test_retries_are_counted_per_task_on_a_shared_client(servers, collect):
    server = servers(statuses(1, 5), Faults(error_requests={1: 500}))
    first, _ = collect(server)
    second, _ = collect(server)
    assert (first.retries, second.retries) == (1, 0)


def test_parse_retry_after():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: no wait


def test_client_errors_name_the_url(servers):
    server = servers()
    with PoliteClient(UA, configured=(server.url,)) as client, pytest.raises(SourceError, match=r"HTTP 404.*Record not found"):
        client.get_json(f"{server.url}/api/v1/statuses/1")


def test_client_sends_the_honest_user_agent():
    with PoliteClient(UA) as client:
        assert client.session.headers["User-Agent"] == UA
    with pytest.raises(ValueError):
        PoliteClient("")


# -- tags ------------------------------------------------------------------------

@pytest.mark.parametrize("given", ["#TeachersOfTikTok", "teachersoftiktok", " #teachersoftiktok "])
def test_tag_forms_are_normalised(servers, collect, given):
    server = servers(statuses(1, 3))
    manifest, rows = collect(server, given)
    assert manifest.tag == TAG and len(rows) == 3
    assert server.requests[0][0] == f"/api/v1/timelines/tag/{TAG}"


def test_tag_is_url_quoted_in_the_path(servers, collect):
    server = servers(statuses(1, 3, tags=("café",)))
    manifest, rows = collect(server, "#Café")
    assert len(rows) == 3
    assert server.requests[0][0] == "/api/v1/timelines/tag/caf%C3%A9"


# -- mapping ---------------------------------------------------------------------

def test_html_becomes_plain_text():
    html = ('<p>Thanks &amp; well done <span class="h-card"><a href="https://a.example/@mo" '
            'class="u-url mention">@<span>mo</span></a></span>!<br />Line two &quot;quoted&quot; '
            '<a href="https://a.example/tags/TeacherLife" class="mention hashtag" rel="tag">#<span>'
            'TeacherLife</span></a></p><p>see <a href="https://news.example/x"><span class="invisible">'
            'https://</span><span class="ellipsis">news.example/x</span></a></p>')
    assert html_to_text(html) == ("Thanks & well done @mo!\nLine two \"quoted\" #TeacherLife\n"
                                  "see https://news.example/x")


def test_markup_in_content_stays_inert_text():
    escaped = "<p>&lt;script&gt;alert(1)&lt;/script&gt; hi</p>"
    assert html_to_text(escaped) == "<script>alert(1)</script> hi"
    raw = "<p>before<script>alert(1)</script> after</p>"
    assert html_to_text(raw) == "beforealert(1) after"


def test_status_maps_to_a_staging_post():
    status = make_status(7, ("TeachersOfTikTok",), content="<p>hello #Extra and #1 not a tag</p>",
                         spoiler_text="school drama", replies_count=1, reblogs_count=2,
                         favourites_count=3, language="en")
    post = status_to_post(status, "https://a.example", KEY, "2021-12-01T00:00:00+00:00")
    assert set(post) == set(POST_FIELDS)
    assert post["post_id"] == status["uri"] and post["url"] == status["url"]
    assert post["text"] == "CW: school drama\n\nhello #Extra and #1 not a tag"
    assert post["hashtags"] == ["teachersoftiktok", "extra"]
    counts = (post["reply_count"], post["share_count"], post["like_count"], post["view_count"])
    assert counts == (1, 2, 3, None)
    assert (post["source"], post["source_post_id"]) == ("https://a.example", "7")
    assert post["created_at"] == status["created_at"]
    assert post["platform"] == "mastodon" and post["lang"] == "en"


def test_a_reblog_is_stored_as_the_post_it_shares():
    original = make_status(5, username="author")
    boost = make_status(9, username="booster", reblog=original, content="")
    post = status_to_post(boost, "https://a.example", KEY, "now")
    assert post["post_id"] == original["uri"] and post["source_post_id"] == "5"
    assert post["author_key"] == pseudonymise(KEY, "mastodon", original["account"]["url"])


def test_post_id_falls_back_to_url_then_instance_and_id():
    without_uri = make_status(3, uri=None)
    assert status_to_post(without_uri, "https://a.example", KEY, "now")["post_id"] == without_uri["url"]
    bare = make_status(3, uri=None, url=None)
    post = status_to_post(bare, "https://a.example", KEY, "now")
    assert post["post_id"] == "https://a.example/api/v1/statuses/3" and post["url"] is None


def test_author_without_url_is_keyed_by_acct_at_instance():
    local = make_status(1, username="mo")
    local["account"] = {"acct": "mo"}
    remote = make_status(2, username="mo")
    remote["account"] = {"acct": "mo@b.example"}
    keys = {status_to_post(s, "https://a.example", KEY, "now")["author_key"] for s in (local, remote)}
    assert keys == {pseudonymise(KEY, "mastodon", ref) for ref in ("mo@a.example", "mo@b.example")}


def test_pseudonyms_hide_handles_are_stable_and_depend_on_the_key(servers, collect):
    posts = [make_status(i, username="ms_halloway_fan" if i % 2 else "other_person")
             for i in range(1, 11)]
    server = servers(posts)
    _, rows = collect(server)
    _, rows_other_key = collect(server, pseudonym_key=b"another-key")
    by_author = {}
    for row in rows:
        # Only the links (status URI and URL) name the account; no other field may.
        assert not [k for k, v in row.items() if k not in ("post_id", "url") and "halloway" in str(v)]
        by_author.setdefault(int(row["source_post_id"]) % 2, set()).add(row["author_key"])
    assert all(len(keys) == 1 for keys in by_author.values())       # stable per author
    assert len({k for keys in by_author.values() for k in keys}) == 2  # distinct authors differ
    assert not {r["author_key"] for r in rows} & {r["author_key"] for r in rows_other_key}


class SharedClock:
    """Time shared by the client and the replay: it moves only when the client sleeps."""

    def __init__(self):
        from datetime import datetime, timezone
        self.now = datetime(2026, 3, 1, 12, 0, 10, tzinfo=timezone.utc)
        self.sleeps: list[float] = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


def test_published_rate_limit_is_waited_out_before_it_is_hit(collect):
    clock = SharedClock()
    # 10 requests per 5 minutes; 800 statuses = 20 pages of 40 (+ the end of the timeline
    # and the tag history): 8 requests per window, 2 kept in reserve
    with MastodonReplayServer(statuses(1, 800), rate_limit=10, clock=clock, max_lifetime=30) as server, \
            PoliteClient(UA, sleep=clock.sleep, clock=clock, rate_limit_reserve=2) as client:
        manifest, rows = collect(server, client=client)
        assert server.rate_limited == 0  # never refused: the client waited before the limit
        sent = len(server.requests)
    assert manifest.status == "ok" and ids(rows) == list(range(1, 801)) and manifest.retries == 0
    # windows are aligned on the epoch: the first reset is at 12:05:00, 290 s after the start
    assert clock.sleeps == [290.0] + [300.0] * ((sent - 1) // 8 - 1)
    assert manifest.extra["rate_limit_waits"] == len(clock.sleeps) >= 2


def test_rate_limit_reset_formats():
    from datetime import datetime, timezone

    from collectors.http import parse_rate_limit_reset
    now = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    assert parse_rate_limit_reset("2026-03-01T12:05:00.000Z", now) == datetime(2026, 3, 1, 12, 5, tzinfo=timezone.utc)
    assert parse_rate_limit_reset("1772366700", now) == datetime(2026, 3, 1, 12, 5, tzinfo=timezone.utc)
    assert parse_rate_limit_reset("30", now) == datetime(2026, 3, 1, 12, 0, 30, tzinfo=timezone.utc)
    assert parse_rate_limit_reset("soon", now) is None and parse_rate_limit_reset(None, now) is None
