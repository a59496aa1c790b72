"""School intake: URL rules, forbidden hosts never contacted, one case per post with many
requesters, plain-words states, rate and size limits, digests (aiosmtpd), report figures.
Every school, person and address here is invented."""
from __future__ import annotations

import dataclasses
import email
import socket
from datetime import datetime, timedelta, timezone
from functools import partial

import pytest

from review import cases as cs
from review import rechecks, schools
from review import states as st
from review import users
from smtpkit import smtp_server  # noqa: F401 (fixture)
from fakes.mastodon import MastodonReplayServer, make_status
from tagwatch.pipeline import score_if_trained
from warehouse.db import WarehouseError, session

PW = "a long passphrase"
T0 = datetime(2026, 5, 4, 9, tzinfo=timezone.utc)


def _contacts(settings, *extra):
    with session(settings.db_path) as con:
        users.add_user(con, "ana", "analyst", PW)
        users.add_user(con, "head.fern", "school", PW, "Fernbrook Academy", "head@fernbrook.example")
        users.add_user(con, "office.oak", "school", PW, "Oakhollow Primary", "office@oakhollow.example")


def _with_hosts(settings, server, **kw):
    host = server.url.split("://", 1)[1]
    return dataclasses.replace(settings, intake_hosts=(host,), **kw)


@pytest.mark.parametrize("url, fetched, note", [
    ("http://127.0.0.1:8765/@someone/42", True, None),
    ("http://169.254.169.254/latest/meta-data/", False, "internal"),
    ("http://10.1.2.3/@x/1", False, "internal"),
    ("http://192.168.0.10:8765/@x/1", False, "internal"),
    ("http://127.0.0.1:9999/@x/1", False, "internal"),          # loopback, but not the configured port
    ("http://localhost:8765/@x/1", False, "internal"),
    ("http://2130706433/@x/1", False, "internal"),              # 127.0.0.1 as one number
    ("http://[::ffff:169.254.169.254]/@x/1", False, "internal"),
    ("https://evil.example/@x/1", False, "not a platform"),
    ("http://127.0.0.1:8765@evil.example/@x/1", False, "user name"),
    ("ftp://127.0.0.1:8765/@x/1", False, "not a web address"),
    ("http://127.0.0.1:8765/about", False, "single post"),
])
def test_only_configured_platform_hosts_are_fetched(url, fetched, note):
    target, why = schools.check_url(url, ("127.0.0.1:8765",))
    assert (target is not None) == fetched
    if note:
        assert note in why
    else:
        assert (target.platform, target.source, target.ref) == ("mastodon", "http://127.0.0.1:8765", "42")


def test_user_add_school_contract(settings):
    with session(settings.db_path) as con:
        with pytest.raises(WarehouseError, match="--school"):
            users.add_user(con, "x", "school", PW)
        with pytest.raises(WarehouseError, match="only for --role school"):
            users.add_user(con, "y", "analyst", PW, "Fernbrook Academy")
        users.add_user(con, "z", "school", PW, "  Fernbrook   Academy ")
        assert users.school_of(con, "z") == "Fernbrook Academy"


def test_forbidden_hosts_are_recorded_and_never_contacted(settings):
    _contacts(settings)
    trap = socket.socket()
    trap.bind(("127.0.0.1", 0))
    trap.listen(8)
    trap.settimeout(0.5)
    port = trap.getsockname()[1]
    contacted = []

    class Refuse:  # any request at all would be a failure: no host below is configured
        def get_json(self, *a, **k):
            contacted.append(a)
            raise AssertionError("a forbidden host was fetched")

        def close(self):
            pass

    urls = [f"http://127.0.0.1:{port}/@someone/1", "http://169.254.169.254/@x/1",
            "http://10.0.0.5/@x/2", "http://172.16.3.4:8080/@x/3", "https://mastodon.example/@x/4"]
    try:
        results = schools.submit(dataclasses.replace(settings, intake_hosts=("mastodon.social",)),
                                 "head.fern", urls, "nasty", "teacher", client=Refuse())
        # and through the real client too: the trap socket must see no connection
        schools.submit(dataclasses.replace(settings, intake_hosts=("mastodon.social",)),
                       "head.fern", [f"http://127.0.0.1:{port}/@someone/2"], "", "head")
        with pytest.raises(socket.timeout):
            trap.accept()
    finally:
        trap.close()
    assert contacted == []
    assert [r["outcome"] for r in results] == ["not_fetched"] * 5
    assert all(r["reference"].startswith("TW-") and r["case_id"] is None for r in results)
    assert "internal" in results[1]["note"] and "not a platform" in results[4]["note"]
    with session(settings.db_path) as con:
        assert con.execute("SELECT count(*) FROM intake_submissions WHERE case_id IS NULL").fetchone()[0] == 6
        assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 0


def _two_posts(settings, server):
    """Two invented abusive statuses (7 and 8) on the replay, which intake may fetch."""
    host = server.url.split("://", 1)[1]   # the host answers for its own posts only
    server.add_status(make_status(7, content="<p>Mr Invented at Fernbrook is a creep</p>", domain=host))
    server.add_status(make_status(8, content="<p>Ms Madeup should be sacked</p>", domain=host))
    return _with_hosts(settings, server)


@pytest.mark.slow
def test_one_post_many_schools_one_case_evidence_frozen_at_once(settings):
    _contacts(settings)
    with MastodonReplayServer(max_lifetime=60) as server:
        s = _two_posts(settings, server)
        a = schools.submit(s, "head.fern", [f"{server.url}/@someone/7", f"{server.url}/@someone/8"],
                           "about our teacher", "teacher", now=T0, score=partial(score_if_trained, s))
        b = schools.submit(s, "office.oak", [f"{server.url}/@someone/8"], "", "support_staff",
                           now=T0 + timedelta(minutes=5))
        server.delete_status(7)  # gone an hour later: the evidence is kept
    assert [r["outcome"] for r in a] == ["opened", "opened"] and b[0]["outcome"] == "joined"
    assert b[0]["case_id"] == a[1]["case_id"]
    with session(settings.db_path) as con:
        assert con.execute("SELECT count(*) FROM cases WHERE origin = 'school_report'").fetchone()[0] == 2
        assert schools.requesters(con, [a[0]["case_id"], a[1]["case_id"]]) == {a[0]["case_id"]: 1,
                                                                               a[1]["case_id"]: 2}
        ev = cs.show(con, a[0]["case_id"])["evidence"]
        assert ev["text"] == "Mr Invented at Fernbrook is a creep" and ev["target_role"] == "teacher"
        assert ev["frozen_by"] == "head.fern" and len(ev["content_sha256"]) == 64
        score = cs.show(con, a[0]["case_id"])["score"]
        assert score is not None  # scored at once
        # The post names staff (staff_target 1.0); the default category is still a real one.
        assert score["staff_target"] == 1.0
        assert ev["category"] == max(cs.SCORED_CATEGORIES, key=score["categories"].get)
        listed = {r["case_id"]: r for r in cs.list_cases(con)}
        assert listed[a[1]["case_id"]]["requesters"] == 2
        # school B sees only its own submission
        mine_b = schools.my_reports(con, _school_id(con, "Oakhollow Primary"))
        assert [r["reference"] for r in mine_b] == [b[0]["reference"]]
        assert mine_b[0]["plain_state"] == "received"
        # the reviewer's classification is recorded; the frozen content is not changed
        cs.review(con, a[0]["case_id"], "confirm", "ana", category="allegation", severity="high",
                  now=T0 + timedelta(hours=1))
        after = cs.show(con, a[0]["case_id"])["evidence"]
        assert (after["category"], after["severity"]) == ("allegation", "high")
        assert after["content_sha256"] == ev["content_sha256"]


def _school_id(con, name):
    return con.execute("SELECT school_id FROM schools WHERE name = ?", [name]).fetchone()[0]


def _states_of(con, school):
    return {r["url"].rsplit("/", 1)[1]: r["plain_state"]
            for r in schools.my_reports(con, _school_id(con, school))}



def test_a_school_report_with_no_model_trained_yet_is_recorded_unscored(settings, tmp_path):
    _contacts(settings)
    untrained = dataclasses.replace(settings, models_dir=tmp_path / "no-models")
    with MastodonReplayServer(max_lifetime=60) as server:
        s = _two_posts(untrained, server)
        [r] = schools.submit(s, "head.fern", [f"{server.url}/@someone/7"], "", "teacher", now=T0,
                             score=partial(score_if_trained, s))
    assert r["outcome"] == "opened"
    with session(settings.db_path) as con:
        info = cs.show(con, r["case_id"])
        assert info["score"] is None and info["evidence"]["text"] == "Mr Invented at Fernbrook is a creep"

@pytest.mark.slow
def test_plain_words_states_and_daily_digest(settings, smtp_server, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_server.url)
    _contacts(settings)
    with MastodonReplayServer(max_lifetime=60) as server:
        s = _two_posts(settings, server)
        a = schools.submit(s, "head.fern", [f"{server.url}/@someone/7", f"{server.url}/@someone/8"],
                           "", "teacher", now=T0)
        b = schools.submit(s, "office.oak", [f"{server.url}/@someone/8"], "", "head", now=T0)
        gone, stays = a[0]["case_id"], a[1]["case_id"]
        with session(settings.db_path) as con:
            assert schools.send_digests(settings.db_path, now=T0 + timedelta(minutes=1)) == []  # no change yet
            for case_id in (gone, stays):
                cs.review(con, case_id, "confirm", "ana", now=T0 + timedelta(hours=1))
                cs.report(con, case_id, "form", f"REF-{case_id}", "ana", now=T0 + timedelta(hours=2))
                cs.answer(con, case_id, "removed", "We removed it.", "ana", now=T0 + timedelta(hours=3))
            assert _states_of(con, "Fernbrook Academy") == {"7": "platform answered: “removed”",
                                                           "8": "platform answered: “removed”"}
        server.delete_status(7)
        from collectors.http import PoliteClient
        with PoliteClient("tests", backoff_base=0.01, max_retries=1) as client:
            rechecks.run(settings.db_path, client, [gone, stays], now=T0 + timedelta(hours=5))
    with session(settings.db_path) as con:
        assert _states_of(con, "Fernbrook Academy") == {
            "7": "verified removed", "8": "still online after the platform said removed"}
        assert _states_of(con, "Oakhollow Primary") == {"8": "still online after the platform said removed"}
        history = [h["words"] for h in schools.my_reports(con, _school_id(con, "Oakhollow Primary"))[0]["history"]]
        assert history == ["received", "under review", "reported to the platform",
                           "platform answered: “removed”", "still online after the platform said removed"]

    sent = schools.send_digests(settings.db_path, now=T0 + timedelta(hours=6))
    assert sorted(d["school"] for d in sent) == ["Fernbrook Academy", "Oakhollow Primary"]
    assert len(smtp_server.messages) == 2
    by_rcpt = {tuple(m.rcpt_tos): email.message_from_bytes(m.content) for m in smtp_server.messages}
    fern = by_rcpt[("head@fernbrook.example",)]
    body = fern.get_payload(decode=True) if not fern.is_multipart() else \
        [p for p in fern.walk() if p.get_content_type() == "text/html"][0].get_payload(decode=True)
    body = body.decode()
    assert a[0]["reference"] in body and "verified removed" in body and b[0]["reference"] not in body
    # more changes the same day wait for tomorrow's digest: at most one a day per school
    with session(settings.db_path) as con:
        cs.report(con, stays, "helpline", "HL-1", "ana", now=T0 + timedelta(hours=7))
    assert schools.send_digests(settings.db_path, now=T0 + timedelta(hours=8)) == []
    assert len(smtp_server.messages) == 2
    nxt = schools.send_digests(settings.db_path, now=T0 + timedelta(days=1))
    assert sorted((d["school"], d["changes"]) for d in nxt) == [("Fernbrook Academy", 1), ("Oakhollow Primary", 1)]
    assert len(smtp_server.messages) == 4


def test_rate_and_size_limits(settings):
    _contacts(settings)
    s = dataclasses.replace(settings, intake_hosts=(), intake_hourly_limit=3)
    with pytest.raises(schools.IntakeError, match="at most 10"):
        schools.submit(s, "head.fern", [f"https://x.example/@a/{i}" for i in range(11)], "", "teacher")
    with pytest.raises(schools.IntakeError, match="2048"):
        schools.submit(s, "head.fern", ["https://x.example/@a/" + "1" * 2100], "", "teacher")
    with pytest.raises(schools.IntakeError, match="description"):
        schools.submit(s, "head.fern", ["https://x.example/@a/1"], "x" * 1001, "teacher")
    with pytest.raises(schools.IntakeError, match="affected"):
        schools.submit(s, "head.fern", ["https://x.example/@a/1"], "", "Mr Smith")
    with pytest.raises(schools.IntakeError, match="only school contacts"):
        schools.submit(s, "ana", ["https://x.example/@a/1"], "", "teacher")
    schools.submit(s, "head.fern", ["https://x.example/@a/1", "https://x.example/@a/2"], "", "teacher", now=T0)
    with pytest.raises(schools.IntakeError, match="1 more"):
        schools.submit(s, "head.fern", ["https://x.example/@a/3", "https://x.example/@a/4"], "", "teacher",
                       now=T0 + timedelta(minutes=30))
    schools.submit(s, "office.oak", ["https://x.example/@a/3"], "", "teacher", now=T0)  # per account
    schools.submit(s, "head.fern", ["https://x.example/@a/3", "https://x.example/@a/4"], "", "teacher",
                   now=T0 + timedelta(minutes=61))


def test_every_state_has_plain_words():
    assert set(st.PLAIN_WORDS) == set(st.STATES)
    assert st.plain_words(st.OFFLINE_VERIFIED) == "verified removed"
    assert st.plain_words(st.PLATFORM_REJECTED, "no_violation") == "platform answered: “no violation”"


def test_education_report_counts_school_reports(settings):
    import reportkit
    from reports import document
    from warehouse import report_metrics

    ids = reportkit.build(settings)  # p2: verified offline 6 Mar 00:00; p1: MISMATCH; p6: verified 6 Mar 04:00
    h = lambda d, hr=0, m=3: datetime(2026, m, d, hr, tzinfo=timezone.utc)  # noqa: E731
    rows = [("Ashgrove School", ids["p2"], h(4)), ("Birchfield College", ids["p2"], h(5)),
            ("Birchfield College", ids["p1"], h(4)), ("Cedarvale Primary", ids["p6"], h(5, 4)),
            ("Dunmore High", None, h(3)), ("Dunmore High", ids["q1"], h(25, 0, 2)),
            ("Ashgrove School", ids["p4"], h(10))]  # after the period: ignored
    with session(settings.db_path) as con:
        for school, case_id, at in rows:
            con.execute("INSERT INTO intake_submissions (submitted_by, school, url, affected_role, submitted_at, "
                        "case_id, outcome) VALUES ('x', ?, 'https://m.example/@a/1', 'teacher', ?, ?, ?)",
                        [school, at, case_id, "not_fetched" if case_id is None else "opened"])
        cur = report_metrics.figures(con, reportkit.START, reportkit.END)
        prev = report_metrics.figures(con, reportkit.PREVIOUS_START, reportkit.START)
    c = cur["schools"]
    assert (c["submissions"], c["schools"], c["cases"], c["not_fetched"]) == (5, 4, 3, 1)
    # Ashgrove 48 h, Birchfield 24 h (both p2), Cedarvale 24 h (p6): median 24, p90 24 + 0.8 * 24
    assert c["verified_removed"] == 3 and c["median_hours"] == 24 and abs(c["p90_hours"] - 43.2) < 1e-9
    # waiting at the end: Birchfield (p1 MISMATCH), Cedarvale (p6 RESURFACED), Dunmore (q1 NO_RESPONSE)
    assert c["schools_waiting"] == 3
    assert (prev["schools"]["submissions"], prev["schools"]["schools_waiting"]) == (1, 1)
    doc = document.build(cur, prev, generated_at=reportkit.END)
    section = [s for s in doc.sections if s.title == "Reports from schools"][0]
    table = {r[0]: r[1:] for r in section.tables[0].rows}
    assert table["schools waiting on a platform at the end"] == [3, 1]
    assert table["median hours from a school's report to verified removal"] == [24.0, None]


def test_intake_freezes_the_strongest_real_category_not_staff_target(settings):
    """A post scored before migration 011 (staff_target among its categories), then reported."""
    from casekit import load
    from classifiers.store import load as load_model
    from warehouse import queries

    _contacts(settings)
    version = load_model(settings.models_dir).version
    with MastodonReplayServer(max_lifetime=60) as server:
        s = _two_posts(settings, server)
        posts = load(s, server, [make_status(9, content="<p>Mr Invented is a creep</p>",
                                             domain=server.url.split("://", 1)[1])], "before")
        with session(settings.db_path) as con:
            queries.write_scores(con, [("mastodon", posts[0]["post_id"], 0.9,
                                        {"threat": 0.2, "doxxing": 0.5, "staff_target": 1.0}, None, 1.0)],
                                 version, 0.5)
        [done] = schools.submit(s, "head.fern", [f"{server.url}/@someone/9"], "", "teacher", now=T0)
    with session(settings.db_path, read_only=True) as con:
        assert cs.show(con, done["case_id"])["evidence"]["category"] == "doxxing"
