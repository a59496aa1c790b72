"""The scale check as an outsider runs it: warehouses built through `tagwatch import`.

For each size (default 100,000 and 2,000,000 posts), a Zeeschuimer NDJSON export of TikTok
items is written (realistic texts: median about 120 characters, 2% of 1,000-2,000; about
200 hashtags; 50,000 authors; 3% abusive; captured over 30 days up to two days ago, as the
browser extension's `timestamp_collected` says) and imported into an empty warehouse with
`tagwatch import` (load, score, open cases), the import's peak RSS measured. Then the day's
work runs, every step a `tagwatch` command in its own process, timed from outside:

  increment   tagwatch import of 10,000 new posts (captured today): load, score, cases
  flagged     tagwatch flagged (the day's list)
  resurfacing tagwatch resurfacing (refreshes the radar, then the 7-day view)
  report      tagwatch report --out DIR (7 days)
  queue_first the first request of the reviewers' queue page (GET /, tagwatch serve)
  queue_p95   p95 of the next 20 requests of it

The sizes take turns (--rounds days of work each, new posts every day; each step's median),
so a machine whose load changes meanwhile weighs on both alike. It prints each step per size,
the ratio largest / smallest (the goal: at most 1.5), the
queue page's p95 (goal: under 100 ms) and each import's peak RSS (goal: under 2 GB, and not
growing with the size). Usage:

  python bench/bench_outside.py                      # 100,000 and 2,000,000 (make bench-outside)
  python bench/bench_outside.py --sizes 10000,200000 --rounds 3   # quicker (same 20x)
  python bench/bench_outside.py --keep ... then --reuse: the day's work again on the same warehouses
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_scale import ABUSE, TAGS, WORDS  # noqa: E402

STEPS = ("increment", "flagged", "resurfacing", "report", "queue_first", "queue_p95")
PASSWORD = "a bench passphrase"
NOW = datetime.now(timezone.utc)


# --- the exports ------------------------------------------------------------------------------

def write_export(path: Path, count: int, start: datetime, end: datetime, seed: int) -> None:
    """`count` Zeeschuimer TikTok items captured evenly from `start` to `end`."""
    rng = random.Random(seed)
    t0, span = start.timestamp(), (end - start).total_seconds()
    with open(path, "w", encoding="utf-8") as out:
        for n in range(count):
            collected = t0 + span * n / count
            words = rng.choices(WORDS, k=rng.randint(150, 330) if rng.random() < 0.02
                                else rng.randint(8, 33))
            text = (rng.choice(ABUSE) + " " if rng.random() < 0.03 else "") + " ".join(words)
            tags = list(dict.fromkeys(rng.choice(TAGS) for _ in range(rng.randint(1, 3))))
            created = int(collected) - rng.randint(0, 86400)
            video_id = str((created << 32) | (seed * 7919 + n) % (1 << 32))
            data = {"id": video_id, "desc": text + " " + " ".join(f"#{t}" for t in tags),
                    "createTime": created,
                    "author": {"uniqueId": f"author{int(rng.paretovariate(1.2)) % 50000}"},
                    "challenges": [{"title": t} for t in tags],
                    "stats": {"diggCount": rng.randint(0, 500), "shareCount": rng.randint(0, 20),
                              "commentCount": rng.randint(0, 40), "playCount": rng.randint(0, 20000)}}
            out.write(json.dumps({"nav_index": f"1:{n}", "item_id": video_id,
                                  "timestamp_collected": int(collected * 1000),
                                  "source_platform": "tiktok.com",
                                  "source_platform_url": "https://www.tiktok.com/tag/" + tags[0],
                                  "data": data}) + "\n")


# --- running tagwatch as a user would ----------------------------------------------------------

def env_for(work: Path, size: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TAGWATCH_PSEUDONYM_KEY": "bench-key-not-secret",
           "TAGWATCH_DATA_DIR": str(work / f"data{size}"), "TAGWATCH_MODELS_DIR": str(work / "models")}
    env.pop("TAGWATCH_DB", None)
    return env


def tagwatch(env: dict, *args: str, stdin: str | None = None) -> tuple[float, str]:
    """Run one tagwatch command; (wall seconds, what it printed)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tagwatch.cli", *args], env=env, text=True,
                          input=stdin or "", capture_output=True)
    took = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"tagwatch {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return took, done.stdout


def run_measured(env: dict, *args: str) -> tuple[float, float]:
    """Like tagwatch(), with the child's own peak RSS (os.wait4 on it)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tagwatch.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    errs = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    took = time.perf_counter() - started
    if proc.returncode:
        raise SystemExit(f"tagwatch {' '.join(args)} failed ({proc.returncode}):\n"
                         f"{errs.decode(errors='replace')[-3000:]}")
    return took, usage.ru_maxrss / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def queue_times(env: dict, requests: int = 20) -> tuple[float, float, int]:
    """Start `tagwatch serve`, log in, GET / 1 + `requests` times: (first, p95, rows shown)."""
    import httpx

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tagwatch.cli", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        with httpx.Client(base_url=base, timeout=60) as client:
            while True:
                try:
                    page = client.get("/login")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("tagwatch serve did not come up:\n" + server.stderr.read()[-2000:])
                    time.sleep(0.2)
            token = page.text.split('name="csrf" value="')[1].split('"')[0]
            client.post("/login", data={"csrf": token, "name": "bench", "password": PASSWORD})
            times = []
            for _ in range(requests + 1):
                started = time.perf_counter()
                page = client.get("/")
                times.append(time.perf_counter() - started)
                if page.status_code != 200:
                    raise SystemExit(f"queue page answered {page.status_code}")
        return times[0], statistics.quantiles(times[1:], n=20)[-1], page.text.count('href="/cases/')
    finally:
        server.terminate()
        server.wait(30)


# --- one size ---------------------------------------------------------------------------------

def build(work: Path, size: int) -> dict:
    """The history: an export of `size` items imported into an empty warehouse."""
    env = env_for(work, size)
    shutil.rmtree(work / f"data{size}", ignore_errors=True)
    export = work / f"history{size}.ndjson"
    if not export.exists():
        write_export(export, size, NOW - timedelta(days=32), NOW - timedelta(days=2), seed=size)
    took, rss = run_measured(env, "import", "--format", "zeeschuimer", str(export))
    for status, tags in (("banned", TAGS[:3]), ("flagged", TAGS[3:20])):
        tagwatch(env, "watchlist", "add", *tags, "--status", status)
    tagwatch(env, "user", "add", "bench", "--role", "analyst", stdin=PASSWORD + "\n")
    tagwatch(env, "resurfacing")   # the radar as it stood yesterday
    db = work / f"data{size}" / "tagwatch.duckdb"
    return {"size": size, "import_s": took, "import_rss_mb": rss,
            "export_mb": export.stat().st_size / 2**20, "bytes": db.stat().st_size}


def daily(work: Path, size: int, increment: int, round_: int = 0) -> dict:
    env = env_for(work, size)
    export = work / f"today{size}.ndjson"
    write_export(export, increment, NOW - timedelta(hours=20), NOW - timedelta(minutes=5),
                 seed=size + 1 + 1000003 * round_)   # new posts each round
    row: dict = {}
    row["increment"], row["increment_rss_mb"] = run_measured(
        env, "import", "--format", "zeeschuimer", str(export))
    row["flagged"], _ = tagwatch(env, "flagged")
    row["resurfacing"], _ = tagwatch(env, "resurfacing")
    row["report"], _ = tagwatch(env, "report", "--out", str(work / f"report{size}"))
    row["queue_first"], row["queue_p95"], row["queue_rows"] = queue_times(env)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,2000000")
    parser.add_argument("--increment", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="days of work per size, the sizes taking turns (each step: the median)")
    parser.add_argument("--work", default=str(ROOT / "data" / "bench-outside"))
    parser.add_argument("--reuse", action="store_true",
                        help="keep warehouses built by an earlier --keep run (their import is not re-timed)")
    parser.add_argument("--keep", action="store_true", help="keep the warehouses and exports")
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    ensure_model(work)
    sizes = [int(s) for s in args.sizes.split(",")]
    built = {}
    for size in sizes:
        record = work / f"built{size}.json"
        if args.reuse and record.exists():
            built[size] = json.loads(record.read_text())
            continue
        built[size] = build(work, size)
        record.write_text(json.dumps(built[size]))
        print(f"imported {size:,} items ({built[size]['export_mb']:,.0f} MiB export) in "
              f"{built[size]['import_s']:.0f} s, peak RSS {built[size]['import_rss_mb']:,.0f} MB; warehouse "
              f"{built[size]['bytes'] / size * 1e6 / 2**20:,.0f} MiB per million posts", flush=True)
    # The sizes take turns, so a machine whose load changes meanwhile weighs on both alike.
    days: dict[int, list[dict]] = {size: [] for size in sizes}
    for round_ in range(args.rounds):
        for size in (sizes if round_ % 2 == 0 else sizes[::-1]):
            days[size].append(daily(work, size, args.increment, round_))
            print(json.dumps({"size": size, "round": round_, **days[size][-1]}), flush=True)
    rows = [{**built[size], **{k: statistics.median(d[k] for d in days[size]) for k in days[size][0]}}
            for size in sizes]
    print_table(rows, args.increment, args.rounds)
    if not args.keep:
        for size in sizes:
            for leftover in work.glob(f"*{size}*"):
                subprocess.run(["rm", "-rf", str(leftover)], check=True)
    return 0


def ensure_model(work: Path) -> None:
    """A model trained once on the seed data (the commands find it through TAGWATCH_MODELS_DIR)."""
    from classifiers import data, store, training

    models = work / "models"
    if not (models / "CURRENT").exists():
        store.save(training.train([data.seed_dataset()]), models)


def print_table(rows: list[dict], increment: int, rounds: int) -> None:
    first, last = rows[0], rows[-1]
    print(f"\nThe day's work from outside: tagwatch import of {increment:,} new posts, then the lists "
          f"(median of {rounds} rounds)")
    print(f"{'step':<12}" + "".join(f"{r['size']:>14,}" for r in rows) + f"{'ratio':>8}")
    for step in STEPS:
        ms = step.startswith("queue")
        cells = "".join(f"{r[step] * (1000 if ms else 1):>13.{0 if ms else 2}f}{'m' if ms else 's'}"
                        for r in rows)
        print(f"{step:<12}{cells}{last[step] / first[step]:>8.2f}")
    print(f"{'import RSS':<12}" + "".join(f"{r['import_rss_mb']:>11,.0f} MB" for r in rows)
          + "   (the history's import)")
    print(f"{'daily RSS':<12}" + "".join(f"{r['increment_rss_mb']:>11,.0f} MB" for r in rows)
          + "   (the increment's import)")
    print(f"{'per 1M posts':<12}" + "".join(
        f"{r['bytes'] / r['size'] * 1e6 / 2**20:>10,.0f} MiB" for r in rows))


if __name__ == "__main__":
    sys.exit(main())
