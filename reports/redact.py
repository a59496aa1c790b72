"""Post excerpts that are safe to forward: shortened, with people and contact details removed.

Names cannot be recognised reliably without a list of them, so this errs on the side of
removing too much: every capitalised word outside a short list of common words counts
as a name, and so does any word after a title (Mr, Mrs, Miss, ...).
"""
from __future__ import annotations

import re
import unicodedata

EXCERPT_CHARS = 120

_RULES = (
    (re.compile(r"(?i)\b(?:https?://|www\.)\S+"), "[link]"),
    # fediverse handles (@name@instance) before emails, which they look like
    (re.compile(r"(?<![\w@])@[\w.]+(?:@[\w-]+(?:\.[\w-]+)+)?"), "[handle]"),
    (re.compile(r"(?i)\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), "[email]"),
    (re.compile(r"(?<!\w)\+?\(?\d(?:[\s().-]*\d){6,}"), "[phone]"),
    (re.compile(r"(?i)\b\d{1,4}[a-z]?\s+(?:[A-Za-z'’-]+\s+){0,3}(?:road|rd|street|st|lane|ln|avenue|ave|"
                r"close|drive|dr|way|crescent|court|place|gardens|grove|terrace|hill|square|mews|"
                r"row|walk|park)\b\.?"), "[address]"),
    (re.compile(r"(?i)\b[a-z]{1,2}\d[a-z\d]?\s*\d[a-z]{2}\b"), "[address]"),   # UK postcodes
    (re.compile(r"#[^\s#]+"), "[tag]"),
    (re.compile(r"(?i)\b(?:mr|mrs|ms|miss|mx|dr|sir|madam|prof|mister|missus)\b\.?\s+[\w'’-]+"), "[name]"),
)
_WORD = re.compile(r"\b[^\W\d_][\w'’-]*")
COMMON_WORDS = frozenset("""
a about after all also an and any are as at be because been but by can could did do does
don't every for from get go going had has have he her here hers him his how i i'm if in is
isn't it it's just let like look me more my no not now of oh ok okay on once one only or our
out over please report reported she so some someone stop that that's the their them then
there these they this those to too up us very was we well were what when where which who
why will with would yes yet you your you're everyone nobody somebody anyone teacher teachers
school staff head parents parent kids pupils
""".split())


def excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    """`text` with handles, links, emails, phone numbers, addresses, hashtags and names
    replaced by [handle], [link], ..., then cut to `limit` characters at a word."""
    out = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text or "")
    for pattern, mark in _RULES:
        out = pattern.sub(mark, out)
    out = _WORD.sub(_name_or_word, out)
    out = " ".join(out.split())
    if len(out) <= limit:
        return out
    cut = out[: limit - 1].rsplit(" ", 1)[0] if " " in out[: limit - 1] else out[: limit - 1]
    return cut + "…"


def _name_or_word(m: re.Match) -> str:
    word = m.group(0)
    if word[0].isupper() and word.lower() not in COMMON_WORDS:
        return "[name]"
    return word
