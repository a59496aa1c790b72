"""Measuring a model on labelled posts: the numbers `tagwatch evaluate` prints, and the PR curve."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from sklearn.metrics import precision_recall_curve

from classifiers.scoring import Scorer
from classifiers.training import metrics

RELIABILITY_BINS = 10


def evaluate(scorer: Scorer, texts: list[str], labels: np.ndarray) -> dict:
    """Metrics at the model's threshold, and a reliability table, over the scorable posts."""
    scores = scorer.score(texts)
    scorable = ~np.isnan(scores)
    y, s = labels[scorable], scores[scorable]
    result = metrics(y, s, scorer.threshold)
    result["unscorable"] = int((~scorable).sum())
    result["threshold"] = round(scorer.threshold, 4)
    result["reliability"] = reliability(y, s)
    result["_scores"], result["_labels"] = s, y
    return result


def reliability(y: np.ndarray, scores: np.ndarray, bins: int = RELIABILITY_BINS) -> list[dict]:
    """Per score band: how many posts, their mean score, and how many were really abusive.

    Calibrated scores have mean score close to the abusive fraction in every band.
    """
    edges = np.linspace(0, 1, bins + 1)
    band = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    table = []
    for b in range(bins):
        mask = band == b
        n = int(mask.sum())
        table.append({"band": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "n": n,
                      "mean_score": round(float(scores[mask].mean()), 3) if n else None,
                      "abusive_fraction": round(float(y[mask].mean()), 3) if n else None})
    return table


def plot_pr_curve(y: np.ndarray, scores: np.ndarray, threshold: float, path: Path,
                  title: str) -> Path:
    """Write the precision-recall curve, with the operating point marked, as a PNG."""
    os.environ.setdefault("MPLCONFIGDIR", tempfile.gettempdir())
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    precision, recall, thresholds = precision_recall_curve(y, scores)
    at = np.searchsorted(thresholds, threshold)
    at = min(at, len(thresholds) - 1)
    fig, ax = plt.subplots(figsize=(6, 5), dpi=100)
    try:
        ax.plot(recall, precision, lw=2, label="model")
        ax.axhline(y.mean(), color="grey", ls="--", lw=1, label=f"chance ({y.mean():.2f})")
        ax.plot([recall[at]], [precision[at]], "o", color="red",
                label=f"threshold {threshold:.2f}: P {precision[at]:.2f}, R {recall[at]:.2f}")
        ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title=title)
        ax.legend(loc="lower left")
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
