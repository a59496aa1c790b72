"""Progress bars for long CLI work, on standard error, only when it is a terminal.

A pipe, a file, cron or Airflow gets nothing (no carriage returns in logs). Domain code
never imports this: it takes an `advance(n)` callback, and the command passes one from here.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator


def _quiet(n: int = 1) -> None:
    return None


@contextmanager
def progress(description: str, total: float | None = None,
             unit: str = "items") -> Iterator[Callable[[int], None]]:
    """`with progress("scoring", total=n) as advance: ... advance(k)`."""
    if not sys.stderr.isatty():
        yield _quiet
        return
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress,
                               TextColumn, TimeElapsedColumn, TimeRemainingColumn)

    amount = DownloadColumn() if unit == "B" else MofNCompleteColumn()
    columns = [TextColumn("{task.description}"), BarColumn(), amount, TimeElapsedColumn()]
    if total:
        columns.append(TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)
