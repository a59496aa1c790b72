"""Labelled data: the real corpora, the staff seed set, analysts' labels and files given by hand.

A `Dataset` is one named source of labelled posts with what is needed to
trace it (source, checksum) and to weigh it in training. Its `kind` decides
what it teaches (see `classifiers.training`):

- "corpus": a real public corpus (classifiers.corpora). The abuse score is
  learned from these, each corpus weighing the same, classes balanced within.
- "labels": analysts' decisions in the warehouse, and files given to
  `tagwatch train --input`: real posts of the sources tagwatch watches; they
  teach the abuse score too, and weigh a lot (LABEL_SHARE).
- "seed": the project's fictional staff seed set. It teaches only the staff
  head (abuse aimed at school staff, applied to posts that name staff) and
  whether a post is aimed at staff; it never moves the score of other posts.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from classifiers.corpora import (CORPORA, CorpusError, CorpusPlaces, CorpusUnavailable,
                                 corpora_warning, corpus_path, load_training_corpora, sha256_of)

log = logging.getLogger(__name__)

SEED_PATH = Path(__file__).with_name("seed") / "staff_seed.csv"
EVAL_DIR = Path(__file__).with_name("eval")
SEED_NAME = "staff_seed"
LABELS_NAME = "labels"
CORPUS, LABELS, SEED = "corpus", "labels", "seed"
# The per-category signals a reviewer sees. The seed set's "harassment" and
# "doxxing" are one category here (both are campaigns against a person), and
# "defamation" is another name for an allegation.
CATEGORIES = ("allegation", "sexual", "threat", "insult", "doxxing")
CATEGORY_OF = {"allegation": "allegation", "defamation": "allegation", "sexual": "sexual",
               "threat": "threat", "violence": "threat", "insult": "insult",
               "doxxing": "doxxing", "harassment": "doxxing"}

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}


@dataclass
class Dataset:
    """One named source of labelled posts, with what is needed to trace it."""

    name: str
    source: str
    sha256: str
    texts: list[str]
    labels: np.ndarray
    kind: str = LABELS
    groups: list[str] | None = None  # posts that must stay on one side of any split
    # Abuse category of each post where known (None where not): trains the category head.
    categories: list[str | None] | None = None

    def summary(self) -> dict:
        return {"name": self.name, "kind": self.kind, "source": self.source,
                "rows": len(self.texts), "positives": int(self.labels.sum()),
                "sha256": self.sha256}


def read_labelled(paths: str | Path | Iterable[str | Path]) -> tuple[list[str], np.ndarray]:
    """Texts and 0/1 labels from CSV or NDJSON files with `text` and `label` fields.

    Labels may be 0/1, true/false or yes/no; other fields are ignored. Rows
    with empty text are skipped (and counted in a warning); anything else
    that is wrong raises ValueError naming the file and line.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    texts: list[str] = []
    labels: list[int] = []
    for path in paths:
        file_texts, file_labels, _ = read_labelled_file(Path(path))
        texts += file_texts
        labels += file_labels
    return texts, np.array(labels, dtype=np.int64)


def dataset_from_files(name: str, paths: Sequence[str | Path], kind: str = LABELS) -> Dataset:
    """A Dataset from labelled files (see `read_labelled`), e.g. an analyst's export."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError(f"dataset {name!r}: no files given")
    texts, labels = read_labelled(paths)
    hashes = [sha256_of(p) for p in paths]
    digest = hashes[0] if len(hashes) == 1 else hashlib.sha256("\n".join(hashes).encode()).hexdigest()
    return Dataset(name, ", ".join(map(str, paths)), digest, texts, labels, kind)


def seed_dataset() -> Dataset:
    """The project's own fictional seed set; its `template` column groups near copies."""
    texts, labels, extras = read_labelled_file(SEED_PATH, extras=("template", "category"))
    return Dataset(SEED_NAME, str(SEED_PATH), sha256_of(SEED_PATH), texts,
                   np.array(labels, dtype=np.int64), SEED, extras["template"],
                   [CATEGORY_OF.get(c) for c in extras["category"]])


def staff_set(name: str) -> Dataset:
    """classifiers/eval/<name>.csv (staff_select or staff_eval): hand-written, never trained on."""
    path = EVAL_DIR / f"{name}.csv"
    texts, labels = read_labelled(path)
    return Dataset(name, str(path), sha256_of(path), texts, labels, SEED)


def real_datasets(settings: CorpusPlaces) -> tuple[list[Dataset], list[str]]:
    """Every real training corpus present, as Datasets; notes name what is missing."""
    loaded, notes = load_training_corpora(settings.corpora_dir)
    datasets = []
    for corpus in loaded:
        digest = hashlib.sha256()
        for text, label in zip(corpus.texts, corpus.labels.tolist()):
            digest.update(f"{label}\t{text}\n".encode("utf-8", "surrogatepass"))
        # Davidson's abusive tweets are generic offensive language: for the category
        # head they are insults (nothing in them says allegation, threat or doxxing).
        categories = (["insult" if y else None for y in corpus.labels.tolist()]
                      if corpus.name == "davidson" else None)
        datasets.append(Dataset(corpus.name, corpus.source, digest.hexdigest(), corpus.texts,
                                corpus.labels, CORPUS, corpus.groups.tolist(), categories))
    warning = corpora_warning(settings.corpora_dir)
    if warning and not notes:
        notes.append(warning)
    return datasets, notes


def default_datasets(settings: CorpusPlaces, *, allow_download: bool = True
                     ) -> tuple[list[Dataset], list[str]]:
    """The seed set and every real corpus that can be had; notes say what was used or missing.

    Davidson, the one corpus with a download address in the registry, is
    downloaded (checksum-verified) when it is not in TAGWATCH_CORPORA_DIR.
    """
    seed = seed_dataset()
    try:
        real, notes = real_datasets(settings)
    except CorpusError as exc:  # a corpus present but changed: say so, train without corpora
        real, notes = [], [f"warning: {exc}"]
    if allow_download and not any(d.name == "davidson" for d in real):
        try:
            path = corpus_path("davidson", settings, allow_download=True)
        except CorpusUnavailable as exc:
            notes.append(f"warning: {exc}")
        else:
            davidson = dataset_from_files("davidson", [path], CORPUS)
            davidson.source = CORPORA["davidson"].url
            davidson.categories = ["insult" if y else None for y in davidson.labels.tolist()]
            real.append(davidson)
    if not real:
        notes.append(
            f"warning: no real corpus is available (set TAGWATCH_CORPORA_DIR to the corpora "
            f"folder), so the abuse score is learned from alt-profanity-check's model and the "
            f"staff seed set ({len(seed.texts)} posts) alone, and will be weaker on real posts")
    used = ", ".join(f"{d.name} ({len(d.texts)})" for d in real)
    return [seed, *real], notes + ([f"data: {used}; {seed.name} ({len(seed.texts)} posts, "
                                    f"staff head only)"] if real else [])


def read_labelled_file(path: Path, extras: Sequence[str] = ()
                       ) -> tuple[list[str], list[int], dict[str, list[str]]]:
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    required = ["text", "label", *extras]
    texts: list[str] = []
    labels: list[int] = []
    extra_values: dict[str, list[str]] = {name: [] for name in extras}
    skipped = 0
    try:
        for line, record in records(path, required):
            text = record.get("text")
            if not isinstance(text, str) or not text.strip():
                skipped += 1
                continue
            labels.append(parse_label(record.get("label"), path, line))
            texts.append(text)
            for name in extras:
                extra_values[name].append(str(record.get(name)))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc})") from None
    if skipped:
        log.warning("%s: skipped %d row(s) with empty text", path, skipped)
    return texts, labels, extra_values


def records(path: Path, required: list[str]):
    """(line number, record) pairs of a CSV or NDJSON (.ndjson/.jsonl) file."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        if path.suffix.lower() in (".ndjson", ".jsonl"):
            for line, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}: line {line}: not valid JSON ({exc.msg})") from None
                except RecursionError:
                    raise ValueError(f"{path}: line {line}: JSON nested too deeply") from None
                missing = [k for k in required if not isinstance(record, dict) or k not in record]
                if missing:
                    raise ValueError(f"{path}: line {line}: missing field(s) {missing}")
                yield line, record
            return
        allow_long_csv_fields()
        reader = csv.DictReader(fh)
        missing = [k for k in required if k not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: line 1: missing column(s) {missing}; "
                             f"found {reader.fieldnames or []}")
        for record in reader:
            yield reader.line_num, record


def parse_label(value, path: Path, line: int) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    word = str(value).strip().lower() if value is not None else ""
    if word in _TRUE:
        return 1
    if word in _FALSE:
        return 0
    raise ValueError(f"{path}: line {line}: label {value!r} is not 0/1, true/false or yes/no")


def allow_long_csv_fields() -> None:
    # The csv module refuses fields over 128 KiB by default; a pasted post can be longer.
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 24))
