"""The education report counts incidents beside posts: the same content on two platforms is
two posts and one incident; no handle or name reaches the report."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from incidentkit import bluesky_post, mastodon_post, open_cases, tiktok_post
from reports import build as rb
from reports import document
from review import cases as cs
from warehouse import report_metrics as rm
from warehouse.db import session

COPY = "Mr Pendleby at Larchwood Primary hit a pupil, share this before the school deletes it"


@pytest.mark.slow
def test_the_report_counts_incidents_beside_posts(settings, tmp_path):
    a, b, c = open_cases(settings, [mastodon_post(1, COPY), bluesky_post(2, COPY),
                                    tiktok_post(3, "an ordinary clip of a school fair in the rain")])
    with session(settings.db_path) as con:
        for case in (a, b):
            cs.review(con, case, "confirm", "ana")
    end = datetime.now(timezone.utc) + timedelta(hours=1)
    with session(settings.db_path, read_only=True) as con:
        f = rm.figures(con, end - timedelta(days=7), end)
    assert (f["totals"]["flagged"], f["totals"]["confirmed"]) == (3, 2)
    assert f["incidents"] == {"flagged": 2, "confirmed": 1, "cross_platform": 1}
    rows = dict(document.summary_rows(f))
    assert rows["incidents flagged (same content counted once)"] == 2 and rows["incidents confirmed"] == 1
    out = tmp_path / "report"
    rb.build(settings.db_path, "7d", out, end=end)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "incidents flagged (same content counted once)" in html
    assert "1 of the flagged ones on more than one platform" in html
    for secret in ("Pendleby", "Larchwood", "invented1", "invented2", "invented_3"):
        assert secret not in html
