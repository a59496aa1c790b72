"""`tagwatch import` of a large Zeeschuimer export: time and peak memory.

Writes an NDJSON export of N TikTok items (realistic descriptions, 1-3 hashtags, invented
authors), then runs `tagwatch import --format zeeschuimer FILE --no-score` as a user would
(a child process) into an empty warehouse and prints its wall time and peak RSS (the
import streams the file to staging in batches, so memory should not grow with N).

  python bench/bench_import.py --items 2000000
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("teacher school class today homework lesson exam lunch break the a and to of in is it "
         "you that was for on are with this what when why who funny look at my our your").split()


def write_export(path: Path, items: int) -> None:
    rng = random.Random(7)
    with open(path, "w", encoding="utf-8") as out:
        for n in range(items):
            tags = rng.sample(("exposeyourteacher", "fyp", "teachersoftiktok", "schoollife",
                               "ratemyteacher", "foryou"), rng.randint(1, 3))
            desc = " ".join(rng.choices(WORDS, k=rng.randint(8, 30))) + " " + \
                " ".join(f"#{t}" for t in tags)
            data = {"id": str(7300000000000000000 + n), "desc": desc,
                    "createTime": 1767225600 + n, "author": {"uniqueId": f"pupil{n % 50000}"},
                    "challenges": [{"title": t} for t in tags],
                    "stats": {"diggCount": n % 97, "shareCount": n % 7, "commentCount": n % 13,
                              "playCount": n % 1000}}
            out.write(json.dumps({"item_id": data["id"], "source_platform": "tiktok.com",
                                  "data": data}) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2_000_000)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="tagwatch-bench-import-"))
    try:
        export = work / "export.ndjson"
        started = time.perf_counter()
        write_export(export, args.items)
        print(f"export of {args.items:,} items: {export.stat().st_size / 2**20:,.0f} MiB "
              f"(written in {time.perf_counter() - started:.0f} s)", flush=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TAGWATCH_DATA_DIR": str(work / "data"),
               "TAGWATCH_PSEUDONYM_KEY": "bench-key-not-secret"}
        env.pop("TAGWATCH_DB", None)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "tagwatch.cli", "import", "--format",
                               "zeeschuimer", str(export), "--no-score"], env=env,
                              capture_output=True, text=True)
        took = time.perf_counter() - started
        if done.returncode:
            print(done.stderr[-2000:], file=sys.stderr)
            return 1
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(done.stdout.strip().splitlines()[-1])
        print(f"import + load: {took:.0f} s ({args.items / took:,.0f} items/s), "
              f"peak RSS {peak:,.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
