"""The tag totals the radar reads (tags_seen, tag_days) stay what a recount from posts finds:
after a first (bulk) load, a later load, a load of posts already held, a load that fails,
and as migration 020 counts a warehouse loaded before it."""
from __future__ import annotations

from collections import defaultdict
from datetime import timezone

import pytest

from loadkit import post, stage
from warehouse import tag_totals
from warehouse.db import session
from warehouse.loader import load_staging


def from_posts(con) -> dict[str, list[tuple]]:
    """The totals worked out in Python from every post (the oracle)."""
    seen, days = {}, defaultdict(int)
    for platform, first_seen, created, tags in con.execute(
            "SELECT platform, first_seen_at, created_at, hashtags FROM posts").fetchall():
        for tag in {t for t in tags or [] if t is not None}:
            low, high, n = seen.get(tag, (first_seen, first_seen, 0))
            seen[tag] = (min(low, first_seen), max(high, first_seen), n + 1)
            days[(tag, platform, (created or first_seen).astimezone(timezone.utc).date())] += 1
    return {"tags_seen": sorted((t, *v) for t, v in seen.items()),
            "tag_days": sorted((*k, n) for k, n in days.items())}


def assert_recounted(con) -> dict:
    kept = tag_totals.totals(con)
    assert kept == from_posts(con)
    tag_totals.recount(con)
    assert tag_totals.totals(con) == kept
    return kept


@pytest.fixture
def con(tmp_path):
    with session(tmp_path / "w.duckdb") as c:
        c.execute("SET TimeZone = 'UTC'")
        yield c


def test_loads_keep_the_totals_a_recount_finds(con, tmp_path):
    staging = tmp_path / "staging"
    stage(staging, "r1", [post(1, ["maths", "maths", "exams"]),            # a tag twice: one post
                          post(2, ["maths"], created="2026-03-02T01:00:00Z"),
                          post(3, [], collected="2026-03-03T08:00:00Z")])
    assert load_staging(con, staging).new_posts == 3                      # the first (bulk) load
    first = assert_recounted(con)
    assert [r[0] for r in first["tags_seen"]] == ["exams", "maths"]
    assert ("maths", "mastodon", first["tag_days"][1][2], 1) in first["tag_days"]

    # A later load: new posts, and post 1 seen again (its tags stay as first captured).
    stage(staging, "r2", [post(1, ["other"], collected="2026-03-05T08:00:00Z"),
                          post(4, ["maths", "newtag"], created=None, collected="2026-03-04T10:00:00Z")])
    stage(staging, "r2b", [post(5, ["newtag"], collected="2026-03-01T08:00:00Z")], platform="bluesky")
    assert load_staging(con, staging).new_posts == 2
    second = assert_recounted(con)
    assert dict((r[0], r[3]) for r in second["tags_seen"]) == {"exams": 1, "maths": 3, "newtag": 2}

    # The same posts again, under another run: nothing new, nothing counted twice.
    stage(staging, "r3", [post(n, ["maths"]) for n in (1, 2, 4)])
    assert load_staging(con, staging).new_posts == 0
    assert assert_recounted(con) == second


def test_a_failed_load_leaves_the_totals_as_they_were(con, tmp_path):
    staging = tmp_path / "staging"
    stage(staging, "r1", [post(1, ["maths"])])
    load_staging(con, staging)
    before = tag_totals.totals(con)

    def fail():
        raise RuntimeError("the machine went away")

    stage(staging, "r2", [post(2, ["maths", "newtag"])])
    with pytest.raises(RuntimeError):
        load_staging(con, staging, before_commit=fail)
    assert tag_totals.totals(con) == before
    assert load_staging(con, staging).new_posts == 1                      # loaded later, counted once
    assert dict((r[0], r[3]) for r in assert_recounted(con)["tags_seen"]) == {"maths": 2, "newtag": 1}


def test_a_failed_first_load_counts_nothing(con, tmp_path):
    staging = tmp_path / "staging"
    stage(staging, "r1", [post(1, ["maths"])])

    def fail():
        raise RuntimeError("the machine went away")

    with pytest.raises(RuntimeError):
        load_staging(con, staging, before_commit=fail)
    assert tag_totals.totals(con) == {"tags_seen": [], "tag_days": []}


def test_migration_020_counts_the_posts_loaded_before_it(tmp_path):
    db, staging = tmp_path / "w.duckdb", tmp_path / "staging"
    stage(staging, "r1", [post(1, ["maths", "exams"]), post(2, ["maths"], created=None)])
    with session(db) as con:
        load_staging(con, staging)
        kept = tag_totals.totals(con)
        con.execute("DROP TABLE tags_seen")
        con.execute("DROP TABLE tag_days")
        con.execute("DELETE FROM schema_migrations WHERE version = 20")
    with session(db) as con:                                              # 020 runs again
        assert tag_totals.totals(con) == kept == from_posts(con)
