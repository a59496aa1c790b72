"""The queue page's rows, worked out in Python once (webapp.routes.cases.queue_view), stay
escaped: an explanation's term, a category's name and a tag reach the page as text."""
from __future__ import annotations

from fastapi.testclient import TestClient

from incidentkit import load_posts, mastodon_post
from review import cases as cs
from review import users
from warehouse import queries
from warehouse.db import session
from webapp.app import create_app
from webkit import PASSWORD, login

HOSTILE = '<img src=x onerror="alert(1)">'


def test_hostile_terms_categories_and_tags_are_shown_as_text(settings):
    post = mastodon_post(1, "an invented post about a teacher and the staff room",
                         tags=("teachers", "x<b>y"))
    load_posts(settings, [post], [0.9])
    with session(settings.db_path) as con:
        queries.write_scores(con, [("mastodon", post["post_id"], 0.95, {HOSTILE: 0.9, "insult": 0.2},
                                    [{"term": HOSTILE, "weight": 0.5}, {"term": "teacher", "weight": True}],
                                    0.8)], "model-2", 0.5)
        cs.open_flagged(con)
        users.add_user(con, "ana", "analyst", PASSWORD)
    client = TestClient(create_app(settings.db_path))
    login(client, "ana")
    page = client.get("/").text
    assert "<img src=x" not in page and "<b>y" not in page
    assert "why: &lt;img src=x onerror=&#34;alert(1)&#34;&gt; (+0.50), teacher (+1.00)" in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; 0.90, insult 0.20" in page
    assert "staff target 0.80" in page and "<strong>0.95</strong>" in page
    assert 'href="/?tag=x%3Cb%3Ey"' in page and "#x&lt;b&gt;y</a>" in page
