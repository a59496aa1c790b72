"""Readers of the real labelled corpora, one per published format.

Each reader takes the corpus folder (its files already checksum-verified by
`classifiers.corpora`) and returns `Rows`: one `Row` per item, with the
corpus's own labels mapped to abusive = 1 / not = 0 as its README suggests,
and a count of the items it left out and why. De-duplication and grouping
are common to all corpora and done by the caller.
"""
from __future__ import annotations

import csv
import io
import json
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


class CorpusFormatError(ValueError):
    """A corpus file does not have the columns or values its README documents."""


@dataclass(frozen=True)
class Row:
    text: str
    label: int
    group: str  # the unit items must not be split across (post, thread, issue, conversation)
    extra: dict = field(default_factory=dict)  # e.g. hatecheck's functionality


@dataclass
class Rows:
    rows: list[Row] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)  # reason -> items left out

    def add(self, text: str, label: int, group: str, **extra) -> None:
        self.rows.append(Row(text, label, group, extra))

    def drop(self, reason: str) -> None:
        self.dropped[reason] += 1


def _dict_rows(path: Path, required: set[str], **options):
    """CSV records of `path` (quoted fields may span lines), refusing missing columns."""
    csv.field_size_limit(sys.maxsize)  # long Reddit/GitHub bodies
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh, **options)
        missing = required - set(reader.fieldnames or ())
        if missing:
            raise CorpusFormatError(f"{path}: line 1: missing column(s) {sorted(missing)}")
        yield from reader


def read_davidson(folder: Path) -> Rows:
    """class 0 (hate) and 1 (offensive) -> 1, 2 (neither) -> 0."""
    out = Rows()
    path = folder / "labeled_data.csv"
    for n, r in enumerate(_dict_rows(path, {"class", "tweet"})):
        if r["class"] not in ("0", "1", "2"):
            raise CorpusFormatError(f"{path}: row {n + 1}: class {r['class']!r} is not 0, 1 or 2")
        out.add(r["tweet"], 0 if r["class"] == "2" else 1, f"row{n}")
    return out


def read_stormfront(folder: Path) -> Rows:
    """hate -> 1, noHate -> 0; 'relation' (hateful only with the rest of the post) and idk/skip dropped."""
    out = Rows()
    for r in _dict_rows(folder / "annotations_metadata.csv", {"file_id", "label"}):
        label = {"hate": 1, "noHate": 0}.get(r["label"])
        if label is None:
            out.drop(f"label {r['label']}")
            continue
        text = (folder / "all_files" / f"{r['file_id']}.txt").read_text(encoding="utf-8")
        out.add(text, label, "post" + r["file_id"].rsplit("_", 1)[0])
    return out


CONVABUSE_SPLITS = ("train", "valid", "test")
ABUSIVE_CHOICES = ("-1", "-2", "-3")
NOT_ABUSIVE_CHOICES = ("1", "0")


def _convabuse_vote(record: dict, annotator: int) -> int | None:
    """1 abusive, 0 not, None when the annotator did not see the item.

    A cell holds "1" for the choice made, or "1, 1" when the same annotator
    saw the item again (repeat annotations for intra-annotator agreement):
    the first annotation counts, so each annotator votes once.
    """
    for choices, vote in ((ABUSIVE_CHOICES, 1), (NOT_ABUSIVE_CHOICES, 0)):
        for choice in choices:
            cell = record.get(f"Annotator{annotator}_is_abuse.{choice}") or ""
            if cell.split(",")[0].strip() == "1":
                return vote
    return None


def read_convabuse(folder: Path) -> Rows:
    """Per item: abusive (-1/-2/-3) votes a strict majority -> 1, a minority -> 0, ties dropped."""
    out = Rows()
    for split in CONVABUSE_SPLITS:
        path = folder / "2_splits" / f"ConvAbuseEMNLP{split}.csv"
        for r in _dict_rows(path, {"conv_id", "user", "Annotator1_is_abuse.1"}):
            votes = [v for a in range(1, 9) if (v := _convabuse_vote(r, a)) is not None]
            abusive = sum(votes)
            if not votes:
                out.drop("no annotator vote")
            elif 2 * abusive == len(votes):
                out.drop("annotator tie")
            else:
                out.add(r["user"], int(2 * abusive > len(votes)), "conv" + r["conv_id"])
    return out


MLMA_MEMBER = "hate_speech_mlma/en_dataset_with_stop_words.csv"


def read_mlma(folder: Path, member_sha256: str) -> Rows:
    """English tweets: sentiment exactly 'normal' -> 0, any hostility type -> 1."""
    from classifiers.corpora import check_bytes_sha256

    zip_path = folder / "hate_speech_mlma.zip"
    try:
        with zipfile.ZipFile(zip_path) as archive:
            data = archive.read(MLMA_MEMBER)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise CorpusFormatError(f"{zip_path}: cannot read {MLMA_MEMBER} ({exc})") from None
    check_bytes_sha256(data, member_sha256, f"{zip_path}!{MLMA_MEMBER}")
    out = Rows()
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    missing = {"HITId", "tweet", "sentiment"} - set(reader.fieldnames or ())
    if missing:
        raise CorpusFormatError(f"{zip_path}!{MLMA_MEMBER}: missing column(s) {sorted(missing)}")
    for r in reader:
        out.add(r["tweet"], 0 if r["sentiment"].strip() == "normal" else 1, "hit" + r["HITId"])
    return out


def read_toxicr(folder: Path) -> Rows:
    """is_toxic as is (1 = toxic); the one sheet of the workbook, columns message, is_toxic."""
    import openpyxl

    path = folder / "code-review-dataset-full.xlsx"
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError or its own errors on a bad file
        raise CorpusFormatError(f"{path}: not a readable .xlsx workbook ({exc})") from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [str(c).strip() if c is not None else "" for c in next(rows, ())]
        if "message" not in header or "is_toxic" not in header:
            raise CorpusFormatError(f"{path}: row 1: expected columns message, is_toxic; found {header}")
        text_col, label_col = header.index("message"), header.index("is_toxic")
        out = Rows()
        for n, values in enumerate(rows, 2):
            label = values[label_col]
            if label not in (0, 1):
                raise CorpusFormatError(f"{path}: row {n}: is_toxic {label!r} is not 0 or 1")
            text = values[text_col]
            out.add("" if text is None else str(text), int(label), f"row{n}")
        return out
    finally:
        book.close()


def read_foxnews(folder: Path) -> Rows:
    """label as is (1 = identity-based hate; insults at other commenters are 0). Split by thread.

    Screen names (user, mentions) are not read: they are personal data.
    """
    path = folder / "full-comments-u.json"
    out = Rows()
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                text, label, title = r["text"], r["label"], r["title"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise CorpusFormatError(f"{path}: line {n}: not a comment record ({exc})") from None
            if label not in (0, 1):
                raise CorpusFormatError(f"{path}: line {n}: label {label!r} is not 0 or 1")
            out.add(text, label, "thread:" + title)
    return out


MISOGYNY_PLACEHOLDERS = {"[removed]", "[deleted]"}


def read_misogyny(folder: Path) -> Rows:
    """Misogynistic, or a personal attack that is not about gender -> 1; everything else 0.

    Removed/deleted placeholders are not posts; rows whose `image` column holds
    a text fragment had their body cut at a comma in the export: both dropped.
    """
    out = Rows()
    path = folder / "data" / "final_labels.csv"
    for r in _dict_rows(path, {"link_id", "body", "image", "level_1", "level_2"}):
        if r["body"].strip() in MISOGYNY_PLACEHOLDERS:
            out.drop("removed or deleted")
        elif r["image"] not in ("", "Yes"):
            out.drop("body truncated in the export")
        else:
            label = r["level_1"] == "Misogynistic" or r["level_2"] == "Nonmisogynistic_personal_attack"
            out.add(r["body"], int(label), "link" + r["link_id"])
    return out


# UTF-8 punctuation that was decoded as Mac Roman in the published file.
MOJIBAKE = {"‚Äô": "’", "‚Äò": "‘", "‚Äú": "“", "‚Äù": "”", "‚Äî": "—", "‚Äì": "–", "‚Ä¶": "…"}


def repair_mojibake(text: str) -> str:
    for broken, right in MOJIBAKE.items():
        text = text.replace(broken, right)
    return text


def read_reddit_incivility(folder: Path) -> Rows:
    """correction as is (1 = uncivil: name-calling, aspersion, vulgarity; swearing alone counts)."""
    out = Rows()
    path = folder / "incivility_coded_0302.csv"
    for n, r in enumerate(_dict_rows(path, {"comment", "correction"})):
        if r["correction"] not in ("0", "1"):
            raise CorpusFormatError(f"{path}: row {n + 1}: correction {r['correction']!r} is not 0 or 1")
        out.add(repair_mojibake(r["comment"]), int(r["correction"]), f"row{n}")
    return out


GH_ABUSE = {"Insulting", "Mocking", "Threat", "Vulgarity", "Identity attacks/Name-Calling",
            "Identity attack/Name-Calling", "Identity Attack/Name-Calling"}
GH_UNCIVIL_NOT_ABUSE = {"Bitter frustration", "Impatience", "Entitlement", "Irony"}


def read_gh_incivility(folder: Path) -> Rows:
    """Strict abuse: insulting, mocking, threat, vulgarity, identity attack -> 1; None -> 0.

    Frustration, impatience, entitlement and irony are uncivil but not abuse:
    neither a positive nor a clean negative, so dropped.
    """
    out = Rows()
    path = folder / "dataset" / "annotated_comment_level.csv"
    for r in _dict_rows(path, {"issue_id", "tbdf", "comment_body"}):
        tbdf = r["tbdf"].strip()
        if tbdf in GH_ABUSE or tbdf == "None":
            out.add(r["comment_body"], int(tbdf != "None"), "issue" + r["issue_id"])
        elif tbdf in GH_UNCIVIL_NOT_ABUSE:
            out.drop("uncivil, not abuse")
        else:
            raise CorpusFormatError(f"{path}: issue {r['issue_id']}: unknown tbdf {tbdf!r}")
    return out


def read_strudel(folder: Path) -> Rows:
    """Comments only: toxicity y -> 1, n -> 0; grouped by issue (the _id prefix owner/repo/issue)."""
    out = Rows()
    path = folder / "data" / "training" / "train_comments.csv"
    for r in _dict_rows(path, {"_id", "text", "toxicity"}):
        if r["toxicity"] not in ("y", "n"):
            raise CorpusFormatError(f"{path}: {r['_id']}: toxicity {r['toxicity']!r} is not y or n")
        out.add(r["text"], int(r["toxicity"] == "y"), "issue" + r["_id"].rsplit("/", 1)[0])
    return out


# Non-hateful cases that are still abuse (at an individual, at a non-protected group).
HATECHECK_ABUSIVE_NH = {"target_indiv_nh", "target_group_nh"}


def read_hatecheck(folder: Path) -> Rows:
    """Test cases for ABUSE: hateful -> 1, non-hateful -> 0 except abuse at individuals or groups."""
    out = Rows()
    path = folder / "test_suite_cases.csv"
    for r in _dict_rows(path, {"functionality", "case_id", "test_case", "label_gold"}):
        if r["label_gold"] not in ("hateful", "non-hateful"):
            raise CorpusFormatError(f"{path}: case {r['case_id']}: label_gold {r['label_gold']!r}")
        label = r["label_gold"] == "hateful" or r["functionality"] in HATECHECK_ABUSIVE_NH
        out.add(r["test_case"], int(label), "case" + r["case_id"],
                functionality=r["functionality"], label_gold=r["label_gold"])
    return out
