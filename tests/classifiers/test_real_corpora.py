"""classifiers.corpora real corpora: each format on small invented fixtures, checksums,
missing corpora, hatecheck kept out of training, and the shared copies when present."""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import zipfile
from functools import partial
from pathlib import Path

import pytest

from classifiers import corpora as c
from classifiers import corpus_readers as readers

SHARED = Path(os.environ["TAGWATCH_CORPORA_DIR"]) if os.environ.get("TAGWATCH_CORPORA_DIR") else None


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def register(monkeypatch):
    """Register a fixture folder under a corpus's name, with the fixture files' checksums."""
    def _register(name: str, folder: Path, **changes):
        spec = c.REAL_CORPORA[name]
        files = {f: sha(folder / f) for f in spec.files}
        monkeypatch.setitem(c.REAL_CORPORA, name, dataclasses.replace(spec, files=files, **changes))
    return _register


def by_text(corpus) -> dict[str, int]:
    return dict(zip(corpus.texts, corpus.labels.tolist()))


def test_davidson_classes_map_and_duplicates_are_kept_once(tmp_path, register):
    write_csv(tmp_path / "davidson" / "labeled_data.csv",
              ["", "count", "hate_speech", "offensive_language", "neither", "class", "tweet"],
              [[0, 3, 0, 0, 3, 2, "lovely weather at the allotment"],
               [1, 3, 0, 3, 0, 1, "you utter muppet"],
               [2, 3, 3, 0, 0, 0, "an invented hateful line"],
               [3, 3, 0, 0, 3, 2, "lovely weather at the allotment"],
               [4, 3, 0, 3, 0, 1, "Lovely weather at the allotment!"]])
    register("davidson", tmp_path / "davidson")
    corpus = c.load_training_corpus("davidson", tmp_path)
    assert by_text(corpus) == {"lovely weather at the allotment": 0, "you utter muppet": 1,
                               "an invented hateful line": 1, "Lovely weather at the allotment!": 1}
    assert corpus.dropped == {"exact duplicate": 1}
    groups = dict(zip(corpus.texts, corpus.groups))
    # Equal once normalised: same group, so never split across folds.
    assert groups["lovely weather at the allotment"] == groups["Lovely weather at the allotment!"]
    assert groups["you utter muppet"] != groups["an invented hateful line"]
    assert corpus.licence == "MIT" and "offensive" in corpus.label_meaning


def make_stormfront(folder: Path) -> None:
    sentences = {"100_1": ("The bakery opens at nine .", "noHate"),
                 "100_2": ("Invented hateful sentence about a group .", "hate"),
                 "101_1": ("Only hateful with its neighbours .", "relation"),
                 "102_1": ("Yes .", "idk/skip"),
                 "103_1": ("Same words twice .", "hate"),
                 "104_1": ("Same words twice .", "noHate")}
    (folder / "all_files").mkdir(parents=True)
    for file_id, (text, _) in sentences.items():
        (folder / "all_files" / f"{file_id}.txt").write_text(text, encoding="utf-8")
    write_csv(folder / "annotations_metadata.csv",
              ["file_id", "user_id", "subforum_id", "num_contexts", "label"],
              [[f, 1, 1, 0, label] for f, (_, label) in sentences.items()])
    (folder / "SHA256SUMS").write_text("".join(
        f"{sha(folder / 'all_files' / f'{f}.txt')}  all_files/{f}.txt\n" for f in sentences))


def test_stormfront_relation_idk_and_conflicting_duplicates_are_dropped(tmp_path, register):
    make_stormfront(tmp_path / "stormfront")
    register("stormfront", tmp_path / "stormfront")
    corpus = c.load_training_corpus("stormfront", tmp_path)
    assert by_text(corpus) == {"The bakery opens at nine .": 0,
                               "Invented hateful sentence about a group .": 1}
    assert corpus.dropped == {"label relation": 1, "label idk/skip": 1,
                              "duplicate text with conflicting labels": 2}
    assert corpus.groups[0] == corpus.groups[1] == "stormfront:post100"  # one post, one group


def test_a_sentence_that_differs_from_the_checksum_list_is_refused(tmp_path, register):
    make_stormfront(tmp_path / "stormfront")
    register("stormfront", tmp_path / "stormfront")
    sentence = tmp_path / "stormfront" / "all_files" / "100_1.txt"
    sentence.chmod(0o644)
    sentence.write_text("The bakery opens at ten .", encoding="utf-8")
    with pytest.raises(c.CorpusChecksumError, match="100_1.txt"):
        c.load_training_corpus("stormfront", tmp_path)


def convabuse_votes(*votes: str) -> list[str]:
    """Annotator blocks for the is_abuse choices; '' = the annotator did not see the item."""
    cells = []
    for annotator in range(8):
        vote = votes[annotator] if annotator < len(votes) else ""
        cells += ["" if not vote else ("1" if choice == vote else "0")
                  for choice in ("1", "0", "-1", "-2", "-3")]
    return cells


def test_convabuse_majority_of_annotators_and_ties_dropped(tmp_path, register):
    header = ["example_id", "conv_id", "user"] + [
        f"Annotator{a}_is_abuse.{s}" for a in range(1, 9) for s in ("1", "0", "-1", "-2", "-3")]
    folder = tmp_path / "convabuse"
    write_csv(folder / "2_splits" / "ConvAbuseEMNLPtrain.csv", header, [
        [1, 7, "you are a useless machine", *convabuse_votes("-2", "-1", "1")],
        [2, 7, "what is the weather", *convabuse_votes("1", "0")],
        [3, 8, "shut up", *convabuse_votes("-1", "1")],  # tie
    ])
    repeat = convabuse_votes("-3")
    repeat[5:10] = ["1, 1", "0, 0", "0, 0", "0, 0", "0, 0"]  # annotator 2 twice: not abusive
    write_csv(folder / "2_splits" / "ConvAbuseEMNLPvalid.csv", header,
              [[4, 9, "tell me a story", *repeat]])
    write_csv(folder / "2_splits" / "ConvAbuseEMNLPtest.csv", header,
              [[5, 10, "hello", *convabuse_votes("1")]])
    register("convabuse", folder)
    corpus = c.load_training_corpus("convabuse", tmp_path)
    assert by_text(corpus) == {"you are a useless machine": 1, "what is the weather": 0, "hello": 0}
    assert corpus.dropped == {"annotator tie": 2}  # "shut up" 1-1, "tell me a story" 1-1


def test_mlma_reads_the_english_member_of_the_zip_and_checks_it(tmp_path, register):
    folder = tmp_path / "mlma"
    folder.mkdir()
    member = ("HITId,tweet,sentiment,directness,annotator_sentiment,target,group\n"
              "1,@user nice goal today,normal,indirect,neutral,other,other\n"
              "2,@user invented offensive tweet,offensive_disrespectful,direct,anger,other,individual\n")
    with zipfile.ZipFile(folder / "hate_speech_mlma.zip", "w") as archive:
        archive.writestr(readers.MLMA_MEMBER, member)
    member_sha = hashlib.sha256(member.encode()).hexdigest()
    register("mlma", folder, read=partial(readers.read_mlma, member_sha256=member_sha))
    corpus = c.load_training_corpus("mlma", tmp_path)
    assert by_text(corpus) == {"@user nice goal today": 0, "@user invented offensive tweet": 1}
    register("mlma", folder, read=partial(readers.read_mlma, member_sha256="0" * 64))
    with pytest.raises(c.CorpusChecksumError, match="en_dataset_with_stop_words"):
        c.load_training_corpus("mlma", tmp_path)


def test_toxicr_reads_the_workbook(tmp_path, register):
    import openpyxl

    folder = tmp_path / "toxicr"
    folder.mkdir()
    book = openpyxl.Workbook()
    sheet = book.active
    for row in [("message", "is_toxic"), ("useless braces", 0), ("who wrote this crap", 1),
                ("Done", 0), ("Done", 0), ("meh", 0), ("meh", 1)]:
        sheet.append(row)
    book.save(folder / "code-review-dataset-full.xlsx")
    register("toxicr", folder)
    corpus = c.load_training_corpus("toxicr", tmp_path)
    assert by_text(corpus) == {"useless braces": 0, "who wrote this crap": 1, "Done": 0}
    assert corpus.dropped == {"exact duplicate": 1, "duplicate text with conflicting labels": 2}


def test_toxicr_that_is_not_a_workbook_is_one_error(tmp_path, register):
    folder = tmp_path / "toxicr"
    folder.mkdir()
    (folder / "code-review-dataset-full.xlsx").write_text("message,is_toxic\n")
    register("toxicr", folder)
    with pytest.raises(readers.CorpusFormatError, match="not a readable .xlsx"):
        c.load_training_corpus("toxicr", tmp_path)


def test_foxnews_groups_by_thread_and_reads_no_screen_names(tmp_path, register):
    folder = tmp_path / "foxnews"
    folder.mkdir()
    lines = [{"title": "Thread A", "text": "invented hateful comment", "label": 1,
              "user": "someone", "mentions": "other", "prev": "", "succ": "", "meta": ""},
             {"title": "Thread A", "text": "you are an idiot", "label": 0,
              "user": "other", "mentions": "someone", "prev": "", "succ": "", "meta": ""},
             {"title": "Thread B", "text": "good article", "label": 0,
              "user": "third", "mentions": "", "prev": "", "succ": "", "meta": ""}]
    (folder / "full-comments-u.json").write_text("".join(json.dumps(x) + "\n" for x in lines))
    register("foxnews", folder)
    corpus = c.load_training_corpus("foxnews", tmp_path)
    assert by_text(corpus) == {"invented hateful comment": 1, "you are an idiot": 0, "good article": 0}
    assert corpus.groups.tolist() == ["foxnews:thread:Thread A"] * 2 + ["foxnews:thread:Thread B"]


def test_misogyny_mapping_and_rows_that_are_not_posts(tmp_path, register):
    header = ["entry_id", "link_id", "parent_id", "body", "image", "level_1", "level_2"]
    folder = tmp_path / "misogyny"
    write_csv(folder / "data" / "final_labels.csv", header, [
        ["a", "t3_a", "", "invented sexist remark", "", "Misogynistic", "Derogation"],
        ["b", "t3_a", "t3_a", "you are a clown, mate", "", "Nonmisogynistic",
         "Nonmisogynistic_personal_attack"],
        ["c", "t3_b", "", "nice photo of the lake", "Yes", "Nonmisogynistic", "None_of_the_categories"],
        ["d", "t3_b", "t3_b", "[removed]", "", "Nonmisogynistic", "None_of_the_categories"],
        ["e", "t3_b", "t3_b", "cut at a", "comma in the export", "Nonmisogynistic",
         "None_of_the_categories"],
        ["f", "t3_c", "", "we disagree, politely", "", "Nonmisogynistic", "Counter_speech"],
    ])
    register("misogyny", folder)
    corpus = c.load_training_corpus("misogyny", tmp_path)
    assert by_text(corpus) == {"invented sexist remark": 1, "you are a clown, mate": 1,
                               "nice photo of the lake": 0, "we disagree, politely": 0}
    assert corpus.dropped == {"removed or deleted": 1, "body truncated in the export": 1}


def test_reddit_incivility_mojibake_is_repaired(tmp_path, register):
    folder = tmp_path / "reddit_incivility"
    write_csv(folder / "incivility_coded_0302.csv", ["comment", "correction"],
              [["for fuck‚Äôs sake", 1], ["I agree with the OP", 0], ["   ", 0]])
    register("reddit_incivility", folder)
    corpus = c.load_training_corpus("reddit_incivility", tmp_path)
    assert by_text(corpus) == {"for fuck’s sake": 1, "I agree with the OP": 0}
    assert corpus.dropped == {"empty text": 1}


def test_gh_incivility_strict_abuse_and_uncivil_rows_dropped(tmp_path, register):
    folder = tmp_path / "gh_incivility"
    write_csv(folder / "dataset" / "annotated_comment_level.csv",
              ["id", "issue_id", "comment_id", "tbdf", "comment_body"],
              [[1, 5, 1, "None", "Thanks, merged."], [2, 5, 2, "Insulting", "you clueless maintainer"],
               [3, 5, 3, "Bitter frustration", "still broken after a year"],
               [4, 6, 4, "Identity Attack/Name-Calling", "invented name-calling"]])
    register("gh_incivility", folder)
    corpus = c.load_training_corpus("gh_incivility", tmp_path)
    assert by_text(corpus) == {"Thanks, merged.": 0, "you clueless maintainer": 1,
                               "invented name-calling": 1}
    assert corpus.dropped == {"uncivil, not abuse": 1}


def test_gh_incivility_unknown_label_is_refused(tmp_path, register):
    folder = tmp_path / "gh_incivility"
    write_csv(folder / "dataset" / "annotated_comment_level.csv",
              ["id", "issue_id", "comment_id", "tbdf", "comment_body"], [[1, 5, 1, "Snark", "hm"]])
    register("gh_incivility", folder)
    with pytest.raises(readers.CorpusFormatError, match="unknown tbdf 'Snark'"):
        c.load_training_corpus("gh_incivility", tmp_path)


def test_strudel_groups_comments_by_issue(tmp_path, register):
    folder = tmp_path / "strudel"
    write_csv(folder / "data" / "training" / "train_comments.csv", ["_id", "text", "toxicity"],
              [["owner/repo/12/1", "please stop screwing with this", "y"],
               ["owner/repo/12/2", "works for me", "n"], ["owner/repo/13/3", "ok", "n"]])
    register("strudel", folder)
    corpus = c.load_training_corpus("strudel", tmp_path)
    assert by_text(corpus) == {"please stop screwing with this": 1, "works for me": 0, "ok": 0}
    assert corpus.groups[0] == corpus.groups[1] != corpus.groups[2]


def make_hatecheck(folder: Path) -> None:
    write_csv(folder / "test_suite_cases.csv",
              ["", "functionality", "case_id", "test_case", "label_gold"],
              [[0, "derog_neg_emote_h", 1, "I hate invented people.", "hateful"],
               [1, "target_indiv_nh", 2, "You are a complete clown.", "non-hateful"],
               [2, "profanity_nh", 3, "Fuck, what a day.", "non-hateful"]])


def test_hatecheck_is_a_diagnostic_suite_with_the_abuse_mapping(tmp_path, register):
    make_hatecheck(tmp_path / "hatecheck")
    register("hatecheck", tmp_path / "hatecheck")
    suite = c.load_diagnostic_suite("hatecheck", tmp_path)
    assert suite.labels.tolist() == [1, 1, 0]  # abuse at an individual is abuse, swearing is not
    assert suite.functionality == ["derog_neg_emote_h", "target_indiv_nh", "profanity_nh"]


def test_hatecheck_is_never_training_data(tmp_path, register):
    make_hatecheck(tmp_path / "hatecheck")
    register("hatecheck", tmp_path / "hatecheck")
    assert "hatecheck" not in c.TRAINING_CORPORA
    with pytest.raises(c.DiagnosticCorpusError, match="never training data"):
        c.load_training_corpus("hatecheck", tmp_path)
    with pytest.raises(c.DiagnosticCorpusError):
        c.load_training_corpora(tmp_path, ["davidson", "hatecheck"])
    with pytest.raises(c.DiagnosticCorpusError):
        c.assert_trainable("hatecheck")
    with pytest.raises(c.CorpusError, match="not a diagnostic suite"):
        c.load_diagnostic_suite("strudel", tmp_path)
    # Not in the download registry either, so `tagwatch train` cannot fetch it as a corpus.
    with pytest.raises(ValueError, match="unknown corpus"):
        c.get_corpus("hatecheck")


def test_a_file_with_the_wrong_checksum_is_refused(tmp_path, register):
    folder = tmp_path / "strudel"
    path = write_csv(folder / "data" / "training" / "train_comments.csv",
                     ["_id", "text", "toxicity"], [["o/r/1/1", "fine", "n"]])
    register("strudel", folder)
    write_csv(path, ["_id", "text", "toxicity"], [["o/r/1/1", "fine", "y"]])
    with pytest.raises(c.CorpusChecksumError, match="train_comments.csv has sha256"):
        c.load_training_corpus("strudel", tmp_path)
    with pytest.raises(c.CorpusChecksumError):  # a corrupt corpus is not skipped quietly
        c.load_training_corpora(tmp_path, ["strudel"])


def test_missing_corpora_are_skipped_with_a_warning_naming_them(tmp_path, register):
    folder = tmp_path / "strudel"
    write_csv(folder / "data" / "training" / "train_comments.csv",
              ["_id", "text", "toxicity"], [["o/r/1/1", "fine", "n"], ["o/r/1/2", "git gud", "y"]])
    register("strudel", folder)
    loaded, notes = c.load_training_corpora(tmp_path, ["strudel", "foxnews"])
    assert [x.name for x in loaded] == ["strudel"]
    assert len(notes) == 1 and "'foxnews' is not available" in notes[0]
    assert "full-comments-u.json" in notes[0]
    missing = c.missing_corpora(tmp_path)
    assert "strudel" not in missing and "foxnews" in missing and "hatecheck" in missing
    warning = c.corpora_warning(tmp_path)
    assert "foxnews" in warning and "strudel" not in warning.split(":", 2)[-1]
    assert "TAGWATCH_CORPORA_DIR is not set" in c.corpora_warning(None)
    with pytest.raises(c.CorpusUnavailable, match="TAGWATCH_CORPORA_DIR is not set"):
        c.load_training_corpus("strudel", None)


# Rows published, from each corpus's README: kept + dropped must account for every one.
PUBLISHED_ROWS = {"davidson": 24_783, "stormfront": 10_944, "convabuse": 4_185, "mlma": 5_647,
                  "toxicr": 19_651, "foxnews": 1_528, "misogyny": 6_567,
                  "reddit_incivility": 4_982, "gh_incivility": 5_969, "strudel": 1_597}


@pytest.mark.slow
@pytest.mark.skipif(SHARED is None or c.missing_corpora(SHARED) != [],
                    reason="the shared corpora are not all in TAGWATCH_CORPORA_DIR "
                           "(the Makefile sets it to ../shared/corpora when present)")
def test_the_shared_corpora_load_verified_and_account_for_every_row():
    loaded, notes = c.load_training_corpora(SHARED)
    assert notes == []
    assert [x.name for x in loaded] == list(PUBLISHED_ROWS)
    for corpus in loaded:
        assert len(corpus) + sum(corpus.dropped.values()) == PUBLISHED_ROWS[corpus.name], corpus.name
        assert 0 < corpus.positives < len(corpus)
        assert len(set(corpus.texts)) == len(corpus.texts)
        print(f"{corpus.name}: {len(corpus)} rows, {corpus.positives} positive "
              f"({corpus.positives / len(corpus):.1%}), dropped {corpus.dropped}")
    named = {x.name: x for x in loaded}
    # The READMEs' own counts of what the mapping leaves out.
    assert named["gh_incivility"].dropped["uncivil, not abuse"] == 893
    assert named["stormfront"].dropped["label relation"] == 168
    suite = c.load_diagnostic_suite("hatecheck", SHARED)
    assert len(suite.texts) == 3_728
    assert int(suite.labels.sum()) == 2_563 + 65 + 62
