"""classifiers.text: normalisation (never crashes, idempotent) and hashed n-gram features."""
from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers.text import EMAIL, EMOJI, URL, USER, HashedNgrams, normalise, normalise_many

# Any code point at all, lone surrogates and unassigned ones included.
any_text = st.text(st.characters(exclude_categories=[]), max_size=200)
# Fragments chosen to collide with every rule: entities, handles, links, RT,
# leetspeak, look-alikes, invisible and combining characters, emoji, numbers.
tricky_text = st.lists(st.sampled_from([
    "RT", "rt", "rt:", "@", "@x", "@@x", "b@d", "a.b@c.org", "&", "&amp;", "&amp;amp;", "&lt;",
    "&#10;", "&#8203;", "&AMP;", "http://", "https://t.co/x", "www.", "h77p://x", "1", "3", "$",
    "a$$", "sh1t", "y7", "3rd", "10am", "а", "о", "Н", "ο", "\u200b", "\u200d", "\u202e",
    "\u0301", "\u0334", "\ufe0f", "\ud800", "\x00", "\x1b", "\n", "\t", " ", "\u00a0", "😂",
    "🏽", "ǅ", "İ", "ß", "ﬁ", "ℌ", "ᴬ", "Ⅻ", "x", "e", "word", "Mr", "#tag", ":", ".", "/",
    "xxuser", "ー", "שלום", "مرحبا",
]), max_size=25).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(any_text, tricky_text))
def test_normalise_never_crashes_and_is_idempotent(text):
    once = normalise(text)
    assert isinstance(once, str)
    assert normalise(once) == once


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(any_text, tricky_text), max_size=8))
def test_batch_equals_one_by_one(texts):
    assert normalise_many(texts) == [normalise(t) for t in texts]


@settings(max_examples=200, deadline=None)
@given(st.one_of(any_text, tricky_text))
def test_output_is_single_spaced_and_visible(text):
    out = normalise(text)
    assert out == " ".join(out.split())
    assert all(c.isprintable() for c in out)


@pytest.mark.parametrize("raw, expected", [
    ("RT @mayasolovely: As a woman &amp; a man", f"{USER} : as a woman and a man"),
    ("!!! RT @a: RT @b: hi", f"!!! {USER} : {USER} : hi"),
    ("rt RT: rt", ""),
    ("rt rt: hi rt rt @x rt", f"hi {USER} rt"),  # runs at the start and before a handle
    ("a rt @x.y rt xxuserx", f"a {USER} rt xxuserx"),
    ("x@y@z b@d jo@a.b@c @@x", f"xayaz bad jo {EMAIL} @ {USER}"),
    ("please rt this", "please rt this"),  # not a retweet marker
    ("see https://t.co/AbC and www.example.org/x", f"see {URL} and {URL}"),
    ("mail jo.smith@school.example.com", f"mail jo.smith {EMAIL}"),
    ("@alice@mastodon.social hi", f"{USER} hi"),
    ("Mr H4ll0way is a p3do", "mr halloway is a pedo"),
    ("sh1t a$$ b@d 1d10t 5lut", "shit ass bad idiot slut"),
    ("year 7 y11 3rd 10am covid19 2021 07700 900123", "year 7 y11 3rd 10am covid19 2021 07700 900123"),
    ("Мr Наllоwау", "mr halloway"),  # Cyrillic look-alikes inside Latin words
    ("Привет, как дела", "привет, как дела"),  # real Russian is left alone
    ("n\u200bo\u200dn\u00adce", "nonce"),  # zero-width and soft hyphen
    ("ｆｕｃｋ 𝐛𝐢𝐭𝐜𝐡 fück", "fuck bitch fuck"),  # width, maths letters, accents
    ("lol 😂😂", f"lol {EMOJI} {EMOJI}"),
    ("line\none\ttab\x00nul\x1besc", "line one tabnulesc"),  # other controls vanish
    ("שלום עולם", "שלום עולם"),  # right-to-left text survives
    ("  \n\t ", ""),
    ("", ""),
])
def test_concrete_cases(raw, expected):
    assert normalise(raw) == expected


def test_a_megabyte_of_text_is_handled_quickly():
    big = ("Mr Halloway is a p3do &amp; RT @x \u200b😂 " * 30_000)[:1_000_000]
    started = time.perf_counter()
    out = normalise(big)
    assert out.startswith("mr halloway is a pedo and")
    assert time.perf_counter() - started < 10


def test_lone_surrogates_are_dropped():
    assert normalise("bad\ud800text\udfff") == "badtext"


# --- HashedNgrams -------------------------------------------------------------


def test_char_wb_counts_ngrams_within_padded_words():
    counts = HashedNgrams("char_wb", (2, 5)).fit([]).transform(["abc"])
    # " abc ": 4 bigrams, 3 trigrams, 2 four-grams, 1 five-gram.
    assert counts.sum() == 10
    assert counts.shape == (1, 2 ** 20)


def test_word_counts_unigrams_and_bigrams():
    counts = HashedNgrams("word", (1, 2)).fit([]).transform(["a b, c", "d"])
    assert counts[0].sum() == 5  # a, b, c, "a b", "b c"
    assert counts[1].sum() == 1  # bigrams never span two texts


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(any_text, tricky_text).map(normalise), max_size=6),
       st.sampled_from(["word", "char_wb"]))
def test_each_row_depends_on_its_own_text_only(texts, analyzer):
    hasher = HashedNgrams(analyzer, (1, 3), n_bits=12).fit([])
    together = hasher.transform(texts)
    assert together.shape == (len(texts), 2 ** 12)
    for i, text in enumerate(texts):
        alone = hasher.transform([text])
        assert (together[i] != alone).nnz == 0


def test_empty_input_and_empty_texts():
    hasher = HashedNgrams().fit([])
    assert hasher.transform([]).shape == (0, 2 ** 20)
    empty = hasher.transform(["", ""])
    assert empty.shape == (2, 2 ** 20) and empty.nnz == 0


def test_output_is_canonical_csr():
    matrix = HashedNgrams().fit([]).transform(["the same the same", "other"])
    assert sp.isspmatrix_csr(matrix) and matrix.has_canonical_format
    assert np.all(matrix.data >= 1)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(any_text, tricky_text).map(normalise), max_size=6))
def test_one_encoded_batch_serves_every_extractor(texts):
    from classifiers.features import ApcPrior
    from classifiers.text import EncodedBatch, counts_to_csr
    batch = EncodedBatch(texts)
    for hasher in (HashedNgrams("word", (1, 2), 12), HashedNgrams("char_wb", (3, 5), 12),
                   HashedNgrams("word", (1, 3), 12)):
        shared = counts_to_csr(hasher.counts(batch), len(texts), 2 ** 12)
        assert (shared != hasher.transform(texts)).nnz == 0
    apc = _apc()
    np.testing.assert_allclose(apc.log_odds(batch), apc.transform(texts).toarray().ravel())


_APC = []


def _apc():
    """alt-profanity-check's model folded onto our tokens (fitted once: it reads two files)."""
    from classifiers.features import ApcPrior
    if not _APC:
        _APC.append(ApcPrior().fit())
    return _APC[0]


def test_alt_profanity_check_column_is_the_packages_own_probability_on_plain_text():
    # Lower-case words and spaces: its tokeniser and ours agree, so the numbers must too.
    from profanity_check import predict_prob

    from classifiers.features import APC_CLIP
    texts = ["you are a fucking idiot", "what a lovely day at the beach", "shut up you stupid cow",
             "the meeting moved to thursday", "x"]
    ours = 1 / (1 + np.exp(-_apc().transform(texts).toarray().ravel()))
    expected = np.clip(predict_prob(texts), APC_CLIP, 1 - APC_CLIP)  # a bounded column
    np.testing.assert_allclose(ours, expected, atol=1e-9)


def test_word_hashes_do_not_depend_on_where_a_word_is_in_a_long_batch():
    # Token hashes come from prefix sums over the batch (powers of the base are
    # cached for the first million characters, computed beyond): same columns anywhere.
    hasher = HashedNgrams("word", (1, 1)).fit([])
    alone = set(hasher.transform(["hello"]).indices)
    for filler in (10, 1_100_000):
        far = hasher.transform(["a" * filler + " hello"])
        assert alone <= set(far.indices) and far.nnz == 2


@pytest.mark.parametrize("params", [
    {"analyzer": "chars"}, {"ngram_range": (0, 2)}, {"ngram_range": (3, 2)}, {"n_bits": 40},
])
def test_bad_parameters_are_refused_at_fit(params):
    with pytest.raises(ValueError):
        HashedNgrams(**params).fit([])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(any_text, tricky_text), max_size=8))
def test_batched_unicode_folding_is_exactly_the_text_by_text_fold(texts):
    from classifiers.text import fold_unicode, fold_unicode_many
    assert fold_unicode_many(texts) == [fold_unicode(t) for t in texts]


def test_features_in_pieces_are_the_features_of_the_whole_batch(monkeypatch):
    """Long batches (training) are transformed a piece at a time to bound memory."""
    from classifiers import text as tx

    texts = [normalise(t) for t in ["mr halloway is a liar", "great lesson today", "", "sir 🙂",
                                    "our ta said no", "x" * 50, "the head said so"] * 3]
    extractors = [HashedNgrams("word", (1, 2), 12), HashedNgrams("char_wb", (3, 5), 12), _apc()]
    whole = [e.transform(texts) for e in [x.fit(texts) if isinstance(x, HashedNgrams) else x
                                          for x in extractors]]
    monkeypatch.setattr(tx, "TRANSFORM_ROWS", 4)
    for extractor, expected in zip(extractors, whole):
        pieced = extractor.transform(texts)
        assert pieced.shape == expected.shape and (pieced != expected).nnz == 0
