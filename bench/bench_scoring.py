"""Scoring throughput: texts per second through the current model, in batches.

Trains a model on the seed set first when none exists in a temporary models
directory, then scores 20,000 texts (Davidson's if TAGWATCH_CORPORA_DIR has it,
else the seed set repeated) in batches of 5,000, as the pipeline does.
"""
from __future__ import annotations

import csv
import os
import tempfile
import time
from pathlib import Path

from classifiers import model as m
from tagwatch.config import Settings


def texts(n: int) -> list[str]:
    corpora = os.environ.get("TAGWATCH_CORPORA_DIR")
    path = Path(corpora) / "davidson" / "davidson_train.csv" if corpora else None
    if path and path.exists():
        with open(path, newline="", encoding="utf-8") as fh:
            pool = [row["text"] for row in csv.DictReader(fh)]
    else:
        pool = m.seed_dataset().texts
    return (pool * (n // len(pool) + 1))[:n]


def main() -> None:
    settings = Settings.from_env()
    with tempfile.TemporaryDirectory() as tmp:
        datasets, _ = m.default_datasets(settings, allow_download=False)
        t0 = time.perf_counter()
        trained = m.train(datasets)
        train_s = time.perf_counter() - t0
        m.save(trained, tmp)
        scorer = m.load(tmp)
        sample = texts(20_000)
        scorer.score(sample[:100])  # warm-up
        t0 = time.perf_counter()
        for start in range(0, len(sample), 5000):
            scorer.score(sample[start:start + 5000])
        elapsed = time.perf_counter() - t0
    print(f"training: {sum(len(d.texts) for d in datasets):,} texts in {train_s:.1f} s")
    print(f"scoring: {len(sample):,} texts in {elapsed:.2f} s = {len(sample) / elapsed:,.0f} texts/s "
          f"(batches of 5,000, cores={os.cpu_count()})")


if __name__ == "__main__":
    main()
