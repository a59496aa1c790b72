"""Issue 13 item 7: data minimisation. URLs (they carry the handle) and raw handles are kept
only for posts that are flagged or in a case; other posts lose them after a set time through
the purge's stripping step, recorded in `purges`. Invented people only."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from casekit import load
from review import cases as cs
from warehouse import queries
from fakes.mastodon import MastodonReplayServer, make_status
from tagwatch import cli
from warehouse.db import session


def urls(settings) -> dict[str, str | None]:
    with session(settings.db_path) as con:
        return {p.rsplit("/", 1)[1]: u for p, u in con.execute("SELECT post_id, url FROM posts").fetchall()}


def test_only_flagged_posts_and_posts_in_a_case_keep_their_urls(settings, capsys):
    statuses = [make_status(i, username=f"invented{i}") for i in (1, 2, 3, 4)]
    with MastodonReplayServer(max_lifetime=60) as server:
        posts = load(settings, server, statuses)
    old = datetime.now(timezone.utc) - timedelta(days=40)
    with session(settings.db_path) as con:
        queries.write_scores(con, [("mastodon", p["post_id"], s) for p, s in zip(posts, [0.9, 0.1, 0.1, 0.2])],
                             "test-model", 0.5)                     # 1 is flagged (and opens a case)
        cs.open_flagged(con)
        con.execute("UPDATE posts SET first_seen_at = ?, author_handle = 'invented' WHERE post_id NOT LIKE '%/3'",
                    [old])                                           # 3 is recent
        con.execute("INSERT INTO cases (platform, post_id, origin, opened_at, opened_by) "
                    "SELECT platform, post_id, 'member_report', now(), 'ana' FROM posts WHERE post_id LIKE '%/4'")
    assert cli.main(["minimise", "--dry-run"]) == 0
    assert "would drop the URL and handle of 1 post(s)" in capsys.readouterr().out
    assert all(urls(settings).values())
    assert cli.main(["minimise", "--by", "ana"]) == 0
    kept = urls(settings)
    assert kept["2"] is None and all(kept[k] for k in ("1", "3", "4"))
    with session(settings.db_path) as con:
        row = con.execute("SELECT author_key, author_handle, text FROM posts WHERE post_id LIKE '%/2'").fetchone()
        assert row[0] and row[1] is None and row[2]                 # pseudonym and text stay
        assert con.execute("SELECT actor, columns, posts FROM purges").fetchall() == [("ana", "url,author_handle", 1)]
    assert cli.main(["minimise"]) == 0                              # nothing left to drop
    assert "of 0 post(s)" in capsys.readouterr().out
