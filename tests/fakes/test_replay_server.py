"""The offline Mastodon must paginate like the real one, or collector tests prove nothing."""
from __future__ import annotations

import json
import time

import pytest
import requests

from fakes.mastodon import Faults, MastodonReplayServer, load_sample, make_status

TAG = "teachersoftiktok"


@pytest.fixture
def server():
    """Statuses 1..50 under TAG, plus 51..55 under another tag only."""
    statuses = [make_status(i) for i in range(1, 51)]
    statuses += [make_status(i, ("other",)) for i in range(51, 56)]
    with MastodonReplayServer(statuses, max_lifetime=30) as srv:
        yield srv


def timeline(srv, tag=TAG, **params):
    response = requests.get(f"{srv.url}/api/v1/timelines/tag/{tag}", params=params, timeout=5)
    response.raise_for_status()
    return [int(s["id"]) for s in response.json()], response


def test_newest_first_with_default_and_maximum_limit(server):
    ids, _ = timeline(server)
    assert ids == list(range(50, 30, -1))  # default limit 20
    ids, _ = timeline(server, limit=100)
    assert ids == list(range(50, 10, -1))  # capped at 40


def test_max_id_returns_strictly_older(server):
    ids, _ = timeline(server, limit=5, max_id=20)
    assert ids == [19, 18, 17, 16, 15]


def test_since_id_returns_the_newest_above_it(server):
    ids, _ = timeline(server, limit=5, since_id=10)
    assert ids == [50, 49, 48, 47, 46]
    ids, _ = timeline(server, limit=5, since_id=47)
    assert ids == [50, 49, 48]


def test_min_id_returns_the_statuses_immediately_newer_newest_first(server):
    ids, _ = timeline(server, limit=5, min_id=10)
    assert ids == [15, 14, 13, 12, 11]
    ids, _ = timeline(server, limit=5, min_id=10, max_id=13)
    assert ids == [12, 11]
    ids, _ = timeline(server, min_id=50)
    assert ids == []


def test_link_header_is_absolute_and_carries_limit(server):
    ids, response = timeline(server, limit=5, max_id=20)
    links = response.links
    assert links["next"]["url"] == f"{server.url}/api/v1/timelines/tag/{TAG}?limit=5&max_id=15"
    assert links["prev"]["url"] == f"{server.url}/api/v1/timelines/tag/{TAG}?limit=5&min_id=19"


def test_no_link_header_on_an_empty_page(server):
    ids, response = timeline(server, max_id=1)
    assert ids == [] and "Link" not in response.headers


def test_following_next_walks_back_and_prev_walks_forward(server):
    seen, url = [], f"{server.url}/api/v1/timelines/tag/{TAG}?limit=15"
    while url:
        response = requests.get(url, timeout=5)
        seen += [int(s["id"]) for s in response.json()]
        url = response.links.get("next", {}).get("url")
    assert seen == list(range(50, 0, -1))

    seen, url = [], f"{server.url}/api/v1/timelines/tag/{TAG}?limit=15&min_id=12"
    while url:
        response = requests.get(url, timeout=5)
        seen += sorted(int(s["id"]) for s in response.json())
        url = response.links.get("prev", {}).get("url")
    assert seen == list(range(13, 51))


def test_tag_match_is_case_insensitive_and_exact(server):
    ids, _ = timeline(server, tag="TeachersOfTikTok", limit=40)
    assert len(ids) == 40 and max(ids) == 50
    ids, _ = timeline(server, tag="teachers")
    assert ids == []


def test_add_status_appears_and_requests_are_logged(server):
    server.add_status(make_status(60))
    ids, _ = timeline(server, limit=2)
    assert ids == [60, 50]
    assert server.requests[-1] == (f"/api/v1/timelines/tag/{TAG}", {"limit": "2"})


def test_bad_id_parameter_is_a_400(server):
    response = requests.get(f"{server.url}/api/v1/timelines/tag/{TAG}", params={"max_id": "abc"},
                            timeout=5)
    assert response.status_code == 400


def test_status_lookup_and_404_when_absent(server):
    response = requests.get(f"{server.url}/api/v1/statuses/7", timeout=5)
    assert response.status_code == 200 and response.json()["id"] == "7"
    response = requests.get(f"{server.url}/api/v1/statuses/999", timeout=5)
    assert response.status_code == 404 and response.json() == {"error": "Record not found"}


def test_tag_entity_history_counts_uses_per_day():
    statuses = [make_status(i, created_at=f"2021-11-{day}T10:00:0{i}.000Z", username=user)
                for i, (day, user) in enumerate([("20", "a"), ("20", "a"), ("20", "b"), ("18", "c")])]
    with MastodonReplayServer(statuses, max_lifetime=30) as srv:
        tag = requests.get(f"{srv.url}/api/v1/tags/{TAG.upper()}", timeout=5).json()
        missing = requests.get(f"{srv.url}/api/v1/tags/nothing", timeout=5)
    assert tag["name"] == TAG
    assert len(tag["history"]) == 7
    assert tag["history"][0] == {"day": "1637366400", "uses": "3", "accounts": "2"}  # 2021-11-20
    assert tag["history"][1]["uses"] == "0"
    assert tag["history"][2] == {"day": "1637193600", "uses": "1", "accounts": "1"}
    assert missing.status_code == 404


def test_faults_by_request_number():
    faults = Faults(rate_limit_requests={1}, error_requests={2: 500, 3: 503}, truncate_requests={4},
                    cut_requests={5}, retry_after="3")
    with MastodonReplayServer([make_status(1)], faults=faults, max_lifetime=30) as srv:
        url = f"{srv.url}/api/v1/timelines/tag/{TAG}"
        first, second, third, fourth = (requests.get(url, timeout=5) for _ in range(4))
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.get(url, timeout=5)
        sixth = requests.get(url, timeout=5)
    assert (first.status_code, first.headers["Retry-After"]) == (429, "3")
    assert second.status_code == 500 and "Retry-After" not in second.headers
    assert (third.status_code, third.headers["Retry-After"]) == (503, "3")
    assert fourth.status_code == 200
    with pytest.raises(ValueError):
        json.loads(fourth.content)
    assert [s["id"] for s in sixth.json()] == ["1"]


def test_page_size_cap_and_overlap():
    statuses = [make_status(i) for i in range(1, 21)]
    faults = Faults(page_size_cap=5, overlap=2)
    with MastodonReplayServer(statuses, faults=faults, max_lifetime=30) as srv:
        first, _ = timeline(srv, limit=40)
        older, _ = timeline(srv, limit=40, max_id=16)
        newer, _ = timeline(srv, limit=40, min_id=5)
    assert first == [20, 19, 18, 17, 16]
    assert older == [17, 16, 15, 14, 13, 12, 11]  # the last 2 of the page before, then 5 new
    assert newer == [10, 9, 8, 7, 6, 5, 4]          # 5 new, then the 2 the client came from


def test_server_stops_itself_after_max_lifetime():
    srv = MastodonReplayServer([make_status(1)], max_lifetime=0.2).start()
    url = srv.url
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/api/v1/statuses/1", timeout=1)
        except requests.ConnectionError:
            break
        time.sleep(0.05)
    else:
        srv.stop()
        pytest.fail("server still running after its max_lifetime")
    srv.stop()  # stopping twice is harmless


def test_sample_is_a_valid_timeline():
    sample = load_sample()
    ids = [int(s["id"]) for s in sample]
    assert 140 <= len(sample) <= 160
    assert ids == sorted(set(ids))
    for status in sample:
        assert status["uri"].startswith("https://") and status["tags"]
        assert status["created_at"].startswith("2021-11-")
        assert {"id", "username", "acct", "url", "display_name"} <= set(status["account"])
    assert sum(len(s["tags"]) >= 2 for s in sample) >= 10


def test_sample_matches_its_generator():
    import make_sample  # scripts/make_sample.py

    assert make_sample.build() == load_sample()
