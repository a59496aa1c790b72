"""Loader throughput: 1,000,000 synthetic posts through staging into DuckDB, with dedup.

The staging files hold 1,000,000 rows of which 10% repeat a post from another
file (as happens when one post carries several watched tags), so the loader
must drop repeats in the same pass. Then the same staging is re-run with new
content hashes (a re-run task), which exercises the upsert of existing rows.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from collectors.staging import Manifest, StagingWriter
from warehouse.db import connect
from warehouse.loader import load_manifests


def write_staging(root: Path, total: int, files: int, run_id: str, offset: int = 0) -> list[Path]:
    """`files` staging tasks of total/files posts each; the last 10% repeat earlier posts."""
    per_file = total // files
    unique = int(total * 0.9)
    manifests = []
    row = 0
    for f in range(files):
        with StagingWriter(root, run_id, "mastodon", "https://example.invalid", f"tag{f}") as out:
            page = []
            for i in range(per_file):
                n = row % unique + offset
                page.append({
                    "platform": "mastodon", "post_id": f"https://example.invalid/users/u{n % 5000}/statuses/{n}",
                    "url": f"https://example.invalid/@u{n % 5000}/{n}", "text": f"synthetic post {n} #tag{f}",
                    "created_at": "2021-11-20T10:00:00+00:00", "hashtags": [f"tag{f}", "school"],
                    "author_key": f"{n % 5000:032x}", "lang": "en", "reply_count": i % 7,
                    "share_count": i % 3, "like_count": i % 11, "view_count": None,
                    "source": "https://example.invalid", "source_post_id": str(n),
                    "collected_at": f"2021-11-21T00:00:{f:02d}+00:00",
                })
                row += 1
                if len(page) == 5000:
                    out.write_posts(page)
                    page = []
            out.write_posts(page)
            out.manifest.watermark_after = str(row)
        manifests.append(out.manifest_path)
    return manifests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifests = write_staging(root / "staging", args.posts, args.files, "bench-run")
        con = connect(root / "bench.duckdb")
        threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
        t0 = time.perf_counter()
        report = load_manifests(con, manifests)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = load_manifests(con, manifests)
        second = time.perf_counter() - t0
        rows = con.execute("SELECT count(*) FROM posts").fetchone()[0]
        # A second batch into the now populated table: half new posts, half seen before.
        more = write_staging(root / "staging", args.posts, args.files, "bench-run-2",
                             offset=args.posts // 2)
        t0 = time.perf_counter()
        upsert = load_manifests(con, more)
        third = time.perf_counter() - t0
        con.close()
    print(f"loader: {report.received:,} staged rows -> {rows:,} posts "
          f"({report.received - rows:,} repeats dropped) in {first:.2f} s = "
          f"{report.received / first:,.0f} posts/s")
    print(f"loader: same staging again: {again.skipped} files skipped, "
          f"{again.new_posts} new, {second:.3f} s")
    print(f"loader: {upsert.received:,} rows into a table of {rows:,} (upsert path): "
          f"{upsert.new_posts:,} new, {third:.2f} s = {upsert.received / third:,.0f} posts/s")
    print(f"loader: duckdb threads={threads}, cores={os.cpu_count()}, load average "
          f"{os.getloadavg()[0]:.1f} (above ~0.5 other processes share the cores: figures drop)")


if __name__ == "__main__":
    main()
