"""The queue ranks open cases by keys kept per case (warehouse.queue_keys, migration 021): after
cases open, decisions, a new model's scores, posts seen again with new counts and incidents,
the kept keys give exactly the list computed from posts and scores."""
from __future__ import annotations

from incidentkit import bluesky_post, load_posts, mastodon_post
from review import cases as cs
from review import states as st
from warehouse import maintenance, queries, queue_keys
from warehouse.db import session

TEXTS = ["first invented post about a maths lesson that went badly wrong today",
         "second invented post about the canteen queue being far too long again",
         "third invented post about the football pitch flooding after the storm",
         "fourth invented post about a school trip to the seaside museum next week",
         "fifth invented post about the new timetable that nobody understands yet",
         "sixth invented post about the car park being closed for the whole term"]
COPY = "Mr Invented at Fernbrook Academy should be sacked, share this with every parent"


def agreed(settings, limit: int | None = None) -> list[int]:
    """The open cases, worst first, checked against the full computation; their ids."""
    with session(settings.db_path) as con:
        assert not queue_keys.missing(con)
        kept = cs.list_cases(con, st.OPEN_FOR_REVIEW, limit=limit)
        full = cs.list_cases(con, st.OPEN_FOR_REVIEW, limit=limit, recompute=True)
        table = con.execute("SELECT * FROM queue_keys ORDER BY case_id").fetchall()
        computed = con.execute(queue_keys.keys_sql("SELECT case_id, platform, post_id FROM cases")
                               + " ORDER BY case_id").fetchall()
    assert kept == full
    assert table == computed
    return [r["case_id"] for r in kept]


def test_the_kept_keys_rank_as_the_full_computation(settings):
    posts = [mastodon_post(i + 1, t) for i, t in enumerate(TEXTS)]
    # 0.30 is not flagged: a member reports it
    load_posts(settings, posts, [0.9, 0.85, 0.8, 0.7, 0.6, 0.3])
    with session(settings.db_path) as con:
        cs.open_flagged(con)
        member = cs.open_post(con, "mastodon", posts[5]["post_id"], "ana")
        ids = dict(con.execute("SELECT post_id, case_id FROM cases").fetchall())
    a, b, c, d, e, f = (ids[p["post_id"]] for p in posts)
    assert f == member
    assert agreed(settings) == [a, b, c, d, e, f]
    assert agreed(settings, limit=3) == [a, b, c]

    with session(settings.db_path) as con:   # decisions: two cases leave the queue
        cs.review(con, a, "dismiss", "ana")
        cs.review(con, e, "confirm", "ana")
    assert agreed(settings) == [b, c, d, f]

    with session(settings.db_path) as con:   # a new model: staff targets and other scores
        queries.write_scores(con, [("mastodon", posts[3]["post_id"], 0.75, {"threat": 0.7}, None, 0.9),
                                   ("mastodon", posts[5]["post_id"], 0.72, None, None, 0.1),
                                   ("mastodon", posts[1]["post_id"], 0.7, None, None, None)],
                             "model-2", 0.5)
    assert agreed(settings) == [d, f, c, b]   # d aimed at staff; f: 0.72 + the human band

    seen_again = [mastodon_post(2, TEXTS[1], favourites_count=500)]   # b's post, more reach
    load_posts(settings, seen_again, [0.7], run_id="again")
    with session(settings.db_path) as con:
        cs.move(con, a, st.IN_REVIEW, "ana")   # reopened
    assert agreed(settings) == [d, a, f, c, b]
    with session(settings.db_path) as con:
        queries.write_scores(con, [("mastodon", posts[2]["post_id"], 0.7, None, None, None)], "model-2", 0.5)
    assert agreed(settings) == [d, a, f, b, c]   # b and c at 0.70: b reaches more

    copy = [bluesky_post(7, COPY), mastodon_post(8, COPY)]   # one incident of two cases
    load_posts(settings, copy, [0.95, 0.5], run_id="copies")
    with session(settings.db_path) as con:
        cs.open_flagged(con)
        x, y = (con.execute("SELECT case_id FROM cases WHERE post_id = ?", [p["post_id"]]).fetchall()[0][0]
                for p in copy)
    assert agreed(settings) == [d, x, y, a, f, b, c]
    assert agreed(settings, limit=2) == [d, x] and agreed(settings, limit=3) == [d, x, y]
    with session(settings.db_path) as con:   # y's own score now ranks it last: x still brings it up
        queries.write_scores(con, [("bluesky", copy[0]["post_id"], 0.6, None, None, None),
                                   ("mastodon", copy[1]["post_id"], 0.91, None, None, None)], "model-2", 0.5)
    assert agreed(settings, limit=3) == [d, y, x]   # x is 7th by its own keys
    assert agreed(settings, limit=2) == [d, y] and agreed(settings) == [d, y, x, a, f, b, c]


def test_a_case_inserted_without_keys_is_ranked_from_posts_and_scores(settings):
    posts = [mastodon_post(i + 1, t) for i, t in enumerate(TEXTS[:3])]
    load_posts(settings, posts, [0.9, 0.8, 0.3])
    with session(settings.db_path) as con:
        cs.open_flagged(con)
        con.execute("INSERT INTO cases (platform, post_id, origin, opened_at, opened_by) "
                    "VALUES ('mastodon', ?, 'member_report', now(), 'ana')", [posts[2]["post_id"]])
        con.execute("INSERT INTO case_events (case_id, from_state, to_state, actor, occurred_at, automated) "
                    "SELECT max(case_id), NULL, 'DETECTED', 'ana', now(), FALSE FROM cases")
        assert queue_keys.missing(con)
        listed = cs.list_cases(con, st.OPEN_FOR_REVIEW)
        assert listed == cs.list_cases(con, st.OPEN_FOR_REVIEW, recompute=True)
        assert [r["post_id"] for r in listed] == [p["post_id"] for p in posts]
        assert queue_keys.fill(con) == 1   # the next case opened fills it
    assert len(agreed(settings)) == 3


def test_a_stripped_post_leaves_no_copy_in_the_queue(settings):
    posts = [mastodon_post(i + 1, t) for i, t in enumerate(TEXTS[:2])]
    load_posts(settings, posts, [0.9, 0.8])
    with session(settings.db_path) as con:
        cs.open_flagged(con)
        maintenance.strip_posts(con, "SELECT 'mastodon' AS platform, ? AS post_id", [posts[0]["post_id"]],
                                reason="test", actor="ana")
        kept = dict((r[0], r[1:]) for r in con.execute(
            "SELECT post_id, url, text, author_key FROM queue_keys").fetchall())
    assert kept[posts[0]["post_id"]] == (None, None, None)
    assert None not in kept[posts[1]["post_id"]]
    assert agreed(settings)
