"""Charts as PNG bytes (matplotlib, no display needed): every one with a title, axis
labels and units, and the numbers written on the bars so nobody has to estimate."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display on servers and in Airflow workers
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

COLOURS = ("#1f5f8b", "#e08a1e", "#6a9f3a", "#9b4d96", "#8c8c8c")


def grouped_bars(title: str, labels: list[str], series: dict[str, list], unit: str,
                 horizontal: bool = False) -> bytes:
    fig, ax = plt.subplots(figsize=(7.5, max(2.8, 0.45 * len(labels) * len(series)) if horizontal else 3.4))
    n = max(len(series), 1)
    width = 0.8 / n
    for i, (name, values) in enumerate(series.items()):
        positions = [x - 0.4 + width * (i + 0.5) for x in range(len(labels))]
        values = [v or 0 for v in values]
        bars = (ax.barh if horizontal else ax.bar)(positions, values, width, label=name,
                                                   color=COLOURS[i % len(COLOURS)])
        ax.bar_label(bars, fmt="%g", fontsize=7, padding=2)
    if horizontal:
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(unit)
    else:
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_ylabel(unit)
    return _finish(fig, ax, title, len(series) > 1, unit)


def stacked_bars(title: str, labels: list[str], series: dict[str, list], unit: str) -> bytes:
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    bottom = [0] * len(labels)
    for i, (name, values) in enumerate(series.items()):
        values = [v or 0 for v in values]
        bars = ax.bar(labels, values, 0.5, bottom=bottom, label=name, color=COLOURS[i % len(COLOURS)])
        ax.bar_label(bars, labels=[str(v) if v else "" for v in values], label_type="center",
                     fontsize=8, color="white")
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylabel(unit)
    return _finish(fig, ax, title, True, unit)


def _finish(fig, ax, title: str, legend: bool, unit: str) -> bytes:
    if unit != "hours":  # counts of posts or cases: whole numbers on the axis
        (ax.xaxis if ax.get_xlabel() == unit else ax.yaxis).set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    if legend:
        ax.legend(fontsize=7, frameon=False, loc="best")
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=110)
    plt.close(fig)
    return out.getvalue()
