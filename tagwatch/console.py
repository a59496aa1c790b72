"""What every `tagwatch` command shares: its settings (--db), the error a user can fix, and
output to the terminal, where untrusted text (post text is written by abusers) is shown safely."""
from __future__ import annotations

import json
import sys
import unicodedata

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
    cells = [[cell(r.get(c), widths.get(c, 40)) for c in columns] for r in rows]
    sizes = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    out("  ".join(c.ljust(sizes[i]) for i, c in enumerate(columns)))
    for row in cells:
        out("  ".join(v.ljust(sizes[i]) for i, v in enumerate(row)))
