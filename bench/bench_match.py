"""Variant matching throughput: 100,000 distinct observed tags against a 1,000-tag
watchlist on 2 cores (radar.match.match_all with 2 forked workers; synthetic, seeded: tag-like word compounds, 5% of them variants of watched
tags). Prints the time to build the index and to match; the target is under 10 s."""
from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from radar.match import WatchIndex, match_all  # noqa: E402

WORDS = ("teacher staff school slap kick rate expose devious lick roast dox stalk punch fight "
         "creepy head class room life tips tok love hate day week fun art music dance food cat dog "
         "mum dad nurse coach maths science history exam test grade sir miss head office bus yard "
         "play game win lose team club gang squad trend viral real fake news hot cold red blue").split()
LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}


def compound(rng: random.Random) -> str:
    return "".join(rng.choice(WORDS) for _ in range(rng.randint(2, 4)))


def variant(rng: random.Random, tag: str) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return "".join(LEET.get(c, c) if rng.random() < 0.3 else c for c in tag)
    if kind == 1:
        i = rng.randrange(len(tag))
        return tag[:i] + tag[i] * 3 + tag[i + 1:]
    if kind == 2:
        i = rng.randrange(1, len(tag))
        return tag[:i] + "_" + tag[i:]
    return tag + rng.choice(("s", "challenge", "2", "z"))


def main(watched_n: int = 1000, observed_n: int = 100_000, repeats: int = 3) -> None:
    rng = random.Random(6)
    watched = list(dict.fromkeys(compound(rng) for _ in range(watched_n * 2)))[:watched_n]
    observed: set[str] = set()
    while len(observed) < observed_n:
        observed.add(variant(rng, rng.choice(watched)) if rng.random() < 0.05 else compound(rng))
    observed_list = sorted(observed)
    for attempt in range(repeats):
        t0 = time.perf_counter()
        index = WatchIndex(watched)
        t1, c1 = time.perf_counter(), time.process_time()
        matched = sum(1 for t in observed_list if index.match(t).tag)
        t2, c2 = time.perf_counter(), time.process_time()
        parallel = match_all(index, observed_list, workers=2)
        t3 = time.perf_counter()
        assert sum(1 for m in parallel if m.tag) == matched
        # Wall time depends on what else the machine runs; CPU time of one process does not.
        print(f"match: {observed_n:,} distinct tags vs {len(watched):,} watched: index {t1 - t0:.2f} s; "
              f"1 process {t2 - t1:.2f} s wall, {c2 - c1:.2f} s CPU; 2 workers {t3 - t2:.2f} s wall; "
              f"{matched:,} matched [run {attempt + 1}/{repeats}; target < 10 s]")

if __name__ == "__main__":
    main()
