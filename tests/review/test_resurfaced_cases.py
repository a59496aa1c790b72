"""RESURFACED through the one state table: a post verified offline that a re-check finds online
again moves its case; the same content (same normalised text hash) under a new post id opens a
child case linked to the parent (parent_case_id), with evidence frozen from the new post."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from casekit import seed
from collectors.http import PoliteClient
from review import cases as cs
from review import rechecks as rc
from review import states as st
from review import users
from fakes.mastodon import MastodonReplayServer, make_status
from webkit import PASSWORD, login
from warehouse.db import session
from webapp.app import create_app

TEXT = "Mr Invented at Fernbrook Academy should be sacked, everyone share this"


@pytest.fixture
def client():
    with PoliteClient("tagwatch-tests", backoff_base=0.01, max_retries=1) as c:
        yield c


def offline_case(settings, server, client):
    [case] = seed(settings, server, [make_status(1, content=f"<p>{TEXT}</p>", username="user1")], [0.9])
    with session(settings.db_path) as con:
        cs.review(con, case, "confirm", "ana", category="allegation", target_role="teacher", severity="high")
        cs.report(con, case, "in-app", "R1", "ana")
        cs.answer(con, case, "removed", "Removed.", "ana")
    server.delete_status(1)
    assert rc.run(settings.db_path, client, [case])["rechecked"][0]["moved_to"] == st.OFFLINE_VERIFIED
    return case


def test_the_same_content_under_a_new_post_id_opens_a_linked_child_case(settings, client):
    with MastodonReplayServer(max_lifetime=60) as server:
        parent = offline_case(settings, server, client)
        copy = make_status(7, content=f"<p>  mr invented AT Fernbrook   Academy should be sacked, "
                                      f"everyone share this </p>", username="user9")
        other = make_status(8, content="<p>Fernbrook Academy sports day was great</p>")
        child, unrelated = seed(settings, server, [copy, other], [0.4, 0.9], run_id="later")
    with session(settings.db_path) as con:
        info = cs.show(con, child)
        assert (info["state"], info["origin"], info["parent_case_id"]) == (st.RESURFACED, "resurfaced", parent)
        [opening] = info["events"]
        assert opening["from_state"] is None and opening["automated"]
        assert f"content of case {parent}" in opening["note"]
        ev = info["evidence"]
        assert (ev["post_id"], ev["category"], ev["target_role"], ev["frozen_by"]) == (
            copy["uri"], "allegation", "teacher", cs.AUTOMATION)
        assert cs.show(con, parent)["children"] == [child]
        assert (info["incident"]["incident_id"], info["incident"]["reason"]) == (
            cs.show(con, parent)["incident"]["incident_id"], "resurfaced")  # one incident with its parent
        assert cs.state_of(con, parent) == st.OFFLINE_VERIFIED
        assert cs.state_of(con, unrelated) == st.DETECTED
        assert cs.open_resurfaced(con) == []  # once only
        cs.report(con, child, "form", "R-child", "ana")  # then the ordinary life, by the table
        assert cs.state_of(con, child) == st.REPORTED
        users.add_user(con, "una", "viewer", PASSWORD)
    app = TestClient(create_app(settings.db_path))
    login(app, "una")
    assert f'href="/cases/{parent}"' in app.get(f"/cases/{child}").text
    assert f'href="/cases/{child}"' in app.get(f"/cases/{parent}").text


def test_a_copy_of_a_case_never_verified_offline_opens_no_child(settings, client):
    with MastodonReplayServer(max_lifetime=60) as server:
        [online] = seed(settings, server, [make_status(1, content=f"<p>{TEXT}</p>")], [0.9])
        with session(settings.db_path) as con:
            cs.review(con, online, "confirm", "ana")
        [again] = seed(settings, server, [make_status(2, content=f"<p>{TEXT}</p>")], [0.9], run_id="b")
    with session(settings.db_path) as con:
        assert cs.state_of(con, again) == st.DETECTED and cs.show(con, again)["parent_case_id"] is None


def test_a_reposted_post_found_online_again_moves_its_case_to_resurfaced(settings, client):
    with MastodonReplayServer(max_lifetime=60) as server:
        case = offline_case(settings, server, client)
        server.add_status(make_status(1, content=f"<p>{TEXT}</p>", username="user1"))
        assert rc.run(settings.db_path, client, [case])["rechecked"][0]["moved_to"] == st.RESURFACED
    with session(settings.db_path) as con:
        assert cs.show(con, case)["events"][-1]["note"].startswith("online again")


def test_cases_open_only_in_the_tables_opening_states():
    st.check_opening(st.DETECTED)
    st.check_opening(st.RESURFACED)
    for state in set(st.STATES) - set(st.OPENINGS):
        with pytest.raises(st.IllegalMove, match=f"cannot be opened in {state}"):
            st.check_opening(state)
    with pytest.raises(st.IllegalMove):
        st.check_opening(st.RESURFACED, st.HUMAN)
