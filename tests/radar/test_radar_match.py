"""Variant matching (radar.match): every rule, the reported method, and the match rates on
the invented variant and look-alike lists in tests/fixtures/radar/."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from radar.match import MAX_LEET_FORMS, WatchIndex, canonical_key, forms, lookalike_table, step_leet

FIXTURES = Path(__file__).parents[1] / "fixtures" / "radar"


def fixture_index() -> WatchIndex:
    rows = list(csv.DictReader((FIXTURES / "watchlist.csv").open(encoding="utf-8")))
    return WatchIndex([r["tag"] for r in rows], {r["tag"]: r["synonyms"].split() for r in rows})


@pytest.fixture(scope="module")
def index():
    return WatchIndex(["slapateacher", "deviouslicks", "teachersoftiktok", "sackthehead", "kys"],
                      {"slapateacher": ["smackthesir"]})


@pytest.mark.parametrize("candidate, tag, method", [
    ("#SlapATeacher", "slapateacher", "exact"),
    ("ｓｌａｐａｔｅａｃｈｅｒ", "slapateacher", "unicode"),       # full-width
    ("slap\u200bateacher", "slapateacher", "unicode"),            # zero-width space
    ("ѕlарateacher", "slapateacher", "lookalike"),                # Cyrillic s, a, p
    ("ѕʟᴀᴘᴀᴛᴇᴀᴄʜᴇʀ", "slapateacher", "lookalike"),                # small capitals
    ("slàpàteàcher", "slapateacher", "lookalike"),                # accents
    ("slap_a.teacher", "slapateacher", "separator"),
    ("sl4pat3ach3r", "slapateacher", "leet"),
    ("s1apateacher", "slapateacher", "leet"),                     # 1 read as l, not i
    ("$l@pateacher", "slapateacher", "leet"),
    ("slapateacherrr", "slapateacher", "repeat"),
    ("slapateachers", "slapateacher", "affix"),
    ("slapateacherschallenge", "slapateacher", "repeat+affix"),   # the ll of challenge
    ("deviouslick", "deviouslicks", "affix"),                     # the watched tag's plural
    ("slpateacher", "slapateacher", "fuzzy"),                     # dropped letter
    ("kis", None, ""),                                            # short: never fuzzy
    ("teachersoftikok", "teachersoftiktok", "fuzzy"),             # dropped letter
    ("teachresoftiktok", "teachersoftiktok", "fuzzy"),            # swapped letters
    ("sm4ck_the_sir", "slapateacher", "synonym+separator+leet"),
    ("smackthesir", "slapateacher", "synonym"),
    ("Dev1ous_Licks", "deviouslicks", "separator+leet"),
    ("slapateacher!!!", "slapateacher", "separator"),
    ("kyss", "kys", "repeat"),
])
def test_each_rule_matches_and_says_which(index, candidate, tag, method):
    m = index.match(candidate)
    assert (m.tag, m.method) == (tag, method)


@pytest.mark.parametrize("candidate", [
    "slapstick", "hugateacher", "peaceteacher", "snackthehead", "stackthehead",
    "preachersoftiktok", "keys", "ky", "teacherslife", "", "#", "_._",
])
def test_look_alike_real_tags_and_short_tags_do_not_match(index, candidate):
    assert index.match(candidate).tag is None


def test_hostile_and_oversized_input_is_refused_quietly(index):
    assert index.match("slapateacher" * 20).tag is None          # longer than any hashtag
    assert index.match("\x1bslapateacher\x07").tag == "slapateacher"  # control chars dropped
    many = "1!|6" * 20                                          # 2**80 readings
    assert len(step_leet(many)) == 1
    assert len(step_leet("s1!|6")) <= MAX_LEET_FORMS


def test_a_synonym_never_shadows_another_watched_tag():
    index = WatchIndex(["ratemyteacher", "slapateacher"], {"slapateacher": ["ratemyteacher"]})
    assert index.match("ratemyteacher").tag == "ratemyteacher"


def test_lookalike_table_comes_from_tr39_data_and_our_own():
    table = lookalike_table()
    assert table["а"] == "a" and table["ѕ"] == "s"      # Cyrillic, both in TR39 and ours
    assert table["ᴛ"] == "t" and table["т"] == "t"      # TR39 maps т to small capital T
    assert table["ꓲ"] == "l" or table["ꓲ"] == "i"       # Lisu letter: only in the TR39 data
    assert len(table) > 1000


def test_canonical_key_is_the_same_across_spellings_of_one_tag():
    assert canonical_key("#Back2School") == canonical_key("back_2_school") == "back2school"
    assert canonical_key("ѕlap_a_teacher") == "slapateacher"
    assert forms("ＳＬＡＰ").exact == "ｓｌａｐ"


def test_variant_list_recall_and_look_alike_precision():
    index = fixture_index()
    variants = list(csv.DictReader((FIXTURES / "variants.csv").open(encoding="utf-8")))
    negatives = [line.strip() for line in (FIXTURES / "lookalike_negatives.txt").open(encoding="utf-8")
                 if line.strip() and not line.startswith("#")]
    right = sum(index.match(v["variant"]).tag == v["tag"] for v in variants)
    wrong = [n for n in negatives if index.match(n).tag is not None]
    assert len(variants) > 100 and len(negatives) > 100
    assert right / len(variants) >= 0.95
    assert len(wrong) / len(negatives) <= 0.02, wrong
