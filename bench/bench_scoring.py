"""Scoring throughput: texts per second through the current model, in batches.

Trains a model on the seed set first when none exists in a temporary models
directory, then scores 20,000 texts (Davidson's if TAGWATCH_CORPORA_DIR has it,
else the seed set repeated) in batches of 5,000, as the pipeline does, and
alt-profanity-check on the same texts in the same run, printing the ratio.
Also the model's load time and peak memory, of training (in a process of its
own) and of scoring (this process: model, texts and alt-profanity-check). The machine is
shared, so each figure is the median of a few passes, and the two scorers'
passes alternate, so a change in the load hits both alike: still noisy.

    python bench/bench_scoring.py [--models-dir DIR]   # DIR: score with its current model,
                                                       # skipping the training figures
"""
from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from classifiers import data, store, training
from tagwatch.config import Settings

REPEATS = 5


def texts(n: int) -> list[str]:
    corpora = os.environ.get("TAGWATCH_CORPORA_DIR")
    path = Path(corpora) / "davidson" / "davidson_train.csv" if corpora else None
    if path and path.exists():
        with open(path, newline="", encoding="utf-8") as fh:
            pool = [row["text"] for row in csv.DictReader(fh)]
    else:
        pool = data.seed_dataset().texts
    return (pool * (n // len(pool) + 1))[:n]


def rate(score, sample: list[str]) -> float:
    """Texts/s of one pass, in batches of 5,000 as the pipeline scores."""
    t0 = time.perf_counter()
    for start in range(0, len(sample), 5000):
        score(sample[start:start + 5000])
    return len(sample) / (time.perf_counter() - t0)


def _train(models_dir: str, out) -> None:
    """In a child process: train on the default data, save, report time, size and memory."""
    datasets, _ = data.default_datasets(Settings.from_env(), allow_download=False)
    t0 = time.perf_counter()
    trained = training.train(datasets)
    seconds = time.perf_counter() - t0
    store.save(trained, models_dir)
    out.put({"texts": sum(len(d.texts) for d in datasets), "seconds": seconds,
             "size_mb": (Path(models_dir) / trained.version / store.MODEL_FILE).stat().st_size / 1e6,
             "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def main() -> None:
    parser = argparse.ArgumentParser(description="scoring throughput beside alt-profanity-check")
    parser.add_argument("--models-dir", type=Path,
                        help="score with this folder's current model instead of training one")
    args = parser.parse_args()
    if args.models_dir is not None:
        scorer, loads, trained = _loaded(args.models_dir)
    else:
        scorer, loads, trained = _trained()
    _compare(scorer, loads, trained)


def _loaded(models_dir: Path):
    loads = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        scorer = store.load(models_dir)
        loads.append(time.perf_counter() - t0)
    size = (models_dir / scorer.version / store.MODEL_FILE).stat().st_size / 1e6
    return scorer, loads, {"size_mb": size}


def _trained():
    with tempfile.TemporaryDirectory() as tmp:
        spawn = multiprocessing.get_context("spawn")
        results = spawn.Queue()
        child = spawn.Process(target=_train, args=(tmp, results))
        child.start()
        trained = results.get()
        child.join()
        loads = []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            scorer = store.load(tmp)
            loads.append(time.perf_counter() - t0)
    return scorer, loads, trained


def _compare(scorer, loads: list[float], trained: dict) -> None:
    sample = texts(20_000)
    scorer.score(sample[:100])  # warm-up
    try:
        from profanity_check import predict_prob
    except ImportError:
        predict_prob = None
    else:
        predict_prob(sample[:100])
    ours, theirs = [], []
    for _ in range(REPEATS):  # alternate passes: both see the same load
        ours.append(rate(scorer.score, sample))
        if predict_prob is not None:
            theirs.append(rate(predict_prob, sample))
    explained = rate(scorer.details, sample[:5000])
    if "seconds" in trained:
        print(f"training: {trained['texts']:,} texts in {trained['seconds']:.1f} s, peak memory "
              f"of the training process {trained['peak_mb']:,.0f} MB")
    print(f"model file {trained['size_mb']:.1f} MB; load (checksum + skops) median {statistics.median(loads):.2f} s "
          f"of {REPEATS}")
    print(f"scoring (score only): {statistics.median(ours):,.0f} texts/s, median of {REPEATS} passes "
          f"over {len(sample):,} texts in batches of 5,000 (cores={os.cpu_count()}, shared: noisy; "
          f"load average {os.getloadavg()[0]:.1f})")
    print(f"scoring with categories and explanations (what the pipeline stores): "
          f"{explained:,.0f} texts/s on {min(len(sample), 5000):,} texts")
    if predict_prob is None:
        print("alt-profanity-check is not installed: no comparison (pip install alt-profanity-check)")
    else:
        print(f"alt-profanity-check on the same texts, same batches: "
              f"{statistics.median(theirs):,.0f} texts/s")
        ratios = sorted(a / b for a, b in zip(ours, theirs))
        print(f"ratio ours / alt-profanity-check: {statistics.median(ratios):.2f} "
              f"(median of {REPEATS} side-by-side passes; range {ratios[0]:.2f}-{ratios[-1]:.2f})")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the scoring process (model, 20,000 texts, alt-profanity-check "
          f"loaded too): {peak:,.0f} MB")


if __name__ == "__main__":
    main()
