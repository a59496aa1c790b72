"""The one CSV writer for every CSV tagwatch writes for people to open.

Analysts open these files in spreadsheets, and a cell that begins with = + - @ (or a tab
or carriage return, which some spreadsheets skip before reading a formula) is run as a
formula: post text, imported hashtags and a school's description are written by
outsiders. OWASP's advice is followed: such a cell gets a leading apostrophe, which
spreadsheets show as text and hide. Only the file is changed; the warehouse keeps the
original text. Numbers (int, float) are written as they are.
"""
from __future__ import annotations

import csv
from typing import Any, Iterable

# The full-width forms too: some spreadsheets read ＝ as =.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralise(value: Any) -> Any:
    """A cell value that no spreadsheet will run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """csv.writer with every cell neutralised (same arguments)."""

    def __init__(self, fh, **options):
        options.setdefault("lineterminator", "\n")
        self._writer = csv.writer(fh, **options)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([neutralise("" if v is None else v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter:
    """csv.DictWriter with every cell neutralised (same arguments)."""

    def __init__(self, fh, fieldnames, **options):
        options.setdefault("lineterminator", "\n")
        self.fieldnames = list(fieldnames)
        self._writer = csv.DictWriter(fh, self.fieldnames, **options)

    def writeheader(self) -> None:
        self._writer.writeheader()

    def writerow(self, row: dict) -> None:
        self._writer.writerow({k: neutralise("" if v is None else v) for k, v in row.items()})

    def writerows(self, rows: Iterable[dict]) -> None:
        for row in rows:
            self.writerow(row)
