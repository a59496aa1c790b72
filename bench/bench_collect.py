"""A full collection of 200 tags across the Mastodon, Bluesky and TikTok fakes, 50 ms latency.

Prints, for each size (total posts across the three platforms, each size in a fresh
process), the wall time against the bound the rate limits set, and how much the collecting
process's peak RSS grew while collecting (or, with --trace-memory, tracemalloc's peak, which
slows the run), which should stay flat as the number of posts grows (pages are streamed to
staging).

* The fakes run in a child process (their in-memory data and CPU are not the
  collectors'); every answer takes `--latency` seconds.
* Collect tasks run as the DAG runs them: one thread pool per platform with as many
  slots as its Airflow pool (Mastodon 4, Bluesky 2, TikTok 1), platforms side by side.
* Rate limits: Mastodon publishes 300 requests / 5 min per IP; the fake applies it
  with time compressed `--time-scale` times (300 per 5 s at 60x), through
  X-RateLimit headers the client obeys. Bluesky's 3,000 / 5 min per IP, compressed
  alike, and TikTok's daily quota do not bind here; what bounds those is the slots
  x latency. The bound of a platform is requests / min(published rate, slots / latency);
  the bound of the run is the slowest platform's.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors import bluesky, tiktok  # noqa: E402
from tagwatch import pipeline  # noqa: E402
from tagwatch.config import Settings  # noqa: E402

SLOTS = {"mastodon": 4, "bluesky": 2, "tiktok": 1}          # the Airflow pools (Makefile)
PUBLISHED = {"mastodon": 300 / 300, "bluesky": 3000 / 300}  # requests per second, per IP
CREDS = {bluesky.IDENTIFIER_VAR: "monitor.example.org", bluesky.PASSWORD_VAR: "app-pass-1234",
         tiktok.KEY_VAR: "ck-test", tiktok.SECRET_VAR: "cs-test"}
NOW = datetime.now(timezone.utc)


def tag_names(count: int) -> list[str]:
    # No tag is a prefix of another: the Bluesky fake searches loosely, like the real one.
    return [f"bench{i:03d}x" for i in range(count)]


def serve(total: int, tags: list[str], latency: float, scale: float, conn) -> None:
    """Child process: build and serve the three fakes until told to stop; report counts."""
    from fakes.bluesky import BlueskyFake, make_post
    from fakes.tiktok import TikTokFake, make_video
    from fakes.mastodon import MastodonReplayServer, make_status

    per = max(1, total // (3 * len(tags)))
    day = NOW - timedelta(days=2)
    statuses, posts, videos = [], [], []
    n = 0
    for tag in tags:
        for _ in range(per):
            n += 1
            stamp = int((day.timestamp() + n) * 1000) << 16  # a snowflake id from a recent time
            statuses.append(make_status(stamp, (tag,)))
            posts.append(make_post(n, (tag,), seconds=int((day - datetime(2026, 1, 1, tzinfo=timezone.utc))
                                                          .total_seconds()) + n))
            videos.append(make_video(n, (tag,), day=day.date().isoformat()))
    window = max(1, round(300 / scale))
    fakes = {
        "mastodon": MastodonReplayServer(statuses, rate_limit=300, rate_window=window,
                                         latency=latency, max_lifetime=None),
        "bluesky": BlueskyFake(posts, latency=latency, max_lifetime=None),
        "tiktok": TikTokFake(videos, latency=latency, max_lifetime=None, daily_quota=100_000),
    }
    for fake in fakes.values():
        fake.start()
    conn.send({name: fake.url for name, fake in fakes.items()})
    conn.recv()  # stop
    conn.send({"mastodon": len(fakes["mastodon"].requests),
               "mastodon_refused": fakes["mastodon"].rate_limited,
               "bluesky": len(fakes["bluesky"].requests),
               "tiktok": len(fakes["tiktok"].requests),
               "posts_per_tag": per})
    for fake in fakes.values():
        fake.stop()


def collect_all(urls: dict[str, str], tags: list[str], settings: Settings, run_id: str) -> list[dict]:
    def one(target):
        return pipeline.collect(target, run_id, settings, credentials=CREDS)

    pools = {p: ThreadPoolExecutor(SLOTS[p]) for p in SLOTS}
    futures = [pools[p].submit(one, {"platform": p, "source": urls[p], "tag": tag,
                                     "since": (NOW - timedelta(days=4)).date().isoformat()})
               for tag in tags for p in SLOTS]
    results = [f.result() for f in futures]
    for pool in pools.values():
        pool.shutdown()
    return results


def run(total: int, tags: list[str], latency: float, scale: float, trace: bool) -> dict:
    parent, child = mp.Pipe()
    server = mp.Process(target=serve, args=(total, tags, latency, scale, child), daemon=True)
    server.start()
    urls = parent.recv()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TAGWATCH_DATA_DIR"] = tmp
        settings = Settings.from_env(user_agent="tagwatch-bench/0 (+https://example.org/tagwatch)")
        if trace:  # exact Python allocations, but it slows allocation-heavy code a lot
            tracemalloc.start()
        rss_before = _rss_mib()
        started = time.perf_counter()
        results = collect_all(urls, tags, settings, f"bench{total}")
        wall = time.perf_counter() - started
        if trace:
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        else:
            peak = _peak_rss_mib() - rss_before
        staged = sum(r["received"] - r["duplicates"] for r in results)
        statuses = sorted({r["status"] for r in results})
    parent.send("stop")
    counts = parent.recv()
    server.join(timeout=10)
    return {"total": total, "wall": wall, "peak_mb": peak, "staged": staged,
            "statuses": statuses, "counts": counts}


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_fresh_process(total: int, tags: list[str], latency: float, scale: float, trace: bool) -> dict:
    """Each size in its own process, so one size's peak cannot hide the next one's."""
    parent, child = mp.Pipe()

    def target():
        child.send(run(total, tags, latency, scale, trace))
    worker = mp.Process(target=target)
    worker.start()
    result = parent.recv()
    worker.join()
    return result


def bound(counts: dict, latency: float, scale: float) -> tuple[float, dict[str, float]]:
    per = {}
    for platform, slots in SLOTS.items():
        rate = slots / latency
        if platform in PUBLISHED:
            rate = min(rate, PUBLISHED[platform] * scale)
        per[platform] = counts[platform] / rate
    return max(per.values()), per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tags", type=int, default=200)
    parser.add_argument("--sizes", default="10000,100000", help="total posts, comma-separated")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--time-scale", type=float, default=10.0,
                        help="how much faster than real time the rate-limit windows run")
    parser.add_argument("--trace-memory", action="store_true",
                        help="peak from tracemalloc (slow) instead of the growth of max RSS")
    args = parser.parse_args()
    tags = tag_names(args.tags)
    print(f"collect: {args.tags} tags x 3 platforms, {args.latency * 1000:.0f} ms latency, "
          f"rate-limit windows {args.time_scale:g}x faster than real")
    for total in (int(s) for s in args.sizes.split(",")):
        r = in_fresh_process(total, tags, args.latency, args.time_scale, args.trace_memory)
        limit, per = bound(r["counts"], args.latency, args.time_scale)
        c = r["counts"]
        print(f"  {total:>7} posts ({c['posts_per_tag']}/tag/platform): staged {r['staged']:>7}, "
              f"statuses {','.join(r['statuses'])}")
        print(f"    requests: mastodon {c['mastodon']} (refused for the rate limit: "
              f"{c['mastodon_refused']}), bluesky {c['bluesky']}, tiktok {c['tiktok']}")
        print("    bound: " + ", ".join(f"{p} {s:.1f} s" for p, s in per.items())
              + f" -> {limit:.1f} s")
        what = "peak traced memory" if args.trace_memory else "peak RSS growth while collecting"
        print(f"    wall {r['wall']:.1f} s = {r['wall'] / limit:.2f}x the bound; {what} "
              f"{r['peak_mb']:.1f} MiB")


if __name__ == "__main__":
    main()
