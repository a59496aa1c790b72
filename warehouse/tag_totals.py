"""Totals per tag kept beside the posts, so that the radar's daily work never reads every post.

`tags_seen` holds every tag once (first and last sighting, posts carrying it): the radar
matches the tags it has not matched yet from there instead of unnesting all posts.
`tag_days` holds the posts carrying each tag per platform and day posted (created_at, else
first seen), the unit of the radar's daily volume.

The loader is the one writer of posts; it adds each load's new posts here in the same
transaction (`add_posts`), so a load that fails leaves both as they were and a post loaded
again (already in the warehouse) is not counted again. Migration 020 counted the posts loaded
before it. `recount` counts everything again from posts: what the tests check the kept
totals against, and the way back for a warehouse whose posts were written by other means.
"""
from __future__ import annotations

import duckdb

from warehouse.db import transaction

# A post counts once per tag however often the tag is repeated on it; NULL tags are none.
# The day is computed exactly as the radar's daily volume computes it.
_TAGGED = ("SELECT platform, first_seen_at, coalesce(created_at, first_seen_at)::DATE AS day, "
           "unnest(list_distinct(hashtags)) AS tag FROM ({posts})")


def add_posts(con: duckdb.DuckDBPyConnection, posts_sql: str) -> None:
    """Add the posts `posts_sql` selects (columns platform, first_seen_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ, hashtags VARCHAR[]; posts new to the warehouse only) to the
    totals. Call it inside the transaction that adds them to posts."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE tagged_new AS {_TAGGED.format(posts=posts_sql)}")
    try:
        con.execute(
            """
            INSERT INTO tags_seen (tag, first_seen_at, last_seen_at, posts)
            SELECT tag, min(first_seen_at), max(first_seen_at), count(*) FROM tagged_new GROUP BY tag
            ON CONFLICT (tag) DO UPDATE SET
                first_seen_at = least(first_seen_at, excluded.first_seen_at),
                last_seen_at = greatest(last_seen_at, excluded.last_seen_at),
                posts = posts + excluded.posts
            """)
        con.execute(
            """
            INSERT INTO tag_days (tag, platform, day, posts)
            SELECT tag, platform, day, count(*) FROM tagged_new GROUP BY ALL
            ON CONFLICT (tag, platform, day) DO UPDATE SET posts = posts + excluded.posts
            """)
    finally:
        con.execute("DROP TABLE IF EXISTS tagged_new")


def recount(con: duckdb.DuckDBPyConnection) -> None:
    """Count both tables again from every post (reads all of posts: not for the daily work)."""
    with transaction(con):
        con.execute("DELETE FROM tags_seen")
        con.execute("DELETE FROM tag_days")
        add_posts(con, "SELECT platform, first_seen_at, created_at, hashtags FROM posts")


def totals(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Both tables' rows, in order (for comparing kept totals with a recount)."""
    return {
        "tags_seen": con.execute("SELECT tag, first_seen_at, last_seen_at, posts FROM tags_seen "
                                 "ORDER BY tag").fetchall(),
        "tag_days": con.execute("SELECT tag, platform, day, posts FROM tag_days "
                                "ORDER BY tag, platform, day").fetchall(),
    }
