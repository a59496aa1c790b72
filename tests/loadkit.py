"""Posts staged and loaded through the real loader, for the tests of what the loader keeps
beside the posts (tag totals, the radar's counts per day)."""
from __future__ import annotations

from collectors.staging import StagingWriter


def post(n: int, tags, created="2026-03-01T23:30:00Z", collected="2026-03-02T08:00:00Z") -> dict:
    """Mastodon post number `n` carrying `tags` (an invented instance and author)."""
    return {"platform": "mastodon", "post_id": f"https://school.example/users/u{n}/statuses/{n}",
            "url": f"https://school.example/@u{n}/{n}", "text": f"post number {n}",
            "created_at": created, "hashtags": tags, "author_key": f"{n:032x}",
            "source": "https://school.example", "source_post_id": str(n), "collected_at": collected}


def stage(staging, run_id, posts, platform="mastodon"):
    """Write `posts` as one finished staging task; returns its manifest."""
    with StagingWriter(staging, run_id, platform, "https://school.example", "t") as writer:
        writer.write_posts(posts)
        return writer.close("ok", None)
