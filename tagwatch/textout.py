"""Showing untrusted text (post text is written by abusers) safely on a terminal."""
from __future__ import annotations

import unicodedata


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
