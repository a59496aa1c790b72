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
    # a word after a staff role is a name however it is written ("teacher hallorann")
    (re.compile(r"(?i)\b(teacher|head|headteacher|headmaster|headmistress|deputy|principal|tutor|"
                r"senco|caretaker|coach)\s+(?!(?:" + "|".join(("is", "was", "at", "of", "and", "has",
                "said", "says", "who", "you", "the", "a", "in", "on", "for", "to", "teacher")) +
                r")\b)[^\W\d_][\w'’-]*"), r"\1 [name]"),
)
# In a reference the code is kept: capitals and digits (TT-123, MST-REF-1001). A word mixing
# small letters with digits or _ (tansy_brook99) is more likely a handle.
_CODE = re.compile(r"^(?=.*\d)[A-Z\d][A-Z\d/#._-]*$")
_HANDLE_LIKE = re.compile(r"(?=.*[a-z])(?=.*[\d_])")
_WORD = re.compile(r"\b[^\W\d_][\w'’-]*")
COMMON_WORDS = frozenset("""
a about after all also an and any are as at be because been but by can could did do does
don't every for from get go going had has have he her here hers him his how i i'm if in is
isn't it it's just let like look me more my no not now of oh ok okay on once one only or our
out over please report reported she so some someone stop that that's the their them then
there these they this those to too up us very was we well were what when where which who
why will with would yes yet you your you're everyone nobody somebody anyone teacher teachers re
school staff head parents parent kids pupils
""".split())


def excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    """`text` with handles, links, emails, phone numbers, addresses, hashtags and names
    replaced by [handle], [link], ..., then cut to `limit` characters at a word."""
    out = _redact(text, _name_or_word)
    if len(out) <= limit:
        return out
    cut = out[: limit - 1].rsplit(" ", 1)[0] if " " in out[: limit - 1] else out[: limit - 1]
    return cut + "…"


def free_text(text: str | None) -> str | None:
    """A free-text field a person typed (a report reference, a platform's answer, a note)
    made safe to forward: redacted as an excerpt is, but codes with digits in them kept
    (TT-1, MST-REF-1001) and nothing cut off."""
    if text is None:
        return None
    return _redact(text, _code_or_word)


def _code_or_word(m: re.Match) -> str:
    word = m.group(0)
    if _CODE.match(word):
        return word
    return "[handle]" if _HANDLE_LIKE.match(word) else _name_or_word(m)


def _redact(text: str | None, words) -> str:
    # NFKC first: full-width ＠ and letters (ｈａｌｌｏｒａｎｎ) become the @ and letters the rules
    # know. Invisible format characters (zero-width space, joiners) are dropped, not turned
    # into spaces, so "@quill\u200bmere" stays one handle; other controls are spaces.
    out = "".join("" if unicodedata.category(c) == "Cf" else " " if unicodedata.category(c)[0] in "CZ"
                  else c for c in unicodedata.normalize("NFKC", text or ""))
    for pattern, mark in _RULES:
        out = pattern.sub(mark, out)
    out = _WORD.sub(words, out)
    return " ".join(out.split())


def _name_or_word(m: re.Match) -> str:
    word = m.group(0)
    if _HANDLE_LIKE.match(word):
        return "[handle]"
    if word[0].isupper() and word.lower() not in COMMON_WORDS:
        return "[name]"
    return word
