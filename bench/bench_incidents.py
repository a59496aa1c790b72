"""Incidents: the backfill of N existing cases, one new case against that history, and the queue.

N synthetic posts (words from a 3,000-word vocabulary, 10 to 40 words each) on two platforms,
one case each; every tenth post is an earlier post with one word changed (a near-copy), every
seventh links one of N/5 news stories. Prints cases per second of the backfill, how the cases
were grouped, the time to assign one new case (a near-copy on a third platform) and to read a
500-case queue. Usage: bench/bench_incidents.py [--cases 20000] [--db PATH]
"""
from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from review import cases as cs
from review import incidents
from warehouse.db import session


def fill(con, n: int) -> list[str]:
    rng = random.Random(1)
    vocab = [f"w{i}" for i in range(3000)]
    texts: list[str] = []
    for i in range(n):
        if i % 10 == 3 and texts:
            words = rng.choice(texts).split()
            words[rng.randrange(len(words))] = "changed"
            text = " ".join(words)
        else:
            text = " ".join(rng.choice(vocab) for _ in range(rng.randint(10, 40)))
            if i % 7 == 0:
                text += f" https://news.example.org/story/{rng.randrange(max(1, n // 5))}"
        texts.append(text)
    now = datetime.now(timezone.utc)
    con.execute("INSERT INTO posts (platform, post_id, text, first_seen_at, last_seen_at) "
                "SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), ?, ?",
                [["mastodon" if i % 2 else "bluesky" for i in range(n)], [f"p{i:09d}" for i in range(n)],
                 texts, now, now])
    con.execute("INSERT INTO cases (platform, post_id, origin, opened_at, opened_by) "
                "SELECT platform, post_id, 'flagged', ?, 'bench' FROM posts ORDER BY post_id", [now])
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20000)
    parser.add_argument("--db", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.duckdb"
        with session(db) as con:
            texts = fill(con, args.cases)
            started = time.perf_counter()
            n = incidents.assign(con)
            took = time.perf_counter() - started
            print(f"backfill: {n} cases in {took:.1f} s = {n / took:,.0f} cases/s")
            grouped = con.execute("SELECT count(DISTINCT incident_id), count(*) FILTER (reason = 'text_hash'), "
                                  "count(*) FILTER (reason = 'near_duplicate'), count(*) FILTER (reason = 'link') "
                                  "FROM case_incidents").fetchone()
            print("incidents {:,}; joined by text hash {:,}, near-duplicate {:,}, link {:,}".format(*grouped))
            now = datetime.now(timezone.utc)
            con.execute("INSERT INTO posts (platform, post_id, text, first_seen_at, last_seen_at) "
                        "VALUES ('tiktok', 'new', ?, ?, ?)", [texts[5] + " again", now, now])
            con.execute("INSERT INTO cases (platform, post_id, origin, opened_at, opened_by) "
                        "VALUES ('tiktok', 'new', 'flagged', ?, 'bench')", [now])
            started = time.perf_counter()
            incidents.assign(con)
            print(f"one new case against {n:,}: {1000 * (time.perf_counter() - started):.0f} ms")
            started = time.perf_counter()
            cs.list_cases(con, ("DETECTED",), limit=500)
            print(f"queue of 500 of {n + 1:,} cases: {1000 * (time.perf_counter() - started):.0f} ms")


if __name__ == "__main__":
    main()
