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
import re
import unicodedata
from functools import lru_cache
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

_URL_RE = re.compile(r"(?:https?://|www\.)\S+")
# Every "@" with what follows it: a handle (also "@user@instance.social"), the
# domain of an e-mail address, or leetspeak ("b@d"); `_replace_at` tells them
# apart. Starting the pattern with the literal "@" lets the regex engine skip
# to candidates quickly; taking chained "@" and "." parts whole keeps a
# replacement from changing what the next "@" looks like.
_AT_RE = re.compile(r"@[\w-]+(?:[.@][\w-]+)*")
_EMOJI_RE = re.compile("[\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]")
_LOOKALIKE_RE = re.compile("[" + "".join(chr(c) for c in _LOOKALIKES) + "]")
# Accents and overlays on Latin letters, and on the characters leetspeak turns
# into letters, are dropped ("fück" -> "fuck"); other scripts keep their marks.
_COMBINING_AFTER_LATIN_RE = re.compile(
    "(?<=[a-z0-9@$])[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+"
)
# A whole run of word-ish ASCII characters that holds a digit, "@" or "$".
# Possessive quantifiers keep the scan linear.
_LEET_TOKEN_RE = re.compile(r"(?<![a-z0-9@$])[a-z]*+[0-9@$][a-z0-9@$]*+")
# Numbers with a unit or ordinal ("3rd", "10am", "11s", "5k") are not leetspeak.
_NUMBER_WITH_SUFFIX_RE = re.compile(
    r"\d+(?:[a-z]|st|nd|rd|th|am|pm|yo|hrs?|mins?|yrs?|km|kg|cm|mm|ft|mph|gb|mb)"
)
_LEET_DIGIT_BEFORE_LETTER_RE = re.compile(r"[013457].*[a-z@$]")
_RT = frozenset({"rt", "rt:"})


def normalise(text: str) -> str:
    """Fold one post to the form the model sees (see the module docstring)."""
    return normalise_many([text])[0]


def normalise_many(texts: Iterable[str]) -> list[str]:
    """`normalise` over a batch: the first step of the model pipeline.

    Both the Unicode folding of the non-ASCII texts and the pattern
    replacements run over a whole batch joined by newlines (the folding
    turns every newline inside a text into a space, and no pattern or
    Unicode composition crosses one), which avoids most of the per-call
    overhead of Python's regex engine and of unicodedata.
    """
    folded = _fold_unicode_many([html.unescape(t) if "&" in t else t for t in texts])
    batch = "\n".join(folded)
    batch = _URL_RE.sub(f" {URL} ", batch)
    batch = _AT_RE.sub(_replace_at, batch)
    if not batch.isascii():
        batch = _EMOJI_RE.sub(f" {EMOJI} ", batch)
    # Any "&" left is not an entity; spelling it out means a second pass has
    # no entity to unescape, which keeps normalise idempotent.
    batch = batch.replace("&", " and ")
    unfolded, batch = batch, _LEET_TOKEN_RE.sub(_fold_leet, batch)
    if batch != unfolded:
        batch = _URL_RE.sub(f" {URL} ", batch)  # "h77p://..." became a link
    normalised = []
    for line in batch.split("\n") if folded else []:
        words = line.split()
        if "rt" in words or "rt:" in words:
            words = _drop_retweet_markers(words)
        normalised.append(" ".join(words))
    return normalised


def _replace_at(match: re.Match) -> str:
    """A handle becomes USER; after a word character, "@" starts an e-mail domain.

    An e-mail address becomes its local part and EMAIL ("jo.smith xxemail"):
    the regex cannot look back over the local part without slowing every post.
    """
    start, text = match.start(), match.string
    after_word = start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_.+-")
    if not after_word:
        return f" {USER} "
    if "." in match.group():
        return f" {EMAIL} "
    return match.group()  # "b@d": leetspeak, folded later


def _fold_unicode(text: str) -> str:
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


def _fold_unicode_many(texts: list[str]) -> list[str]:
    """`_fold_unicode` over a batch: ASCII texts one by one (fast), the rest joined.

    Each round folds every non-ASCII text of the batch in one pass over
    their newline-joined text; rounds repeat until none changes. A text
    already at its fixed point is left as it is by further rounds, so this
    gives exactly what `_fold_unicode` gives text by text (a test checks).
    """
    out = list(texts)
    rest = []
    for i, text in enumerate(out):
        if text.isascii():
            out[i] = _fold_unicode(text)
        else:
            rest.append(i)
    if not rest:
        return out
    current = [out[i] for i in rest]
    for _ in range(4):
        # Invisible characters (newlines included) go text by text, so the
        # newline that joins the batch is the only one left in it.
        cleaned = [t if t.isprintable() else _drop_unprintable(t) for t in current]
        joined = "\n".join(cleaned)
        joined = unicodedata.normalize("NFKC", joined).lower()
        if _LOOKALIKE_RE.search(joined):
            joined = re.sub(r"[^\s]+", _fold_lookalikes, joined)
        joined = unicodedata.normalize("NFKD", joined)
        joined = _COMBINING_AFTER_LATIN_RE.sub("", joined)
        joined = unicodedata.normalize("NFKC", joined)
        folded = joined.split("\n")
        if len(folded) != len(current):  # a fold made a newline: fall back to one by one
            folded = [_fold_unicode(t) for t in current]
            current = folded
            break
        if folded == current:
            break
        current = folded
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
        text = "".join(c if c.isprintable() else " " if c.isspace() else "" for c in text)
    text = unicodedata.normalize("NFKC", text).lower()
    if _LOOKALIKE_RE.search(text):
        text = re.sub(r"\S+", _fold_lookalikes, text)
    text = unicodedata.normalize("NFKD", text)
    text = _COMBINING_AFTER_LATIN_RE.sub("", text)
    return unicodedata.normalize("NFKC", text)


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


def _drop_retweet_markers(words: list[str]) -> list[str]:
    """Drop runs of "rt" at the start of a post and right before a handle."""
    kept: list[str] = []
    run_end, drop_run = -1, False
    for i, word in enumerate(words):
        if word in _RT:
            if i > run_end:  # first marker of a run: decide for the whole run
                run_end = i
                while run_end + 1 < len(words) and words[run_end + 1] in _RT:
                    run_end += 1
                drop_run = not kept or (run_end + 1 < len(words) and words[run_end + 1] == USER)
            if drop_run:
                continue
        kept.append(word)
    return kept


# ---------------------------------------------------------------------------
# Features


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
        if not texts:
            return sp.csr_matrix((0, 1 << self.n_bits))
        codes, doc_of = _encode(texts)
        ngrams = _word_ngrams if self.analyzer == "word" else _char_wb_ngrams
        bits = np.uint64(self.n_bits)
        # One key per n-gram: its text in the high bits, its column (the top
        # n_bits of hash * odd constant: multiplicative hashing) in the low ones.
        # Sorting the keys once counts duplicates, and gives the CSR arrays
        # directly: much cheaper than scipy's COO -> CSR conversion.
        keys = np.concatenate([
            (rows << bits) | ((hashes * _MIX) >> (np.uint64(64) - bits))
            for rows, hashes in ngrams(codes, doc_of, self.ngram_range)
        ] or [np.zeros(0, np.uint64)])
        keys.sort()
        first = np.ones(len(keys), dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        starts = np.flatnonzero(first)
        counts = np.diff(np.append(starts, len(keys))).astype(np.float64)
        keys = keys[starts]
        # Both parts are far below 2**63, so viewing them as int64 is exact.
        rows = (keys >> bits).view(np.int64)
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(texts)), out=indptr[1:])
        cols = (keys & ((np.uint64(1) << bits) - np.uint64(1))).view(np.int64)
        return sp.csr_matrix((counts, cols, indptr), shape=(len(texts), 1 << self.n_bits))


_P = np.uint64(0x100000001B3)  # FNV-1 64-bit prime: the polynomial base
_MIX = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio, odd


def _encode(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All texts as one array of code points, separated (and bounded) by spaces.

    Returns the code points and, for each position, the index of its text
    (both uint64, the type the hashing works in).
    """
    joined = " " + " ".join(texts) + " "
    codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    doc_of = np.zeros(len(codes), dtype=np.uint64)
    doc_of[1:] = np.repeat(np.arange(len(texts), dtype=np.uint64), lengths + 1)
    return codes.astype(np.uint64), doc_of


def _char_wb_ngrams(codes, doc_of, ngram_range):
    """n-grams of the code array that have no space strictly inside them.

    Yields, for each n, the index of each n-gram's text and its polynomial hash.
    """
    lo, hi = ngram_range
    space = codes == 32
    spaces_before = np.zeros(len(codes) + 1, dtype=np.int64)
    np.cumsum(space, out=spaces_before[1:])
    h = codes
    for n in range(1, hi + 1):
        if n > 1:
            h = h[:-1] * _P + codes[n - 1:]  # h[i] is the hash of codes[i:i+n]
        if n < lo:
            continue
        m = len(h)
        if n == 1:
            valid, doc = ~space, doc_of
        elif n == 2:
            # The text of a bigram is that of its non-space character.
            valid = ~(space[:-1] & space[1:])
            doc = np.where(space[1:], doc_of[:-1], doc_of[1:])
        else:
            valid = spaces_before[n - 1:n - 1 + m] == spaces_before[1:1 + m]
            doc = doc_of[1:1 + m]
        yield doc[valid], h[valid]


def _word_ngrams(codes, doc_of, ngram_range):
    """Like `_char_wb_ngrams`, for runs of word characters and consecutive runs in a text."""
    lo, hi = ngram_range
    is_word = _word_table()[codes]
    edges = np.diff(np.concatenate([[False], is_word, [False]]).astype(np.int8))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if len(starts) == 0:
        return
    lengths = ends - starts
    # Polynomial hash of each token: the sum of code * P**k, k = offset in token.
    token_starts = np.cumsum(lengths) - lengths
    offset = np.arange(lengths.sum()) - np.repeat(token_starts, lengths)
    powers = np.ones(lengths.max(), dtype=np.uint64)
    powers[1:] = np.cumprod(np.full(lengths.max() - 1, _P, dtype=np.uint64))
    token = np.add.reduceat(codes[is_word] * powers[offset], token_starts)
    token_doc = doc_of[starts]
    gram = token
    for n in range(1, hi + 1):
        if n > 1:
            gram = gram[:-1] * _P + token[n - 1:]
        if n < lo:
            continue
        same_doc = token_doc[: len(gram)] == token_doc[n - 1:]
        yield token_doc[: len(gram)][same_doc], gram[same_doc]


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
