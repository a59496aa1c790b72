"""Re-checks against the fake Mastodon: still online, deleted, account gone, no answer;
MISMATCH after a "removed" claim, OFFLINE_VERIFIED with the reason, RESURFACED; when they fall due."""
from __future__ import annotations

from datetime import timedelta

import pytest

from casekit import seed
from collectors.http import PoliteClient
from review import cases as cs
from review import rechecks as rc
from review import states as st
from fakes.mastodon import Faults, MastodonReplayServer, make_status
from warehouse.db import session


@pytest.fixture
def client():
    with PoliteClient("tagwatch-tests", backoff_base=0.01, max_retries=1) as c:
        yield c


def reported(settings, server, n, answer=None):
    """n confirmed and reported cases (status ids 1..n; account of status i is 'user<i>')."""
    ids = seed(settings, server, [make_status(i, username=f"user{i}") for i in range(1, n + 1)],
               [0.9] * n)
    with session(settings.db_path) as con:
        for case in ids:
            cs.review(con, case, "confirm", "ana")
            cs.report(con, case, "in-app", f"R{case}", "ana")
            if answer:
                cs.answer(con, case, answer, f"answer: {answer}", "ana")
    return ids


def recheck(settings, client, ids, **kw):
    return {r["case_id"]: r for r in rc.run(settings.db_path, client, ids, **kw)["rechecked"]}


def test_removed_claim_with_the_post_online_is_a_mismatch(settings, client):
    with MastodonReplayServer(max_lifetime=60) as server:
        [case] = reported(settings, server, 1, answer="removed")
        result = recheck(settings, client, [case])
    assert result[case] == {"case_id": case, "outcome": "online", "http_status": 200, "moved_to": st.MISMATCH}
    with session(settings.db_path) as con:
        info = cs.show(con, case)
    assert info["state"] == st.MISMATCH
    assert "said removed" in info["events"][-1]["note"] and info["events"][-1]["automated"]
    assert info["rechecks"][0]["url"].endswith("/api/v1/statuses/1")


def test_gone_posts_become_offline_verified_with_the_reason(settings, client):
    with MastodonReplayServer(max_lifetime=60) as server:
        claimed, silent, gone_account, still_up = reported(settings, server, 4)
        with session(settings.db_path) as con:
            cs.answer(con, claimed, "removed", "Removed for bullying.", "ana")
        server.delete_status(1)
        server.delete_status(2)
        server.remove_account("user3")
        result = recheck(settings, client, [claimed, silent, gone_account, still_up])
    assert {c: (r["outcome"], r["http_status"], r["moved_to"]) for c, r in result.items()} == {
        claimed: ("removed_by_platform", 404, st.OFFLINE_VERIFIED),
        silent: ("deleted_by_author", 404, st.OFFLINE_VERIFIED),
        gone_account: ("account_gone", 410, st.OFFLINE_VERIFIED),
        still_up: ("online", 200, None),
    }
    with session(settings.db_path) as con:
        assert "removed by the platform" in cs.show(con, claimed)["events"][-1]["note"]
        assert "account is gone" in cs.show(con, gone_account)["events"][-1]["note"]
        assert cs.state_of(con, still_up) == st.REPORTED


def test_an_account_marked_suspended_counts_as_gone(settings, client):
    with MastodonReplayServer(max_lifetime=60) as server:
        [case] = reported(settings, server, 1)
        suspended = make_status(1, username="user1")
        suspended["account"]["suspended"] = True
        server.add_status(suspended)
        assert recheck(settings, client, [case])[case]["outcome"] == "account_gone"


def test_a_post_that_comes_back_is_resurfaced(settings, client):
    with MastodonReplayServer(max_lifetime=60) as server:
        [case] = reported(settings, server, 1)
        status = make_status(1, username="user1")
        server.delete_status(1)
        recheck(settings, client, [case])
        server.add_status(status)
        assert recheck(settings, client, [case])[case]["moved_to"] == st.RESURFACED


@pytest.mark.parametrize("fault", ["server error", "unreachable"])
def test_no_usable_answer_is_recorded_and_concludes_nothing(settings, client, fault):
    with MastodonReplayServer(max_lifetime=60) as server:
        [case] = reported(settings, server, 1, answer="removed")
        if fault == "server error":
            server.faults.error_requests = {n: 500 for n in range(len(server.requests) + 1, 50)}
            result = recheck(settings, client, [case])
    if fault == "unreachable":  # the server has stopped: nothing listens there any more
        result = recheck(settings, client, [case])
    assert result[case]["outcome"] == "error" and result[case]["moved_to"] is None
    with session(settings.db_path) as con:
        assert cs.state_of(con, case) == st.PLATFORM_ACTIONED
        assert cs.show(con, case)["rechecks"][0]["detail"]


def test_rechecks_fall_due_on_the_schedule_and_deadlines_apply_on_the_way(settings, client):
    with MastodonReplayServer(max_lifetime=60) as server:
        [case] = reported(settings, server, 1)
        with session(settings.db_path) as con:
            sent = cs.show(con, case)["reports"][0]["sent_at"]
            assert rc.due(con, sent + timedelta(minutes=59)) == []
            assert rc.due(con, sent + timedelta(hours=1)) == [case]
        first = rc.run(settings.db_path, client, now=sent + timedelta(hours=2))
        assert [r["case_id"] for r in first["rechecked"]] == [case]
        with session(settings.db_path) as con:
            assert rc.due(con, sent + timedelta(hours=23)) == []  # +1 h done, +24 h not yet
            assert rc.due(con, sent + timedelta(hours=24)) == [case]
        later = rc.run(settings.db_path, client, now=sent + timedelta(hours=50))
        assert later["no_response"] == [case]
        assert later["rechecked"][0]["case_id"] == case
        with session(settings.db_path) as con:
            assert cs.state_of(con, case) == st.NO_RESPONSE
            assert rc.due(con, sent + timedelta(days=40)) == [case]  # the +30 d check
            assert rc.due(con, sent + timedelta(days=400)) == [case]
            rc.record(con, case, {"url": "u", "http_status": 200, "state": "online", "detail": None},
                      sent + timedelta(days=31))
            assert rc.due(con, sent + timedelta(days=400)) == []  # the schedule is over


def test_only_confirmed_cases_are_rechecked(settings, client):
    with MastodonReplayServer(max_lifetime=60) as server:
        [case] = seed(settings, server, [make_status(1)], [0.9])
        with pytest.raises(cs.CaseError, match="only confirmed cases are re-checked"):
            rc.run(settings.db_path, client, [case])
        with pytest.raises(cs.CaseError, match="no case 42"):
            rc.run(settings.db_path, client, [42])

