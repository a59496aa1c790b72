"""The same day's work on a small and a large warehouse: does anything scan all history?

For each size, a warehouse is generated directly in DuckDB SQL (not through the collectors):
posts over 30 days with realistic texts (median about 120 characters, 2% between 1,000 and
2,000; about 200 hashtags, 50,000 authors, 3% abusive), their scores by the current model,
cases for the flagged ones (older ones reviewed, the last two days' still open) and the
radar's tag matches. Then, in a fresh process, the daily work runs on it with the same
increment of new posts, each step timed:

  collect (Mastodon fake in another process -> staging) -> load -> score -> open cases ->
  radar refresh -> flagged list -> report (7 days) -> first queue page (p95 of 20 requests
  through the web app) -> resurfacing view

It prints each step per size, the ratio largest / smallest, the daily run's peak RSS, and
the file size (bytes per million posts). Usage:

  python bench/bench_scale.py                       # 100,000 and 10,000,000 posts (make bench-scale)
  python bench/bench_scale.py --sizes 20000,200000 --increment 10000   # quick (make bench)
"""
from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STEPS = ("collect", "load", "score", "open_cases", "radar", "flagged", "report", "queue_p95",
         "resurfacing")
NOW = datetime.now(timezone.utc)
TAGS = [f"{w}{i}" for i, w in enumerate(["teacher", "school", "staff", "class", "exam", "head",
                                           "pupil", "homework"] * 25)]   # 200 tags
WORDS = ("the a to and of in is it you that was for on are with as i his they be at one have "
         "this from or had by not but what some we can out other were all there when up use "
         "your how said an each she which do their time if will way about many then them "
         "would write like so these her long make thing see him two has look more day could "
         "go come did number sound no most people my over know water than call first who may "
         "down side been now find any new work part take get place made live where after back "
         "little only round man year came show every good me give our under name very through "
         "just form sentence great think say help low line differ turn cause much mean before "
         "move right boy old too same tell does set three want air well also play small end "
         "put home read hand port large spell add even land here must big high such follow "
         "lesson today tired lunch break room").split()
ABUSE = ("our teacher is a creep and should be slapped", "expose this teacher she is disgusting",
         "someone should hurt mr invented", "miss nobody is a pervert spread it",
         "kick the head teacher out of school tomorrow")


def settings_for(work: Path, size: int):
    from tagwatch.config import Settings

    return Settings.from_env(db_path=work / f"w{size}.duckdb", data_dir=work / f"data{size}",
                             staging_dir=work / f"staging{size}", models_dir=work / "models")


# --- building the warehouse ------------------------------------------------------------------

def build(work: Path, size: int) -> dict:
    """Generate `size` posts (30 days up to two days ago), scores, cases and tag matches."""
    from classifiers.store import load as load_model
    from review.cases import utcnow
    from warehouse import queries, tag_totals
    from warehouse.db import session
    from warehouse.resurfacing import refresh

    settings = settings_for(work, size)
    settings.db_path.unlink(missing_ok=True)
    version = load_model(settings.models_dir).version
    started = time.perf_counter()
    with session(settings.db_path) as con:
        con.execute("SET memory_limit = '16GB'")   # generating 10M posts at once, keyed in one go
        con.execute("SET preserve_insertion_order = false")
        _posts(con, size)
        tag_totals.recount(con)   # posts written here, not by the loader: count their tags
        _scores_and_cases(con, version, utcnow())
        for tag in TAGS[:20]:
            queries.watchlist_add(con, tag, "flagged")
        refresh(con)
        con.execute("CHECKPOINT")
    return {"size": size, "build_s": time.perf_counter() - started,
            "bytes": settings.db_path.stat().st_size}


def _posts(con, size: int) -> None:
    start = NOW - timedelta(days=32)
    step_us = int(30 * 86400 * 1e6 / size)
    words = "[" + ", ".join(f"'{w}'" for w in WORDS) + "]"
    abuse = "[" + ", ".join(f"'{a}'" for a in ABUSE) + "]"
    tags = "[" + ", ".join(f"'{t}'" for t in TAGS) + "]"
    # h(): a hash that fits BIGINT (DuckDB's hash() is unsigned).
    con.execute("CREATE OR REPLACE TEMP MACRO h(x) AS (hash(x) >> 1)::BIGINT")
    # A pool of texts, picked by hash: 2% long (150-330 words), the rest 8-33 words.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE pool AS
        SELECT i AS pid, array_to_string(list_transform(range(CASE WHEN h(i) % 50 = 0
                   THEN 150 + h(i + 1) % 180 ELSE 8 + h(i + 1) % 26 END),
                   lambda j: {words}[1 + h(i * 1000 + j) % {len(WORDS)}]), ' ') AS text
        FROM range(100000) t(i)""")
    con.execute(f"""
        INSERT INTO posts (platform, post_id, url, text, created_at, hashtags, author_key, lang,
            reply_count, share_count, like_count, view_count, source, source_post_id,
            first_seen_at, last_seen_at)
        SELECT 'mastodon', 'https://hist.example/users/u/statuses/' || i,
               'https://hist.example/@u/' || i,
               CASE WHEN h(i) % 100 < 3 THEN {abuse}[1 + h(i) % {len(ABUSE)}] || ' ' || p.text
                    ELSE p.text END,
               ts, [{tags}[1 + h(i + 7) % 200], {tags}[1 + h(i + 8) % 200]],
               'author' || h(i + 3) % 50000, 'en', h(i + 4) % 5, h(i + 5) % 5,
               h(i + 6) % 40, NULL, 'https://hist.example', i::VARCHAR, ts, ts
        FROM (SELECT i, TIMESTAMPTZ '{start.isoformat()}' + to_microseconds(i * {step_us}) AS ts
              FROM range({size}) t(i)) q
        JOIN pool p ON p.pid = h(q.i) % 100000
        ORDER BY ts""")


def _scores_and_cases(con, version: str, now) -> None:
    con.execute("""
        INSERT INTO scores (platform, post_id, model_version, score, label, scored_at, staff_target)
        SELECT platform, post_id, ?, CASE WHEN flagged THEN 0.9 ELSE 0.05 END, flagged,
               first_seen_at, CASE WHEN flagged THEN 1.0 ELSE 0.0 END
        FROM (SELECT *, h(source_post_id::BIGINT) % 100 < 3 AS flagged FROM posts)""", [version])
    con.execute("""
        INSERT INTO cases (platform, post_id, origin, opened_at, opened_by)
        SELECT platform, post_id, 'flagged', scored_at, 'tagwatch' FROM scores WHERE label
        ORDER BY scored_at""")
    con.execute("""
        INSERT INTO case_events (case_id, from_state, to_state, actor, occurred_at, automated, note)
        SELECT case_id, NULL, 'DETECTED', 'tagwatch', opened_at, TRUE, 'flagged by the classifier'
        FROM cases ORDER BY case_id""")
    # Older cases were reviewed: most dismissed, some confirmed (the open queue is recent).
    con.execute("""
        INSERT INTO case_events (case_id, from_state, to_state, actor, occurred_at, automated, note)
        SELECT case_id, 'DETECTED', CASE WHEN case_id % 4 = 0 THEN 'CONFIRMED' ELSE 'DISMISSED' END,
               'reviewer', opened_at + INTERVAL 1 DAY, FALSE, NULL
        FROM cases WHERE opened_at < ? - INTERVAL 4 DAY ORDER BY case_id""", [now])
    from review import incidents
    from warehouse import queue_keys
    queue_keys.fill(con)   # what the case openers write beside each case: the queue's keys
    # ... and its incident (else the day's first case opening backfills every case built here:
    # 300,000 at 10,000,000 posts, timed as the day's work)
    incidents.assign(con)


# --- the daily work ----------------------------------------------------------------------------

def serve(statuses_args: tuple, conn) -> None:
    """Child process: the Mastodon fake holding the day's new posts, until told to stop."""
    from fakes.mastodon import MastodonReplayServer, make_status

    count, tags, seed = statuses_args
    rng = random.Random(seed)
    base = NOW - timedelta(hours=20)
    statuses = []
    for n in range(count):
        words = rng.choices(WORDS, k=rng.randint(150, 330) if n % 50 == 0 else rng.randint(8, 33))
        text = (rng.choice(ABUSE) + " " if rng.random() < 0.03 else "") + " ".join(words)
        tag = tags[n % len(tags)]
        stamp = int((base.timestamp() + n * 0.5) * 1000) << 16
        statuses.append(make_status(stamp, (tag,), content=f"<p>{text} #{tag}</p>",
                                    domain="new.example"))
    with MastodonReplayServer(statuses, max_lifetime=None) as fake:
        conn.send(fake.url)
        conn.recv()


def timed(results: dict, name: str, fn, *args, **kwargs):
    started = time.perf_counter()
    out = fn(*args, **kwargs)
    results[name] = time.perf_counter() - started
    return out


def daily(work: Path, size: int, increment: int) -> dict:
    from tagwatch import pipeline

    settings = settings_for(work, size)
    tags = TAGS[:4]
    here, there = mp.Pipe()
    fake = mp.get_context("spawn").Process(target=serve, args=((increment, tags, size), there))
    fake.start()
    url = here.recv()
    results: dict = {"size": size}
    try:
        run_id = f"daily{size}"
        targets = [{"platform": "mastodon", "source": url, "tag": t, "watermark": None,
                    "since": (NOW - timedelta(days=1)).date().isoformat()} for t in tags]
        with ThreadPoolExecutor(4) as pool:  # the tagwatch_mastodon pool's 4 slots
            timed(results, "collect", lambda: list(pool.map(
                lambda t: pipeline.collect(t, run_id, settings), targets)))
    finally:
        here.send("stop")
        fake.join(30)
    loaded = timed(results, "load", pipeline.load, run_id, settings)
    results["new_posts"] = loaded["new_posts"]
    scored = timed(results, "score", pipeline.score_new, settings, with_cases=False)
    results["flagged_new"] = scored["flagged"]
    results["cases_opened"] = timed(results, "open_cases", pipeline.open_cases, settings)
    timed(results, "radar", pipeline.refresh_radar, settings)
    timed(results, "flagged", pipeline.flagged_list, settings)
    timed(results, "report", _report, settings, work / f"report{size}")
    results["queue_p95"], results["queue_rows"] = _queue_p95(settings)
    timed(results, "resurfacing", _resurfacing, settings)
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["bytes"] = settings.db_path.stat().st_size
    return results


def _report(settings, out_dir: Path) -> None:
    from reports.build import build as build_report

    build_report(settings.db_path, "7d", out_dir)


def _resurfacing(settings) -> None:
    from warehouse.db import session
    from warehouse.resurfacing import resurfacing_view

    with session(settings.db_path, read_only=True) as con:
        resurfacing_view(con, NOW - timedelta(days=1))


def _queue_p95(settings) -> tuple[float, int]:
    """The reviewers' first page, through the web app, 20 times."""
    from fastapi.testclient import TestClient

    from review import users
    from warehouse.db import session
    from webapp.app import create_app

    with session(settings.db_path) as con:
        if not con.execute("SELECT 1 FROM users WHERE name = 'bench'").fetchone():
            users.add_user(con, "bench", "analyst", "a bench passphrase")
    # As `tagwatch serve` does before it serves: this process's objects (the day's work, the
    # model) out of the garbage collector's full passes, which paused requests 60-350 ms.
    gc.collect()
    gc.freeze()
    # As a context manager the app's shutdown runs: it lets go of the warehouse it kept open.
    with TestClient(create_app(settings.db_path, settings=settings)) as client:
        page = client.get("/login").text
        token = page.split('name="csrf" value="')[1].split('"')[0]
        client.post("/login", data={"csrf": token, "name": "bench", "password": "a bench passphrase"})
        times = []
        for _ in range(20):
            started = time.perf_counter()
            page = client.get("/")
            times.append(time.perf_counter() - started)
            assert page.status_code == 200, page.status_code
    return statistics.quantiles(times, n=20)[-1], page.text.count("/cases/")


# --- driving ----------------------------------------------------------------------------------

def ensure_model(work: Path) -> None:
    from classifiers import data, store, training

    models = work / "models"
    if not (models / "CURRENT").exists():
        store.save(training.train([data.seed_dataset()]), models)


def child(args: list[str]) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode:
        raise SystemExit(f"bench_scale {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,10000000")
    parser.add_argument("--increment", type=int, default=100_000)
    parser.add_argument("--work", default=str(ROOT / "data" / "bench-scale"))
    parser.add_argument("--build", type=int, help=argparse.SUPPRESS)   # child: build one size
    parser.add_argument("--daily", type=int, help=argparse.SUPPRESS)   # child: one daily run
    parser.add_argument("--keep", action="store_true", help="keep the warehouses afterwards")
    args = parser.parse_args(argv)
    work = Path(args.work)
    os.environ["TAGWATCH_PSEUDONYM_KEY"] = "bench-key-not-secret"
    if args.build:
        print(json.dumps(build(work, args.build)))
        return 0
    if args.daily:
        print(json.dumps(daily(work, args.daily, args.increment)))
        return 0
    work.mkdir(parents=True, exist_ok=True)
    ensure_model(work)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    for size in sizes:
        built = child(["--work", str(work), "--build", str(size)])
        print(f"built {size:,} posts in {built['build_s']:.0f} s: "
              f"{built['bytes'] / size * 1e6 / 2**20:,.0f} MiB per million posts", flush=True)
        rows.append({**child(["--work", str(work), "--daily", str(size),
                              "--increment", str(args.increment)]), "built_bytes": built["bytes"]})
        print(json.dumps(rows[-1]), flush=True)
        if not args.keep:
            for leftover in work.glob(f"*{size}*"):
                subprocess.run(["rm", "-rf", str(leftover)], check=True)
    print_table(rows, args.increment)
    return 0


def print_table(rows: list[dict], increment: int) -> None:
    first, last = rows[0], rows[-1]
    print(f"\nThe day's work: {increment:,} new posts "
          f"(new {last['new_posts']:,}, flagged {last['flagged_new']:,}, cases opened "
          f"{last['cases_opened']:,})")
    print(f"{'step':<12}" + "".join(f"{r['size']:>14,}" for r in rows) + f"{'ratio':>8}")
    for step in STEPS:
        unit = 1000 if step == "queue_p95" else 1
        cells = "".join(f"{r[step] * unit:>13.2f}{'m' if unit == 1000 else 's'}" for r in rows)
        print(f"{step:<12}{cells}{last[step] / first[step]:>8.2f}")
    print(f"{'peak RSS':<12}" + "".join(f"{r['peak_rss_mb']:>11,.0f} MB" for r in rows))
    print(f"{'file':<12}" + "".join(f"{r['bytes'] / 2**20:>10,.0f} MiB" for r in rows))
    print(f"{'per 1M posts':<12}" + "".join(
        f"{r['built_bytes'] / r['size'] * 1e6 / 2**20:>10,.0f} MiB" for r in rows))


if __name__ == "__main__":
    sys.exit(main())
