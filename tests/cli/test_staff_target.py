"""staff_target beside score (issue 12 item 3) and the default category of a confirmed case
(item 6): migration 011, the scoring step, the flagged list, the queue order, the CLI."""
from __future__ import annotations

import csv
import io
import json

import pytest

from casekit import load, seed
from review import cases as cs
from tagwatch import pipeline
from fakes.mastodon import MastodonReplayServer, make_status
from test_cli import run
from warehouse import queries
from warehouse.db import session

AIMED = "<p>Mr Invented at Fernbrook is a creep and a liar</p>"
NOT_AIMED = "<p>what a lovely sunny day at the allotment</p>"


def test_migration_011_moves_staff_target_out_of_categories(tmp_path):
    db = tmp_path / "w.duckdb"
    with session(db) as con:  # a warehouse as it was before 011, with scores of the old form
        con.execute("ALTER TABLE scores DROP COLUMN staff_target")
        con.execute("DELETE FROM schema_migrations WHERE version = 11")
        con.execute("""INSERT INTO scores (platform, post_id, model_version, score, label, scored_at,
                                           categories) VALUES
            ('mastodon', 'a', 'm1', 0.9, TRUE, now(), '{"insult": 0.5, "threat": 0.4, "staff_target": 1.0}'),
            ('mastodon', 'b', 'm1', 0.1, FALSE, now(), '{"insult": 0.1}'),
            ('mastodon', 'c', 'm1', NULL, NULL, now(), NULL)""")
    with session(db) as con:
        rows = con.execute("SELECT post_id, staff_target, categories::VARCHAR FROM scores "
                           "ORDER BY post_id").fetchall()
    assert [(p, t) for p, t, _ in rows] == [("a", 1.0), ("b", None), ("c", None)]
    assert json.loads(rows[0][2]) == {"insult": 0.5, "threat": 0.4}
    assert json.loads(rows[1][2]) == {"insult": 0.1} and rows[2][2] is None


@pytest.mark.slow
def test_scoring_writes_staff_target_and_the_flagged_list_shows_it(settings):
    with MastodonReplayServer(max_lifetime=60) as server:
        posts = load(settings, server, [make_status(1, content=AIMED), make_status(2, content=NOT_AIMED)])
    report = pipeline.score_new(settings)
    assert report["scored"] == 2
    with session(settings.db_path, read_only=True) as con:
        got = dict(con.execute("SELECT post_id, staff_target FROM scores").fetchall())
        cats = con.execute("SELECT categories::VARCHAR FROM scores WHERE post_id = ?",
                           [posts[0]["post_id"]]).fetchone()[0]
    assert got == {posts[0]["post_id"]: 1.0, posts[1]["post_id"]: 0.0}
    assert "staff_target" not in json.loads(cats)  # a separate question, not a category
    with session(settings.db_path) as con:  # flag both, whatever the model thought of them
        con.execute("UPDATE scores SET label = TRUE")
    table = run(settings, "flagged").stdout
    assert table.splitlines()[0].split()[:3] == ["score", "staff_target", "platform"]
    rows = list(csv.DictReader(io.StringIO(run(settings, "flagged", "--format", "csv").stdout)))
    assert [r["staff_target"] for r in rows] == ["1.0000", "0.0000"]  # aimed at staff first


def test_flagged_list_and_queue_put_posts_aimed_at_staff_first(settings):
    with MastodonReplayServer(max_lifetime=60) as server:
        [general, staff, unknown] = seed(
            settings, server, [make_status(1), make_status(2), make_status(3)], [0.95, 0.6, 0.99],
            details=[(None, 0.0), (None, 0.9), (None, None)])
    with session(settings.db_path, read_only=True) as con:
        flagged = queries.flagged(con)
        queue = cs.list_cases(con)
    assert [r["score"] for r in flagged] == [0.6, 0.99, 0.95]
    assert [r["staff_target"] for r in flagged] == [0.9, None, 0.0]
    assert [r["case_id"] for r in queue] == [staff, unknown, general]


def test_strongest_category_is_a_real_one():
    pick = cs.strongest_category
    assert pick({"categories": {"insult": 0.2, "threat": 0.3, "staff_target": 1.0}}) == "threat"
    assert pick({"categories": {"sexual": 0.01, "other": 0.9, "impersonation": 0.8}}) == "sexual"
    assert pick({"categories": {"insult": 0.0, "staff_target": 1.0}}) is None
    assert pick({"categories": None}) is None and pick(None) is None


@pytest.mark.slow
def test_cli_confirm_defaults_to_the_strongest_real_category(settings):
    # Categories as scorers before migration 011 wrote them: staff_target 1.0 among them.
    with MastodonReplayServer(max_lifetime=60) as server:
        [scored, unscored] = seed(
            settings, server, [make_status(1, content=AIMED), make_status(2, content=AIMED)], [0.9, 0.8],
            details=[({"allegation": 0.3, "insult": 0.5, "staff_target": 1.0}, 1.0),
                     ({"allegation": 0.0, "staff_target": 1.0}, 1.0)])
    out = run(settings, "case", "review", str(scored), "--decision", "confirm", "--actor", "ana").stdout
    assert out.strip() == f"case {scored}: CONFIRMED (insult); evidence frozen"
    out = run(settings, "case", "review", str(unscored), "--decision", "confirm", "--actor", "ana").stdout
    assert "(other)" in out  # no real category scored: other
    with session(settings.db_path, read_only=True) as con:
        assert cs.show(con, scored)["evidence"]["category"] == "insult"
        assert con.execute("SELECT category FROM labels WHERE post_id = (SELECT post_id FROM cases "
                           "WHERE case_id = ?)", [scored]).fetchone()[0] == "insult"
