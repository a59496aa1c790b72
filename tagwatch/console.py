"""What every `tagwatch` command shares: its settings (--db), the error a user can fix, and
output to the terminal, where untrusted text (post text is written by abusers) is shown safely."""
from __future__ import annotations

import json
import os
import shutil
import sys
import unicodedata
from datetime import datetime

from common.csvout import SafeWriter
from tagwatch.config import Settings
from tagwatch.errors import UserError  # noqa: F401 (what commands raise; cli.main prints it)


def settings_from(args) -> Settings:
    """The settings, with the warehouse the command's --db names (else TAGWATCH_DB)."""
    return Settings.from_env(db_path=getattr(args, "db", None))


def out(text: str = "") -> None:
    print(text, flush=True)


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def terminal_safe(text: str) -> str:
    """Control and format characters shown as escapes, so a post cannot move the cursor,
    recolour the terminal, hide text with bidi overrides or forge extra lines."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Zl", "Zp", "Cs") or ch == "\x7f":
            out.append(ch.encode("unicode_escape").decode("ascii") if ch not in "\n\t" else " ")
        else:
            out.append(ch)
    return "".join(out)


def cell(value, width: int = 40) -> str:
    """One table cell: terminal-safe, on one line, cut to `width` characters."""
    text = "" if value is None else str(value)
    text = terminal_safe(" ".join(text.split()))
    return text if len(text) <= width else text[: width - 1] + "…"


def one_line(exc: BaseException, width: int = 400) -> str:
    """An exception's message on one terminal-safe line (it may quote hostile input)."""
    return cell(str(exc) or type(exc).__name__, width)


def table(rows: list[dict], columns: list[str], fmt: str = "table") -> None:
    """Rows as an aligned text table of safe cells, CSV (formulas neutralised) or JSON."""
    if fmt == "csv":
        writer = SafeWriter(sys.stdout, lineterminator="\r\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow([r.get(c) for c in columns])
        return
    if fmt == "json":
        out(json.dumps([{c: r.get(c) for c in columns} for r in rows], default=str, indent=1))
        return
    widths = {"text": 70, "url": 60, "note": 40, "why": 100}
    values = [[_shown(r.get(c)) for c in columns] for r in rows]
    width = _terminal_width()
    headers = [SHORT_HEADERS.get(c, c) if width else c for c in columns]
    sizes = [max([len(headers[i])] + [len(cell(row[i], widths.get(c, 40))) for row in values])
             for i, c in enumerate(columns)]
    if width:
        sizes = _fit(columns, sizes, width)
    out("  ".join(h[:sizes[i]].ljust(sizes[i]) for i, h in enumerate(headers)).rstrip())
    for row in values:
        out("  ".join(cell(v, sizes[i]).ljust(sizes[i]) for i, v in enumerate(row)).rstrip())


# Columns of free text that give up width first when a table is wider than the terminal.
SHRINKABLE = ("text", "why", "url", "note", "tags", "categories", "synonyms", "base_url", "post_id")
MIN_SHRUNK = 8
# Shorter headings on a narrow terminal (CSV and JSON keep the column names).
SHORT_HEADERS = {"incident_id": "incident", "incident_cases": "cases", "staff_target": "staff"}


def _shown(value):
    """Times to the second (microseconds are noise to a reader); everything else as it is."""
    if isinstance(value, datetime):
        return value.replace(microsecond=0).isoformat(sep=" ")
    return value


def _terminal_width() -> int | None:
    """Columns to fit into: the terminal's, or $COLUMNS; None when output is not a terminal."""
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def _fit(columns: list[str], sizes: list[int], width: int) -> list[int]:
    """Narrow the widest free-text column, one character at a time, until the row fits."""
    sizes = list(sizes)
    flexible = [i for i, c in enumerate(columns) if c in SHRINKABLE]
    while flexible and sum(sizes) + 2 * (len(sizes) - 1) > width:
        widest = max(flexible, key=lambda i: sizes[i])
        if sizes[widest] <= MIN_SHRUNK:
            break
        sizes[widest] -= 1
    return sizes
