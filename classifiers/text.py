"""Text handling shared by training and scoring: normalisation and n-gram features.

Both live here, and the model pipeline is built from them (`normalise_many`,
`HashedNgrams`), so training and scoring cannot see text prepared two ways.

Normalisation folds away the cheap tricks used to dodge filters (leetspeak,
look-alike letters, zero-width characters, accents) and the Twitter furniture
that carries no meaning (handles, links, "RT", HTML entities). It must never
raise and must be idempotent, because scoring may see text that was already
normalised somewhere upstream.
"""
from __future__ import annotations

import html
import operator
import re
import unicodedata
from functools import lru_cache
from itertools import compress
from typing import Iterable

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

# Placeholders keep the fact that a handle/link/emoji was there without the
# identifying part. The "xx" prefix keeps them apart from ordinary words.
USER, URL, EMAIL, EMOJI = "xxuser", "xxurl", "xxemail", "xxemoji"

# Cyrillic and Greek letters that look like Latin ones, lower case only (the
# table is applied after lower-casing). Applied only inside a word that also
# has Latin letters, so genuine Russian or Greek text is left alone.
_LOOKALIKES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "н": "h", "і": "i", "ј": "j",
    "к": "k", "м": "m", "о": "o", "р": "p", "ԛ": "q", "с": "c", "ѕ": "s", "т": "t",
    "у": "y", "ү": "y", "х": "x", "ԁ": "d", "ԝ": "w", "ɡ": "g",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
})
_LEET = str.maketrans("013457@$", "oieastas")

_ASCII_SPACE_CONTROLS = {c: " " for c in range(32) if chr(c).isspace()}
_ASCII_CONTROLS = str.maketrans(
    {**{c: None for c in [*range(32), 127]}, **_ASCII_SPACE_CONTROLS}
)
_ASCII_CONTROLS_BUT_NEWLINE = {**_ASCII_CONTROLS, ord("\n"): "\n"}

# Whitespace other than a space (newlines included): all of it separates words.
_OTHER_SPACE_RE = re.compile(r"[^\S ]")
_OTHER_SPACE_BUT_NEWLINE_RE = re.compile(r"[^\S \n]")
_URL_RE = re.compile(r"(?:https?://|www\.)\S+")
# An "@" with what follows it ("@" and "." parts chained, taken whole) is a
# handle (also "@user@instance.social") unless a word character or one of
# "_.+-" comes before it; then it is the domain of an e-mail address if it
# has a ".", else leetspeak ("b@d", folded later). Both patterns start with
# the literal "@" and look behind it only there, which lets the regex engine
# skip to candidates quickly.
_HANDLE_RE = re.compile(r"@(?<![\w.+-]@)[\w-]+(?:[.@][\w-]+)*")
_EMAIL_DOMAIN_RE = re.compile(r"@(?<=[\w.+-]@)[\w-]+(?:@[\w-]+)*\.[\w-]+(?:[.@][\w-]+)*")
_EMOJI_RE = re.compile("[\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]")
_LOOKALIKE_RE = re.compile("[" + "".join(chr(c) for c in _LOOKALIKES) + "]")
# Accents and overlays on Latin letters, and on the characters leetspeak turns
# into letters, are dropped ("fück" -> "fuck"); other scripts keep their marks.
_COMBINING = "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"
_COMBINING_RE = re.compile(_COMBINING)
_NEWLINE_RE = re.compile("\n")
_COMBINING_AFTER_LATIN_RE = re.compile(f"(?<=[a-z0-9@$]){_COMBINING}+")
# A whole run of word-ish ASCII characters that holds a digit, "@" or "$".
# Possessive quantifiers keep the scan linear.
_LEET_TOKEN_RE = re.compile(r"(?<![a-z0-9@$])[a-z]*+[0-9@$][a-z0-9@$]*+")
# Numbers with a unit or ordinal ("3rd", "10am", "11s", "5k") are not leetspeak.
_NUMBER_WITH_SUFFIX_RE = re.compile(
    r"\d+(?:[a-z]|st|nd|rd|th|am|pm|yo|hrs?|mins?|yrs?|km|kg|cm|mm|ft|mph|gb|mb)"
)
_LEET_DIGIT_BEFORE_LETTER_RE = re.compile(r"[013457].*[a-z@$]")
# From the first digit, "@" or "$" of a line to its end: one match per line that has one.
_LEET_LINE_RE = re.compile(r"[0-9@$][^\n]*")
# Retweet markers ("rt", "rt:") are dropped in runs: at the start of a post, and
# right before a handle. Each pattern starts with the literal "rt" and only then
# looks back to check that it is a whole word at the right place.
_RT_AT_START_RE = re.compile(r"rt(?<![^\n]rt):?(?: |$)(?:rt:?(?: |$))*", re.MULTILINE)
_RT_BEFORE_USER_RE = re.compile(rf"rt(?<![^ \n]rt):? (?:rt:? )*(?={USER}(?![^ \n]))")


def normalise(text: str) -> str:
    """Fold one post to the form the model sees (see the module docstring)."""
    return normalise_many([text])[0]


def normalise_many(texts: Iterable[str]) -> list[str]:
    """`normalise` over a batch: the first step of the model pipeline.

    Every step runs over the whole batch joined by newlines, which avoids
    most of the per-call overhead of Python's regex engine and of
    unicodedata: a newline inside a text is a space to normalisation anyway,
    and no entity, pattern or Unicode composition crosses one. What can only
    happen in a few texts (leetspeak, look-alike letters) is looked for in
    one pass and handled in those texts alone.
    """
    texts = list(texts)
    if not texts:
        return []
    joined = "\n".join(texts)
    if joined.count("\n") != len(texts) - 1:
        texts = [t.replace("\n", " ") for t in texts]
        joined = "\n".join(texts)
    if "&" in joined:
        unescaped = _unescape(joined).split("\n")
        if len(unescaped) != len(texts):  # an entity stood for a newline ("&#10;")
            unescaped = [html.unescape(t).replace("\n", " ") if "&" in t else t for t in texts]
        texts = unescaped
    batch = "\n".join(fold_unicode_many(texts, _inner_newlines=False))
    batch = _URL_RE.sub(f" {URL} ", batch)
    if "@" in batch:
        batch = _HANDLE_RE.sub(f" {USER} ", batch)
        if "@" in batch:
            batch = _EMAIL_DOMAIN_RE.sub(f" {EMAIL} ", batch)
    # Any "&" left is not an entity; spelling it out means a second pass has
    # no entity to unescape, which keeps normalise idempotent.
    batch = batch.replace("&", " and ")
    lines = batch.split("\n")
    if not batch.isascii():  # emoji: in the non-ASCII texts only
        _sub_lines(lines, [not line.isascii() for line in lines], _EMOJI_RE, f" {EMOJI} ")
    _fold_leet_lines(lines)
    # Words are separated by single spaces (the folding left no other
    # whitespace), with none at either end of a text.
    batch = "\n".join(lines)
    if "  " in batch:
        batch = _SPACES_RE.sub(" ", batch)
    batch = batch.replace("\n ", "\n").replace(" \n", "\n").strip(" ")
    if "rt" in batch:
        batch = _RT_AT_START_RE.sub("", batch)
        batch = _RT_BEFORE_USER_RE.sub("", batch)
    return batch.split("\n")


_SPACES_RE = re.compile("  +")
# html.unescape's own pattern for a character reference, when it has one.
_CHARREF_RE = getattr(html, "_charref", None)


def _unescape(text: str) -> str:
    """html.unescape, with each distinct reference resolved once (a batch has many alike)."""
    if _CHARREF_RE is None:
        return html.unescape(text)
    return _CHARREF_RE.sub(lambda m: _unescape_reference(m.group()), text)


@lru_cache(maxsize=4096)
def _unescape_reference(reference: str) -> str:
    # The reference on its own is matched by the same pattern in the same way.
    return html.unescape(reference)


def _sub_lines(lines: list[str], chosen: list[bool], pattern: re.Pattern, replacement) -> None:
    """pattern.sub(replacement, line) for the chosen lines, in place, in one call."""
    rows = list(compress(range(len(lines)), chosen))
    if rows:
        for i, line in zip(rows, pattern.sub(replacement, "\n".join([lines[i] for i in rows]))
                           .split("\n")):
            lines[i] = line


def _fold_leet_lines(lines: list[str]) -> None:
    """Fold leetspeak in the lines that hold a digit, "@" or "$", in place."""
    where = [m.start() for m in _LEET_LINE_RE.finditer("\n".join(lines))]
    if not where:
        return
    ends = np.cumsum(np.fromiter((len(line) + 1 for line in lines), np.int64, len(lines)))
    candidates = np.unique(np.searchsorted(ends, where, side="right")).tolist()
    before = "\n".join([lines[i] for i in candidates])
    after = _LEET_TOKEN_RE.sub(_fold_leet, before)
    if after == before:
        return
    if "http" in after or "www." in after:
        after = _URL_RE.sub(f" {URL} ", after)  # "h77p://..." became a link
    for i, line in zip(candidates, after.split("\n")):
        lines[i] = line


def fold_unicode(text: str) -> str:
    """Strip invisible characters, fold case, width, look-alikes and accents.

    ASCII text (most posts) takes a fast path. Otherwise the fold is repeated
    until it stops changing the text (at most a few rounds): Unicode case and
    compatibility mappings can feed each other, and a fixed point is what
    makes `normalise` idempotent.
    """
    if text.isascii():
        if not text.isprintable():
            text = text.translate(_ASCII_CONTROLS)
        return text.lower()
    for _ in range(4):
        folded = _fold_unicode_once(text)
        if folded == text:
            break
        text = folded
    return text


def fold_unicode_many(texts: list[str], _inner_newlines: bool = True) -> list[str]:
    """`fold_unicode` over a batch, ASCII texts and the rest each joined by newlines.

    Each round folds every non-ASCII text still changing in one pass over
    their newline-joined text; rounds repeat until none changes. A text at
    its fixed point is left as it is by further rounds, so this gives
    exactly what `fold_unicode` gives text by text (a test checks).
    `_inner_newlines=False` promises that no text holds a newline; the
    result then holds no whitespace but spaces (`normalise_many` relies on it).
    """
    out = list(texts)
    is_ascii = [t.isascii() for t in out]
    ascii_rows = list(compress(range(len(out)), is_ascii))
    rest = list(compress(range(len(out)), map(operator.not_, is_ascii)))
    if ascii_rows:
        joined = "\n".join([out[i] for i in ascii_rows])
        if _inner_newlines and joined.count("\n") != len(ascii_rows) - 1:
            folded = [fold_unicode(out[i]) for i in ascii_rows]
        else:
            folded = joined.translate(_ASCII_CONTROLS_BUT_NEWLINE).lower().split("\n")
        for i, text in zip(ascii_rows, folded):
            out[i] = text
    if not rest:
        return out
    current = [out[i] for i in rest]
    changing = list(range(len(current)))  # positions in `current` not yet at a fixed point
    for _ in range(4):
        # Invisible characters (newlines included) go text by text, so the
        # newline that joins the batch is the only one left in it.
        before = [current[k] for k in changing]
        cleaned = [t if t.isprintable() else _drop_unprintable(t) for t in before]
        folded = _fold_lines(cleaned)
        if len(folded) != len(before):  # a fold made a newline: fall back to one by one
            current = [fold_unicode(out[i]) for i in rest]
            break
        still = []
        for k, old, new in zip(changing, before, folded):
            if new != old:
                current[k] = new
                still.append(k)
        changing = still
        if not changing:
            break
    joined = "\n".join(current)
    if not _inner_newlines and _OTHER_SPACE_BUT_NEWLINE_RE.search(joined):
        # Any whitespace separates words just as a space does (no later step
        # tells them apart); spaces only is what normalise_many expects.
        current = [_OTHER_SPACE_RE.sub(" ", t) for t in current]
    for i, text in zip(rest, current):
        out[i] = text
    return out


def _drop_unprintable(text: str) -> str:
    return "".join(c if c.isprintable() else " " if c.isspace() else "" for c in text)


def _fold_unicode_once(text: str) -> str:
    if not text.isprintable():
        # Whitespace of any kind becomes a space; every other invisible or
        # unprintable character (zero-width joiners, direction marks, lone
        # surrogates, controls) is dropped so it cannot split a word.
        text = _drop_unprintable(text)
    return _fold_lines([text])[0]


def _fold_lines(lines: list[str]) -> list[str]:
    """One round of the fold of printable texts (none holding a newline), over all of them at once.

    NFKC, lower case and look-alikes, then accents: decompose (NFKD), drop
    the marks on Latin letters, recompose (NFKC). Only the texts that need
    it are normalised or have marks dropped: recomposing the decomposition
    of a text without marks to drop is NFKC of the text itself, and NFKC of
    a text already in NFKC is the text.
    """
    joined = _nfkc_lines("\n".join(lines)).lower()
    if _LOOKALIKE_RE.search(joined):
        joined = "\n".join([re.sub(r"\S+", _fold_lookalikes, line)
                            if _LOOKALIKE_RE.search(line) else line for line in joined.split("\n")])
    decomposed = unicodedata.normalize("NFKD", joined)
    marks = [m.start() for m in _COMBINING_RE.finditer(decomposed)]
    folded = _nfkc_lines(joined).split("\n")
    if marks:
        newlines = [m.start() for m in _NEWLINE_RE.finditer(decomposed)]
        parts = decomposed.split("\n")
        for i in np.unique(np.searchsorted(newlines, marks)).tolist():
            folded[i] = unicodedata.normalize("NFKC", _COMBINING_AFTER_LATIN_RE.sub("", parts[i]))
    return folded


def _nfkc_lines(text: str) -> str:
    """NFKC of newline-joined texts, normalising only those that are not NFKC already.

    (unicodedata.normalize returns a text that passes its quick check as it
    is, but one text that does not makes it normalise the whole string.)
    """
    if unicodedata.is_normalized("NFKC", text):
        return text
    return "\n".join([unicodedata.normalize("NFKC", line) for line in text.split("\n")])


def _fold_lookalikes(match: re.Match) -> str:
    word = match.group()
    if re.search("[a-z]", word):
        return word.translate(_LOOKALIKES)
    return word


def _fold_leet(match: re.Match) -> str:
    """Fold leetspeak in one token, or leave it alone if it looks like a number.

    "$" and "@" fold in any token with a letter ("a$$", "b@d"). Digits fold
    only when one of them comes before a letter ("sh1t", "5lut", "h0e"), so
    "year7", "covid19" and "3rd" survive.
    """
    token = match.group()
    if not re.search("[a-z]", token) or _NUMBER_WITH_SUFFIX_RE.fullmatch(token):
        return token
    if _LEET_DIGIT_BEFORE_LETTER_RE.search(token):
        return token.translate(_LEET)
    return token.replace("@", "a").replace("$", "s")


# ---------------------------------------------------------------------------
# Features


class EncodedBatch:
    """Normalised texts as one array of code points, shared by n-gram extractors.

    The model has three n-gram blocks over the same texts; encoding them, and
    splitting them into word tokens, once per batch instead of once per block
    is part of what makes scoring fast (see `classifiers.scoring.LinearShortcut`).
    """

    def __init__(self, texts: list[str]):
        self.size = len(texts)
        self.codes, self.doc_of = _encode(texts)
        self._tokens: tuple[np.ndarray, np.ndarray] | None = None
        self._word_ngrams: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def tokens(self) -> tuple[np.ndarray, np.ndarray]:
        """The polynomial hash and the text index of every word token, in order."""
        if self._tokens is None:
            self._tokens = _word_tokens(self.codes, self.doc_of)
        return self._tokens


class HashedNgrams(TransformerMixin, BaseEstimator):
    """Counts of hashed word or character n-grams, computed with numpy.

    scikit-learn's vectorizers build every character n-gram as a Python
    string: about 4,000 posts/s here, five times too slow for scoring in
    bulk. This does the same job over the whole batch at once with array
    arithmetic (a polynomial hash per n-gram, folded into 2**n_bits columns),
    so it keeps no vocabulary and needs no fitting. Follow it with a
    TfidfTransformer for TF-IDF weights.

    analyzer="char_wb" gives n-grams inside space-padded words (like
    scikit-learn's char_wb); analyzer="word" gives n-grams of word tokens
    (runs of \\w characters). Input should be normalised text: words are
    separated by single spaces.
    """

    def __init__(self, analyzer: str = "char_wb", ngram_range: tuple[int, int] = (2, 5),
                 n_bits: int = 20):
        self.analyzer = analyzer
        self.ngram_range = ngram_range
        self.n_bits = n_bits

    def fit(self, X, y=None):
        if self.analyzer not in ("word", "char_wb"):
            raise ValueError(f"analyzer must be 'word' or 'char_wb', not {self.analyzer!r}")
        lo, hi = self.ngram_range
        if not 1 <= lo <= hi:
            raise ValueError(f"bad ngram_range {self.ngram_range!r}")
        if not 1 <= self.n_bits <= 30:
            raise ValueError(f"n_bits must be between 1 and 30, not {self.n_bits!r}")
        return self

    def transform(self, X) -> sp.csr_matrix:
        texts = list(X)
        width = 1 << self.n_bits
        if not texts:
            return sp.csr_matrix((0, width))
        return in_pieces(texts, lambda piece: counts_to_csr(
            self.counts(EncodedBatch(piece)), len(piece), width))

    def counts(self, batch: EncodedBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The nonzero entries of `transform`'s matrix as (rows, columns, counts)."""
        bits = np.uint64(self.n_bits)
        if self.analyzer == "char_wb":
            keys = _char_wb_keys(batch, self.ngram_range, self.n_bits)
        else:
            rows, hashes = word_ngram_hashes(batch, self.ngram_range)
            keys = (rows << bits) | column_of(hashes, self.n_bits)
        return count_keys(keys, self.n_bits)


TRANSFORM_ROWS = 8192


def in_pieces(texts: list[str], transform) -> sp.csr_matrix:
    """`transform` over pieces of at most TRANSFORM_ROWS texts, stacked: the same matrix
    (rows are independent) without the whole batch's n-gram arrays in memory at once.
    Training on 49,000 texts peaked at 740 MB in one piece."""
    if len(texts) <= TRANSFORM_ROWS:
        return transform(texts)
    return sp.vstack([transform(texts[i:i + TRANSFORM_ROWS])
                      for i in range(0, len(texts), TRANSFORM_ROWS)], format="csr")


_P = np.uint64(0x100000001B3)  # FNV-1 64-bit prime: the polynomial base
_MIX = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio, odd


def column_of(hashes: np.ndarray, n_bits: int) -> np.ndarray:
    """The column of each n-gram hash: the top n_bits of hash * odd constant (multiplicative hashing)."""
    hashes = hashes * _MIX
    hashes >>= np.uint64(64 - n_bits)
    return hashes


def count_keys(keys: np.ndarray, col_bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, columns, counts) of the distinct keys, a key being row << col_bits | column.

    Sorting the keys once counts duplicates and leaves them in CSR order
    (by row, then column): much cheaper than scipy's COO -> CSR conversion.
    Keys that fit in 32 bits (few enough rows) are sorted as such: twice as
    fast. Sorts `keys` in place.
    """
    if len(keys) and keys.max() < (1 << 32):
        keys = keys.astype(np.uint32)
    # A stable sort gives the same array; numpy's (a merge of runs) is a third faster here than
    # its default on these keys, which come as one row-ordered run per n-gram length.
    keys.sort(kind="stable")
    first = np.empty(len(keys), dtype=bool)
    first[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.empty(len(starts), dtype=np.float64)
    np.subtract(starts[1:], starts[:-1], out=counts[:-1], casting="unsafe")
    counts[-1:] = len(keys) - starts[-1:]
    keys = keys[starts]
    rows = (keys >> col_bits).astype(np.int64)
    cols = (keys & ((1 << col_bits) - 1)).astype(np.int64)
    return rows, cols, counts


def counts_to_csr(counts: tuple[np.ndarray, np.ndarray, np.ndarray], n_rows: int,
                  width: int) -> sp.csr_matrix:
    """A canonical CSR matrix from `count_keys`' output."""
    rows, cols, values = counts
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    matrix = sp.csr_matrix((values, cols, indptr), shape=(n_rows, width))
    matrix.has_sorted_indices = True
    return matrix


def _encode(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All texts as one array of code points, separated (and bounded) by spaces.

    Returns the code points and, for each position, the index of its text
    (both uint64, the type the hashing works in).
    """
    if not texts:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint64)
    joined = " " + " ".join(texts) + " "
    codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    doc_of = np.zeros(len(codes), dtype=np.uint64)
    doc_of[1:] = np.repeat(np.arange(len(texts), dtype=np.uint64), lengths + 1)
    return codes.astype(np.uint64), doc_of


def _char_wb_keys(batch: EncodedBatch, ngram_range: tuple[int, int], n_bits: int) -> np.ndarray:
    """The key (text << n_bits | column) of each n-gram with no space strictly inside it."""
    lo, hi = ngram_range
    codes, doc_of = batch.codes, batch.doc_of
    bits = np.uint64(n_bits)
    space = codes == 32
    spaces_before = np.zeros(len(codes) + 1, dtype=np.int32)
    np.cumsum(space, out=spaces_before[1:])
    # For n >= 2, the text of an n-gram starting at i is that of position i + 1
    # (a bigram " a" belongs to a's text; a longer one has a non-space there).
    rows_after = doc_of[1:] << bits
    parts = []
    h = codes
    for n in range(1, hi + 1):
        if n > 1:
            h = h[:-1] * _P  # h[i] becomes the hash of codes[i:i+n]
            h += codes[n - 1:]
        if n < lo:
            continue
        m = len(h)
        keys = column_of(h, n_bits)
        if n == 1:
            valid = ~space
            keys |= doc_of << bits
        elif n == 2:
            # The text of a bigram is that of its non-space character.
            valid = ~(space[:-1] & space[1:])
            keys |= np.where(space[1:], doc_of[:-1], doc_of[1:]) << bits
        else:
            valid = spaces_before[n - 1:n - 1 + m] == spaces_before[1:1 + m]
            keys |= rows_after[:m]
        parts.append(np.compress(valid, keys))
    return np.concatenate(parts)


def _word_tokens(codes: np.ndarray, doc_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The polynomial hash and text index of each run of word characters.

    A token's hash is the sum of code * P**k, k its offset in the token:
    with prefix sums G[i] of code[j] * P**j over the whole batch, it is
    (G[end] - G[start]) * P**-start, all modulo 2**64 (P is odd, so it has
    an inverse), which takes a few passes over the batch and no per-token work.
    """
    is_word = _word_table()[codes]
    edges = np.diff(is_word.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if len(starts) == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint64)
    powers, inverses = _powers(len(codes))
    prefix = np.zeros(len(codes) + 1, dtype=np.uint64)
    np.cumsum(codes * powers, out=prefix[1:])
    token = (prefix[ends] - prefix[starts]) * inverses[starts]
    return token, doc_of[starts]


_P_INVERSE = np.uint64(pow(int(_P), -1, 1 << 64))
_POWERS_CACHED = 1 << 20


@lru_cache(maxsize=1)
def _cached_powers() -> tuple[np.ndarray, np.ndarray]:
    return _compute_powers(_POWERS_CACHED)


def _compute_powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    powers, inverses = np.ones(n, dtype=np.uint64), np.ones(n, dtype=np.uint64)
    np.cumprod(np.full(n - 1, _P, dtype=np.uint64), out=powers[1:])
    np.cumprod(np.full(n - 1, _P_INVERSE, dtype=np.uint64), out=inverses[1:])
    return powers, inverses


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P**j and P**-j modulo 2**64 for j < n (the first million kept: 16 MB)."""
    if n > _POWERS_CACHED:
        return _compute_powers(n)
    powers, inverses = _cached_powers()
    return powers[:n], inverses[:n]


def word_ngram_hashes(batch: EncodedBatch, ngram_range: tuple[int, int]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The text index and polynomial hash of every n-gram of consecutive word tokens in a text.

    Kept in the batch: the model's word and staff blocks both ask.
    """
    ngram_range = tuple(ngram_range)
    if ngram_range not in batch._word_ngrams:
        lo, hi = ngram_range
        token, token_doc = batch.tokens()
        rows, hashes = [np.zeros(0, np.uint64)], [np.zeros(0, np.uint64)]
        gram = token
        for n in range(1, hi + 1):
            if n > 1:
                gram = gram[:-1] * _P + token[n - 1:]
            if n < lo:
                continue
            same_doc = token_doc[: len(gram)] == token_doc[n - 1:]
            rows.append(np.compress(same_doc, token_doc[: len(gram)]))
            hashes.append(np.compress(same_doc, gram))
        batch._word_ngrams[ngram_range] = np.concatenate(rows), np.concatenate(hashes)
    return batch._word_ngrams[ngram_range]


@lru_cache(maxsize=1)
def _word_table() -> np.ndarray:
    """For every code point, whether it is a word character.

    Python's regex decides for the Basic Multilingual Plane; beyond it
    (rare scripts; emoji are placeholders by now) every code point counts.
    """
    table = np.ones(0x110000, dtype=bool)
    bmp = re.sub(r"\W", "\x00", "".join(map(chr, range(0x10000))))
    table[:0x10000] = np.frombuffer(bmp.encode("utf-32-le", "surrogatepass"), dtype=np.uint32) != 0
    return table
