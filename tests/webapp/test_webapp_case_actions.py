"""The case page's "re-check now" (analysts only, CSRF-protected, the platform asked at once)
and its escalation-pack download (the PDF and the JSON in one zip)."""
from __future__ import annotations

import io
import json
import zipfile

import pytest
from fastapi.testclient import TestClient

from casekit import HOSTILE, hostile_content, seed
from review import cases as cs
from review import users
from fakes.mastodon import MastodonReplayServer, make_status
from webkit import PASSWORD, login, state
from warehouse.db import session
from webapp.app import create_app


@pytest.fixture
def reported_case(settings):
    """A confirmed, reported case whose platform answered "removed"; the fake keeps serving."""
    with MastodonReplayServer(max_lifetime=120) as server:
        [case, fresh] = seed(settings, server, [make_status(1, content=hostile_content()), make_status(2)],
                             [0.9, 0.8])
        with session(settings.db_path) as con:
            users.add_user(con, "ana", "analyst", PASSWORD)
            users.add_user(con, "una", "viewer", PASSWORD)
            cs.review(con, case, "confirm", "ana", category="allegation")
            cs.report(con, case, "form", "R-1", "ana")
            cs.answer(con, case, "removed", "We removed it.", "ana")
        yield settings, server, case, fresh


def test_recheck_now_finds_the_mismatch_then_the_removal(reported_case):
    settings, server, case, fresh = reported_case
    client = TestClient(create_app(settings.db_path, settings=settings))
    token = login(client, "ana")
    page = client.get(f"/cases/{case}").text
    assert 'id="recheck-form"' in page
    assert 'id="recheck-form"' not in client.get(f"/cases/{fresh}").text  # not confirmed: nothing to re-check
    assert client.post(f"/cases/{case}/recheck", data={"csrf": "forged"}).status_code == 403
    r = client.post(f"/cases/{case}/recheck", data={"csrf": token})
    assert r.status_code == 200 and "re-checked: online (HTTP 200), now MISMATCH" in r.text
    assert state(client, case) == "MISMATCH"
    server.delete_status(1)
    r = client.post(f"/cases/{case}/recheck", data={"csrf": token})
    assert "removed_by_platform (HTTP 404), now OFFLINE_VERIFIED" in r.text
    assert state(client, case) == "OFFLINE_VERIFIED"
    r = client.post(f"/cases/{fresh}/recheck", data={"csrf": token})
    assert "only confirmed cases are re-checked" in r.text
    with session(settings.db_path) as con:
        assert [x["outcome"] for x in cs.show(con, case)["rechecks"]] == ["online", "removed_by_platform"]


def test_a_viewer_has_no_recheck_button_and_is_refused(reported_case):
    settings, server, case, _ = reported_case
    client = TestClient(create_app(settings.db_path, settings=settings))
    token = login(client, "una")
    assert 'id="recheck-form"' not in client.get(f"/cases/{case}").text
    r = client.post(f"/cases/{case}/recheck", data={"csrf": token})
    assert r.status_code == 403
    with session(settings.db_path) as con:
        assert cs.show(con, case)["rechecks"] == []


def test_escalation_pack_downloads_as_a_zip_of_pdf_and_json(reported_case):
    settings, _, case, fresh = reported_case
    client = TestClient(create_app(settings.db_path), follow_redirects=False)
    r = client.get(f"/cases/{case}/escalation-pack")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    login(client, "una")  # reading: viewers (union staff) may download it too
    assert f'href="/cases/{case}/escalation-pack"' in client.get(f"/cases/{case}").text
    r = client.get(f"/cases/{case}/escalation-pack")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert f'filename="case-{case}-escalation.zip"' in r.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        names = sorted(zf.namelist())
        assert names == [f"case-{case}-escalation.json", f"case-{case}-escalation.pdf"]
        assert zf.read(names[1]).startswith(b"%PDF")
        pack = json.loads(zf.read(names[0]))
    assert HOSTILE in json.dumps(pack, ensure_ascii=False).replace('\\"', '"')  # verbatim, unescaped
    missing = client.get(f"/cases/{fresh}/escalation-pack")
    assert missing.status_code == 404 and "confirm it first" in missing.text
