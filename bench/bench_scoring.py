"""Scoring throughput: texts per second through the current model, in batches.

Trains a model on the seed set first when none exists in a temporary models
directory, then scores 20,000 texts (Davidson's if TAGWATCH_CORPORA_DIR has it,
else the seed set repeated) in batches of 5,000, as the pipeline does, and
alt-profanity-check on the same texts in the same run, printing the ratio.
Also the model's load time and the process's peak memory. The machine is
shared, so each figure is the median of a few passes: still noisy.
"""
from __future__ import annotations

import csv
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from classifiers import model as m
from tagwatch.config import Settings

REPEATS = 3


def texts(n: int) -> list[str]:
    corpora = os.environ.get("TAGWATCH_CORPORA_DIR")
    path = Path(corpora) / "davidson" / "davidson_train.csv" if corpora else None
    if path and path.exists():
        with open(path, newline="", encoding="utf-8") as fh:
            pool = [row["text"] for row in csv.DictReader(fh)]
    else:
        pool = m.seed_dataset().texts
    return (pool * (n // len(pool) + 1))[:n]


def throughput(score, sample: list[str], repeats: int = REPEATS) -> float:
    """Median texts/s over `repeats` passes, in batches of 5,000 as the pipeline scores."""
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for start in range(0, len(sample), 5000):
            score(sample[start:start + 5000])
        rates.append(len(sample) / (time.perf_counter() - t0))
    return statistics.median(rates)


def main() -> None:
    settings = Settings.from_env()
    with tempfile.TemporaryDirectory() as tmp:
        datasets, _ = m.default_datasets(settings, allow_download=False)
        t0 = time.perf_counter()
        trained = m.train(datasets)
        train_s = time.perf_counter() - t0
        m.save(trained, tmp)
        size_mb = (Path(tmp) / trained.version / m.MODEL_FILE).stat().st_size / 1e6
        loads = []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            scorer = m.load(tmp)
            loads.append(time.perf_counter() - t0)
    sample = texts(20_000)
    scorer.score(sample[:100])  # warm-up
    ours = throughput(scorer.score, sample)
    explained = throughput(lambda batch: scorer.details(batch), sample[:5000], repeats=1)
    print(f"training: {sum(len(d.texts) for d in datasets):,} texts in {train_s:.1f} s")
    print(f"model file {size_mb:.1f} MB; load (checksum + skops) median {statistics.median(loads):.2f} s "
          f"of {REPEATS}")
    print(f"scoring (score only): {ours:,.0f} texts/s, median of {REPEATS} passes over "
          f"{len(sample):,} texts in batches of 5,000 (cores={os.cpu_count()}, shared: noisy)")
    print(f"scoring with categories and explanations (what the pipeline stores): "
          f"{explained:,.0f} texts/s on {min(len(sample), 5000):,} texts")
    try:
        from profanity_check import predict_prob
    except ImportError:
        print("alt-profanity-check is not installed: no comparison (pip install alt-profanity-check)")
    else:
        predict_prob(sample[:100])
        theirs = throughput(predict_prob, sample)
        print(f"alt-profanity-check on the same texts, same batches: {theirs:,.0f} texts/s")
        print(f"ratio ours / alt-profanity-check: {ours / theirs:.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process (training included): {peak:,.0f} MB")


if __name__ == "__main__":
    main()
