"""The resurfacing radar as a page of the review app: login required, hostile tags are text,
and an analyst's accept through the form puts the tag on the watchlist (viewers only read)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from review import users
from webkit import PASSWORD, csrf, login
from warehouse import queries
from warehouse.db import session
from webapp.app import create_app

HOSTILE_TAG = '"><img src=x onerror=alert(1)>dev1ous_lick'
HOSTILE_PROPOSAL = "<script>alert(2)</script>slick"


@pytest.fixture
def radar_db(settings):
    now = datetime.now(timezone.utc)
    with session(settings.db_path) as con:
        users.add_user(con, "ana", "analyst", PASSWORD)
        users.add_user(con, "una", "viewer", PASSWORD)
        queries.watchlist_add(con, "deviouslick", "banned")
        # What a platform could hand us: a tag that is markup. Stored as seen.
        con.execute("INSERT INTO posts (platform, post_id, url, text, created_at, hashtags, source, "
                    "source_post_id, first_seen_at, last_seen_at) VALUES "
                    "('tiktok', 'v1', 'https://t.example/v1', 'x', ?, [?], 'https://t.example', 'v1', ?, ?)",
                    [now, HOSTILE_TAG, now - timedelta(hours=2), now])
        con.execute("INSERT INTO tag_matches VALUES (?, 'deviouslick', 'deviouslick', "
                    "'digits as letters<b>!</b>', 'fp', ?)", [HOSTILE_TAG, now])
        for tag, spelling in (("schoolprank", "schoolprank"), ("hostile", HOSTILE_PROPOSAL)):
            con.execute("INSERT INTO tag_proposals (tag, spelling, status, posts, support, lift, previous_posts, "
                        "first_proposed_at, updated_at) VALUES (?, ?, 'proposed', 10, 8, 4.0, 1, ?, ?)",
                        [tag, spelling, now, now])
    return settings.db_path


def test_the_page_needs_a_login(radar_db):
    client = TestClient(create_app(radar_db), follow_redirects=False)
    r = client.get("/resurfacing")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = client.post("/resurfacing/proposals", data={"tag": "schoolprank", "decision": "accept"})
    assert r.status_code == 401
    with session(radar_db) as con:
        assert con.execute("SELECT count(*) FROM watchlist").fetchone()[0] == 1


def test_hostile_tags_render_as_text_and_the_page_is_in_the_navigation(radar_db):
    client = TestClient(create_app(radar_db))
    login(client, "una")
    assert 'href="/resurfacing"' in client.get("/").text
    page = client.get("/resurfacing?since=all")
    assert page.status_code == 200
    assert "<img src=x" not in page.text and "<script>alert(2)" not in page.text and "<b>!" not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;dev1ous_lick" in page.text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;slick" in page.text
    assert "#deviouslick" in page.text and "tiktok" in page.text
    assert 'action="/resurfacing/proposals"' not in page.text  # viewers see no decision forms


def test_an_analyst_accepts_and_rejects_through_the_form(radar_db):
    client = TestClient(create_app(radar_db))
    token = login(client, "ana")
    page = client.get("/resurfacing")
    assert page.text.count('action="/resurfacing/proposals"') == 4
    assert client.post("/resurfacing/proposals", data={"tag": "schoolprank", "decision": "accept"}).status_code == 403
    r = client.post("/resurfacing/proposals", data={"csrf": token, "tag": "schoolprank", "decision": "accept",
                                                    "status": "flagged"})
    assert r.status_code == 200 and "#schoolprank accepted" in r.text
    r = client.post("/resurfacing/proposals", data={"csrf": token, "tag": "hostile", "decision": "reject"})
    assert "accepted" not in r.text and "rejected" in r.text
    r = client.post("/resurfacing/proposals", data={"csrf": token, "tag": "never", "decision": "accept"})
    assert "has not been proposed" in r.text
    with session(radar_db) as con:
        assert dict(con.execute("SELECT tag, status FROM watchlist").fetchall()) == {
            "deviouslick": "banned", "schoolprank": "flagged"}
        assert dict(con.execute("SELECT tag, decided_by FROM tag_proposals").fetchall()) == {
            "schoolprank": "ana", "hostile": "ana"}
    assert "nothing proposed" in client.get("/resurfacing").text


def test_a_viewer_cannot_decide(radar_db):
    client = TestClient(create_app(radar_db))
    token = login(client, "una")
    r = client.post("/resurfacing/proposals", data={"csrf": token, "tag": "schoolprank", "decision": "accept"})
    assert r.status_code == 403


def test_the_network_image_is_drawn_here_for_staff_only(radar_db):
    now = datetime.now(timezone.utc)
    with session(radar_db) as con:
        users.add_user(con, "head.fernbrook", "school", PASSWORD, school="Fernbrook Academy")
        # A post with the hostile variant of a banned tag beside a proposed tag.
        con.execute("INSERT INTO posts (platform, post_id, url, text, created_at, hashtags, source, "
                    "source_post_id, first_seen_at, last_seen_at) VALUES "
                    "('tiktok', 'v2', 'https://t.example/v2', 'x', ?, [?, 'schoolprank'], "
                    "'https://t.example', 'v2', ?, ?)", [now, HOSTILE_TAG, now - timedelta(hours=1), now])
        con.execute("INSERT INTO tag_matches VALUES ('schoolprank', 'schoolprank', NULL, NULL, 'fp', ?)", [now])
    anonymous = TestClient(create_app(radar_db), follow_redirects=False)
    r = anonymous.get("/resurfacing/network.png")
    assert r.status_code == 303 and r.headers["location"].startswith("/login") and not r.content.startswith(b"\x89PNG")

    client = TestClient(create_app(radar_db))
    login(client, "ana")
    page = client.get("/resurfacing?since=1d")
    assert '<img class="network" id="network" src="/resurfacing/network.png?since=1d"' in page.text
    assert "img-src 'self'" in page.headers["content-security-policy"]
    links = page.text.split('id="network-links"')[1].split("</table>")[0]
    assert "#schoolprank <span class=\"muted\">proposed</span>" in links       # the links as a table
    assert "#&#34;&gt;&lt;img src=x onerror=alert(1)&gt;dev1ous_lick" in links  # escaped
    assert "<img src=x" not in page.text and "proposed: #schoolprank" in page.text  # the alt text
    image = client.get("/resurfacing/network.png?since=1d")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n") and image.headers["cache-control"] == "no-store"

    school = TestClient(create_app(radar_db), follow_redirects=False)
    school.post("/login", data={"csrf": csrf(school.get("/login")), "name": "head.fernbrook",
                                "password": PASSWORD})
    assert school.get("/school").status_code == 200  # logged in, as a school contact
    r = school.get("/resurfacing/network.png")
    assert r.status_code == 303 and not r.content.startswith(b"\x89PNG")
