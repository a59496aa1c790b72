"""The learning loop, measured as an analyst would live it, on real corpora the model never saw.

For each real corpus C given (default: convabuse, stormfront, toxicr), in a fresh data folder:

1. `tagwatch train --offline` with TAGWATCH_CORPORA_DIR holding every other real corpus
   (links to the shared copies; C is absent): the model before any label, promoted;
2. 2,000 of C's posts (whole groups: a thread or conversation is never split between the
   labels and the test) written to a CSV and imported with `tagwatch labels import`;
   (at most half of a small corpus: the rest is the test);
3. `tagwatch train --offline` again: the model with the labels, and whether it was promoted
   (it must be, or the analysts' work would not reach the scores);
4. both models score the rest of C (no imported text, no imported group): PR-AUC, ROC-AUC,
   and at each model's own threshold the share of harmless posts flagged and the recall.

Every step is the real command in its own process (`python -m tagwatch.cli`), the warehouse a
real DuckDB file. Two trainings per corpus: several minutes each on a shared machine.

    python bench/bench_learning_loop.py [--corpora convabuse,stormfront] [--labels 2000]
        [--json out.json]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from classifiers import store
from classifiers.corpora import DIAGNOSTIC_SUITES, TRAINING_CORPORA, load_training_corpus
from classifiers.text import normalise_many

DEFAULT_CORPORA = ("convabuse", "stormfront", "toxicr")
SEED = 20211


def tagwatch(env: dict, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "tagwatch.cli", *args], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"tagwatch {' '.join(args)} failed ({proc.returncode}):\n"
                         f"{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def split_by_group(groups: np.ndarray, n_labels: int, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask of about n_labels rows, taken a whole group at a time in random order."""
    chosen = np.zeros(len(groups), bool)
    order = rng.permutation(np.unique(groups))
    rows_of = {g: np.flatnonzero(groups == g) for g in order} if len(order) < 50_000 else None
    for g in order:
        if chosen.sum() >= n_labels:
            break
        chosen[rows_of[g] if rows_of is not None else groups == g] = True
    return chosen


def measure(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    return {"pr_auc": round(float(average_precision_score(y, scores)), 4),
            "roc_auc": round(float(roc_auc_score(y, scores)), 4),
            "harmless_flagged": round(float((scores[y == 0] >= threshold).mean()), 4),
            "recall": round(float((scores[y == 1] >= threshold).mean()), 4),
            "threshold": round(float(threshold), 4)}


def one_round(name: str, shared: Path, n_labels: int, work: Path) -> dict:
    corpora = work / "corpora"
    corpora.mkdir(parents=True)
    for other in (*TRAINING_CORPORA, *DIAGNOSTIC_SUITES):
        if other != name and (shared / other).is_dir():
            (corpora / other).symlink_to((shared / other).resolve())
    env = {**os.environ, "TAGWATCH_DATA_DIR": str(work / "data"),
           "TAGWATCH_CORPORA_DIR": str(corpora)}
    t0 = time.perf_counter()
    before_out = tagwatch(env, "train", "--offline")
    before_version = before_out.split("trained model ")[1].split()[0]

    corpus = load_training_corpus(name, shared)
    rng = np.random.default_rng(SEED)
    # A small corpus gives at most half of its posts: the rest is the test.
    imported = split_by_group(corpus.groups, min(n_labels, len(corpus.texts) // 2), rng)
    labels_csv = work / "labels.csv"
    with labels_csv.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows((t, int(y)) for t, y, i in zip(corpus.texts, corpus.labels, imported) if i)
    tagwatch(env, "labels", "import", str(labels_csv), "--by", "bench")
    after_out = tagwatch(env, "train", "--offline")
    after_version = after_out.split("trained model ")[1].split()[0]
    decision = next((line for line in after_out.splitlines()
                     if line.startswith(("promoted", "NOT promoted"))), "")

    seen = set(normalise_many([t for t, i in zip(corpus.texts, imported) if i]))
    test = np.array([not i and n not in seen for i, n in
                     zip(imported, normalise_many(corpus.texts))])
    texts = [t for t, k in zip(corpus.texts, test) if k]
    y = corpus.labels[test]
    models = work / "data" / "models"
    result = {"corpus": name, "imported": int(imported.sum()), "test_posts": int(test.sum()),
              "test_abusive": int(y.sum()), "promoted": decision.startswith("promoted"),
              "decision": decision, "seconds": round(time.perf_counter() - t0)}
    for which, version in (("before", before_version), ("after", after_version)):
        scorer = store.load(models, version)
        result[which] = measure(y, np.nan_to_num(scorer.score(texts)), scorer.threshold)
    result["gain"] = round(result["after"]["pr_auc"] - result["before"]["pr_auc"], 4)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", default=",".join(DEFAULT_CORPORA))
    parser.add_argument("--labels", type=int, default=2000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    shared = Path(os.environ.get("TAGWATCH_CORPORA_DIR") or "../shared/corpora")
    results = []
    for name in args.corpora.split(","):
        with tempfile.TemporaryDirectory(prefix=f"learning-loop-{name}-") as tmp:
            r = one_round(name, shared, args.labels, Path(tmp))
        results.append(r)
        b, a = r["before"], r["after"]
        print(f"{name:18} labels {r['imported']:5} test {r['test_posts']:6} | PR-AUC "
              f"{b['pr_auc']:.3f} -> {a['pr_auc']:.3f} ({r['gain']:+.3f}) | ROC-AUC "
              f"{b['roc_auc']:.3f} -> {a['roc_auc']:.3f} | harmless flagged "
              f"{b['harmless_flagged']:.3f} -> {a['harmless_flagged']:.3f} | recall "
              f"{b['recall']:.3f} -> {a['recall']:.3f} | "
              f"{'promoted' if r['promoted'] else 'NOT promoted'} ({r['seconds']} s)", flush=True)
    gains = [r["gain"] for r in results]
    print(f"mean PR-AUC gain {np.mean(gains):+.3f}; >= 0.05 on {sum(g >= 0.05 for g in gains)} "
          f"of {len(gains)} corpora; promoted {sum(r['promoted'] for r in results)} of {len(results)}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
