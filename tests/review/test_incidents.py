"""One incident across platforms: the same text, the same linked URL or video, or a
near-duplicate text on another platform makes the new case join the earlier case's incident;
a distinct post starts its own. Posts go in as collection puts them (fakes' API objects ->
the collectors' conversions -> staging -> loader), cases open as after a scoring run."""
from __future__ import annotations

import json
import time

import pytest

from incidentkit import bluesky_post, cli, mastodon_post, open_cases, tiktok_post
from review import cases as cs
from review import incidents as inc
from warehouse.db import session

ALLEGATION = "Mr Invented at Fernbrook Academy should be sacked, everyone share this before it is deleted"


def incident(con, case_id):
    return cs.show(con, case_id)["incident"]


def test_the_same_text_on_two_platforms_is_one_incident(settings):
    a, b = open_cases(settings, [mastodon_post(1, ALLEGATION),
                                 bluesky_post(2, "  mr invented AT Fernbrook Academy should be sacked, "
                                                 "everyone share this before it is deleted ")])
    with session(settings.db_path) as con:
        first, second = sorted((a, b))
        assert incident(con, first)["reason"] == "first"
        joined = incident(con, second)
        assert (joined["incident_id"], joined["matched_case"], joined["reason"]) == (first, first, "text_hash")
        assert (joined["cases"], joined["platforms"]) == (2, 2)
        assert [s["case_id"] for s in joined["siblings"]] == [first]
        assert {s["platform"] for s in incident(con, first)["siblings"]} == {cs.show(con, second)["platform"]}


def test_the_same_linked_url_and_the_same_video_join_an_incident(settings):
    video = tiktok_post(5, "wait for the end #teachersoftiktok")
    video_id = video["post_id"]
    posts = [video,
             mastodon_post(6, f"look what this school allows https://www.tiktok.com/@invented_5/video/{video_id}"
                              "?is_from_webapp=1 disgusting"),
             bluesky_post(7, "read the whole thread https://news.example.org/story/123?utm_source=share"),
             mastodon_post(8, "the headteacher knew: https://www.news.example.org/story/123/ #teachers"),
             bluesky_post(9, "everyone go to https://news.example.org/ now")]   # a bare domain: no key
    tiktok_case, linking, story_a, story_b, bare = open_cases(settings, posts)
    with session(settings.db_path) as con:
        assert incident(con, linking)["incident_id"] == incident(con, tiktok_case)["incident_id"]
        assert {incident(con, linking)["reason"], incident(con, tiktok_case)["reason"]} == {"first", "video"}
        assert incident(con, story_a)["incident_id"] == incident(con, story_b)["incident_id"]
        assert "link" in {incident(con, story_a)["reason"], incident(con, story_b)["reason"]}
        assert incident(con, bare)["reason"] == "first" and incident(con, bare)["siblings"] == []
        stored = [r[0] for r in con.execute("SELECT key FROM case_content_keys").fetchall()]
    assert all(isinstance(k, int) for k in stored)   # hashes, never the links


def test_a_near_duplicate_on_another_platform_joins_and_a_distinct_post_does_not(settings):
    original = ("Mr Invented at Fernbrook Academy was caught shouting at year 7 pupils again "
                "and nobody at the school will do anything about it")
    reupload = ("mr invented at fernbrook academy was caught SHOUTING at year 7 pupils again!! "
                "and nobody at the school will do a thing #fyp #teachersoftiktok")
    distinct = ("Fernbrook Academy year 7 pupils raised money for the library at the summer fair "
                "and the school thanked every family")
    a, b, c = open_cases(settings, [bluesky_post(1, original), tiktok_post(2, reupload),
                                    mastodon_post(3, distinct)])
    similarity = inc.jaccard(inc.shingles(original), inc.shingles(reupload))
    assert inc.NEAR_DUPLICATE <= similarity < 1
    with session(settings.db_path) as con:
        ia, ib, ic = incident(con, a), incident(con, b), incident(con, c)
    assert ia["incident_id"] == ib["incident_id"] != ic["incident_id"]
    later = ia if ia["reason"] == "near_duplicate" else ib
    assert later["reason"] == "near_duplicate" and abs(later["similarity"] - similarity) < 1e-3
    assert (ic["reason"], ic["cases"], ic["siblings"]) == ("first", 1, [])


def test_short_texts_are_never_near_duplicates_and_odd_links_are_no_keys():
    assert inc.shingles("this teacher is awful") == set()
    for raw in ("http://[abc", "javascript:alert(1)", "https://localhost/x", "https://example.com",
                "https://example.com/", "ftp://example.com/file"):
        assert inc.link_key(raw) is None, raw
    assert inc.link_key("https://youtu.be/dQw4w9WgXcQ?si=x") == inc.link_key(
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&feature=share") == ("video", "youtube:dQw4w9WgXcQ")
    huge = "word " * 200_000 + "https://example.com/" + "a" * 100_000
    started = time.monotonic()
    assert len(inc.content_keys({"platform": "web", "post_id": "x", "text": huge, "url": None})) > 1
    assert time.monotonic() - started < 5
    many = " ".join(f"https://example.com/page/{i}" for i in range(10_000))
    keys = inc.content_keys({"platform": "web", "post_id": "y", "text": many, "url": None})
    assert sum(kind == "link" for kind, _ in keys) == inc.MAX_LINKS


@pytest.mark.slow
def test_cases_opened_before_incidents_existed_get_them_by_the_backfill(settings):
    text = "Ms Madeup from Oakfield Primary is a disgrace to teaching and should be reported"
    ids = open_cases(settings, [mastodon_post(1, text), bluesky_post(2, text), tiktok_post(3, "unrelated clip")])
    with session(settings.db_path) as con:
        con.execute("DELETE FROM case_incidents")     # as a warehouse from before migration 017
        con.execute("DELETE FROM case_content_keys")
        assert incident(con, ids[0]) is None
    done = cli(settings, "case", "incidents", "--backfill", "--format", "json")
    assert "3 case(s) given an incident" in done.stderr
    [listed] = json.loads(done.stdout)   # incidents of more than one case only
    assert (listed["cases"], listed["platforms"], listed["matched_by"]) == (2, 2, "text_hash")
    assert listed["case_ids"] == " ".join(str(i) for i in sorted(ids[:2]))
    with session(settings.db_path) as con:
        assert inc.assign(con) == 0
        assert incident(con, ids[0])["incident_id"] == incident(con, ids[1])["incident_id"]
        assert incident(con, ids[2])["cases"] == 1
    shown = cli(settings, "case", "show", str(max(ids[:2]))).stdout
    assert f"incident {min(ids[:2])}: 2 case(s) on 2 platform(s); joined by text_hash" in shown


def test_work_per_new_case_is_bounded(settings):
    """Many earlier copies: a new copy compares with at most MAX_CANDIDATES of them per kind."""
    text = "Mr Invented at Fernbrook Academy should be sacked, share this with every parent you know"
    n = inc.MAX_CANDIDATES * 3
    open_cases(settings, [mastodon_post(i, text) for i in range(1, n + 1)])
    with session(settings.db_path) as con:
        assert con.execute("SELECT count(DISTINCT incident_id), count(*) FROM case_incidents").fetchone() == (1, n)
    [new] = open_cases(settings, [bluesky_post(99, text)], run_id="later")
    with session(settings.db_path) as con:
        joined = incident(con, new)
        assert joined["reason"] == "text_hash" and joined["cases"] == n + 1
        sharing = con.execute(
            "SELECT count(DISTINCT k.case_id) FROM case_content_keys m JOIN case_content_keys k USING (kind, key) "
            "WHERE m.case_id = ? AND k.case_id < m.case_id", [new]).fetchone()[0]
        compared = inc.candidates(con, [new])
    assert sharing == n   # every earlier copy shares its keys ...
    per_kind = {}
    for _, kind, _ in compared:
        per_kind[kind] = per_kind.get(kind, 0) + 1
    assert per_kind and max(per_kind.values()) == inc.MAX_CANDIDATES   # ... but only so many are compared


def test_an_escalation_pack_includes_the_sibling_cases(settings, tmp_path):
    from pypdf import PdfReader

    from review import escalation

    original = ("Mr Invented at Fernbrook Academy was caught shouting at year 7 pupils again "
                "and nobody at the school will do anything about it")
    video = tiktok_post(4, original)
    a, b, c = open_cases(settings, [mastodon_post(1, original), bluesky_post(2, original + " disgusting"), video])
    with session(settings.db_path) as con:
        cs.review(con, a, "confirm", "ana", category="allegation", target_role="teacher", severity="high")
        pack = escalation.build(con, a)
        json_path, pdf_path = escalation.write_pack(con, a, tmp_path)
    incident = pack["incident"]
    assert (incident["cases"], incident["platforms"]) == (3, 3)
    assert [s["case_id"] for s in incident["siblings"]] == sorted([b, c])
    by_platform = {s["platform"]: s for s in incident["siblings"]}
    assert by_platform["tiktok"]["url"].endswith(f"/video/{video['post_id']}")
    assert by_platform["bluesky"]["reason"] in ("near_duplicate", "text_hash", "first")
    assert by_platform["tiktok"]["state"] == "DETECTED"
    assert '"siblings"' in json_path.read_text(encoding="utf-8")
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(str(pdf_path)).pages).split())
    assert f"incident {incident['incident_id']} (3 cases on 3 platforms)" in text
    assert f"case {c} (tiktok, DETECTED" in text
