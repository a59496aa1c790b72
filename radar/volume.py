"""Spike signal on a daily count series against its own recent history (pure)."""
from __future__ import annotations

from datetime import date, timedelta
from statistics import mean, pstdev

HISTORY_DAYS = 14
MIN_SPIKE_POSTS = 5
SPIKE_SIGMAS = 3.0


def spikes(counts: dict[date, int], days: list[date], history: int = HISTORY_DAYS,
           min_posts: int = MIN_SPIKE_POSTS, sigmas: float = SPIKE_SIGMAS) -> list[dict]:
    """Days among `days` whose count stands out from the `history` days before them
    (missing days count 0): at least `min_posts`, and above mean + sigmas x sd (sd at
    least 1, so a quiet tag needs a real jump, not one post more)."""
    found = []
    for day in days:
        n = counts.get(day, 0)
        if n < min_posts:
            continue
        past = [counts.get(day - timedelta(days=i), 0) for i in range(1, history + 1)]
        base, spread = mean(past), max(pstdev(past), 1.0)
        if n > base + sigmas * spread:
            found.append({"day": day, "posts": n, "baseline": round(base, 2),
                          "ratio": round(n / max(base, 1.0), 1)})
    return found
