"""Argument types for the CLI: a bad value is refused by argparse (exit 2, one line)."""
from __future__ import annotations

import argparse


def _whole(text: str, low: int, high: int, what: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{what} must be from {low:,} to {high:,}, not {value:,}")
    return value


def limit(text: str) -> int:
    """How many rows to show: 0 or more."""
    return _whole(text, 0, 10_000_000, "a limit")


def batch_size(text: str) -> int:
    return _whole(text, 1, 1_000_000, "a batch size")


def port(text: str) -> int:
    return _whole(text, 0, 65_535, "a port")


def count(text: str) -> int:
    """How many of something to keep or do: 1 or more."""
    return _whole(text, 1, 100_000, "a number")


def case_id(text: str) -> str:
    """A case id (a number from 1; '#12' is accepted); review.cases reads it again."""
    _whole(text.strip().lstrip("#"), 1, 2**31 - 1, "a case id")
    return text
