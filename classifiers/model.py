"""The abuse classifier: labelled data in, a versioned model on disk, scores out.

One scikit-learn Pipeline does everything from raw text to a probability
(normalise -> word and character TF-IDF -> calibrated logistic regression),
so training, evaluation, persistence and scoring all handle a single object
and cannot drift apart.

Models are stored as ``<models_dir>/<version>/{model.skops,meta.json}`` with
``<models_dir>/CURRENT`` naming the version in use. A model file is an input
the system must not blindly execute: it is checked against the sha256 in its
meta.json and loaded by skops with an explicit list of trusted types.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import scipy.sparse as sp
import sklearn
import skops
import skops.io
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (average_precision_score, brier_score_loss,
                             precision_recall_curve, precision_recall_fscore_support,
                             roc_auc_score)
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from classifiers.explain import explanation_text
from common.csvout import SafeWriter
from classifiers.errors import ModelIntegrityError, ModelNotFound  # noqa: F401 (re-exported)
from classifiers.corpora import CORPORA, CorpusPlaces, CorpusUnavailable, corpus_path, sha256_of
from classifiers.signals import StaffGatedNgrams, aimed_at_staff_many, staff_terms
from classifiers.text import EncodedBatch, HashedNgrams, normalise_many

log = logging.getLogger(__name__)

SEED_PATH = Path(__file__).with_name("seed") / "staff_seed.csv"
SEED_NAME = "staff_seed"
# The seed set is the only data about abuse aimed at school staff, and it was
# ~4 times smaller than Davidson (now 3 fillings of the same few hundred templates:
# more posts, no more variety): unweighted, generic profanity drowns it.
# Measured (5-fold template-grouped CV on the seed set, with 80% of Davidson):
# seed ROC-AUC 0.862 at weight 1, 0.877 at 3, 0.887 at 10, 0.892 at 30, while
# Davidson's held-out ROC-AUC only moved from 0.987 to 0.986. Re-measured on the
# fourth-round seed set (1,500 posts per label) against classifiers/eval/staff_select.csv:
# ROC-AUC 0.958 / 0.960 / 0.962 at weight 10 / 30 / 100, Davidson 0.980 / 0.980 / 0.978:
# flat, so 30 stays. Sixth round: the seed set holds 3 fillings of its templates, so each
# post weighs a third of that (the set as a whole weighs what it did).
SEED_WEIGHT = 10.0
N_FOLDS = 5  # fold 0 is the fixed held-out part (20%); folds 1-4 also serve calibration
RANDOM_STATE = 20211
# Analysts' labels (imports and review decisions) are in-domain and checked by a
# person, but there are few of them next to 25,000 Davidson tweets: each counts
# five times, so 2,000 labels weigh about a third as much as Davidson.
LABEL_WEIGHT = 5.0
LABELS_NAME = "labels"
# The per-category signals a reviewer sees. The seed set's "harassment" and
# "doxxing" are one category here (both are campaigns against a person), and
# "defamation" is another name for an allegation.
CATEGORIES = ("allegation", "sexual", "threat", "insult", "doxxing")
CATEGORY_OF = {"allegation": "allegation", "defamation": "allegation", "sexual": "sexual",
               "threat": "threat", "violence": "threat", "insult": "insult",
               "doxxing": "doxxing", "harassment": "doxxing"}
MAX_PER_CATEGORY = 3000
# Operating point: the most precise threshold that catches 88% of the abusive seed posts in
# their out-of-fold scores. Those are template-grouped (each post scored by a model that never
# saw its template), a harder test than unseen posts: out-of-fold ROC-AUC ~0.85 against 0.96 on
# classifiers/eval/staff_select.csv, so the recall reached on unseen posts is higher than the
# target. Measured over 3 template fillings: target 0.90 -> staff_select recall 0.920, false
# positives 0.093 (staff_eval 0.962 / 0.139); 0.88 -> 0.903 / 0.070 (staff_eval 0.949 / 0.097);
# 0.86 -> 0.887 / 0.070, below the 0.9 recall the issue asks for.
# Sixth round (seed set of 3 fillings, see classifiers/seed/make_seed.py FILLINGS), per base seed
# 20211025 / 1 / 2, staff_select recall/false positives: target 0.88 -> 0.90/0.06, 0.91/0.06,
# 0.90/0.06; 0.89 -> 0.90/0.06, 0.91/0.06, 0.91/0.06; 0.895 -> 0.91/0.07, 0.91/0.07, 0.91/0.06.
# staff_eval at 0.89: 0.94/0.083, 0.92/0.104, 0.90/0.083 (at 0.88: 0.90/0.083, 0.90/0.104, 0.90/0.083).
MIN_RECALL = 0.89
MIN_PER_LABEL = 10  # fewer cannot be split into calibration folds and a held-out part
MAX_CHARS = 10_000  # longer texts are scored on their start: bounded time per batch
BATCH_SIZE = 5000
SHORTCUT_ROWS = 4096  # see LinearShortcut.__call__
EXPLAIN_TOP = 3  # terms shown per flagged post
EXPLAIN_WORDS = 40  # distinct words tried per post: bounds the cost of a long post
EXPLAIN_MIN_DROP = 0.1  # log-odds: a word that moves the score less explains nothing
# Words too common to explain anything on their own (their weight is the model's
# reading of the sentence around them, which the content words show better).
_WORD_RE = re.compile(r"\w+")
_FUNCTION_WORDS = frozenset(
    "a an the is are was were be been am i im you your he she his her him they them their it its "
    "this that these those to of in on at for with and or but so if as by from my me we our us "
    "do does did not no just all what who how when rt".split())
MODEL_FILE, META_FILE, CURRENT_FILE = "model.skops", "meta.json", "CURRENT"
_VERSION_RE = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")

# Every type a model file may contain beyond skops' own defaults, reviewed
# against skops.io.get_untrusted_types() of a saved pipeline. Anything else in
# a file refuses to load.
TRUSTED_TYPES = [
    "classifiers.text.HashedNgrams",
    "classifiers.signals.StaffGatedNgrams",
    "classifiers.text.normalise_many",
    "classifiers.model.CalibratedLinearClassifier",
]

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}


# ---------------------------------------------------------------------------
# Labelled data


@dataclass
class Dataset:
    """One named source of labelled posts, with what is needed to trace it."""

    name: str
    source: str
    sha256: str
    texts: list[str]
    labels: np.ndarray
    weight: float = 1.0  # sample weight of each post in training
    groups: list[str] | None = None  # posts that must stay on one side of the held-out split
    # Abuse category of each post where known (None where not): trains the category head.
    categories: list[str | None] | None = None

    def summary(self) -> dict:
        return {"name": self.name, "source": self.source, "rows": len(self.texts),
                "positives": int(self.labels.sum()), "sha256": self.sha256,
                "weight": self.weight}


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
        file_texts, file_labels, _ = _read_labelled_file(Path(path))
        texts += file_texts
        labels += file_labels
    return texts, np.array(labels, dtype=np.int64)


def dataset_from_files(name: str, paths: Sequence[str | Path], *, weight: float = 1.0) -> Dataset:
    """A Dataset from labelled files (see `read_labelled`), e.g. an analyst's export."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError(f"dataset {name!r}: no files given")
    texts, labels = read_labelled(paths)
    hashes = [sha256_of(p) for p in paths]
    digest = hashes[0] if len(hashes) == 1 else hashlib.sha256("\n".join(hashes).encode()).hexdigest()
    return Dataset(name, ", ".join(map(str, paths)), digest, texts, labels, weight)


def seed_dataset() -> Dataset:
    """The project's own fictional seed set; its `template` column groups near copies."""
    texts, labels, extras = _read_labelled_file(SEED_PATH, extras=("template", "category"))
    templates, categories = extras["template"], extras["category"]
    return Dataset(SEED_NAME, str(SEED_PATH), sha256_of(SEED_PATH), texts,
                   np.array(labels, dtype=np.int64), SEED_WEIGHT, templates,
                   [CATEGORY_OF.get(c) for c in categories])


def default_datasets(settings: CorpusPlaces, *, allow_download: bool = True
                     ) -> tuple[list[Dataset], list[str]]:
    """The seed set, plus Davidson when it can be had; notes say what was used."""
    seed = seed_dataset()
    try:
        path = corpus_path("davidson", settings, allow_download=allow_download)
    except CorpusUnavailable as exc:
        return [seed], [
            f"warning: the Davidson corpus is not available, so the model is trained on the "
            f"staff seed set alone ({len(seed.texts)} posts) and will be weaker, above all on "
            f"abuse and profanity the seed set does not cover. ({exc})"
        ]
    davidson = dataset_from_files("davidson", [path])
    # Davidson's abusive tweets are generic offensive language: for the category
    # head they are insults (nothing in them says allegation, threat or doxxing).
    davidson.categories = ["insult" if y else None for y in davidson.labels]
    corpus = CORPORA["davidson"]
    return [seed, davidson], [
        f"data: {seed.name} ({len(seed.texts)} posts, weight {seed.weight:g}) and davidson "
        f"({len(davidson.texts)} posts from {corpus.url}, licence {corpus.licence})"
    ]


def _read_labelled_file(path: Path, extras: Sequence[str] = ()
                        ) -> tuple[list[str], list[int], dict[str, list[str]]]:
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    required = ["text", "label", *extras]
    texts: list[str] = []
    labels: list[int] = []
    extra_values: dict[str, list[str]] = {name: [] for name in extras}
    skipped = 0
    try:
        for line, record in _records(path, required):
            text = record.get("text")
            if not isinstance(text, str) or not text.strip():
                skipped += 1
                continue
            labels.append(_parse_label(record.get("label"), path, line))
            texts.append(text)
            for name in extras:
                extra_values[name].append(str(record.get(name)))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc})") from None
    if skipped:
        log.warning("%s: skipped %d row(s) with empty text", path, skipped)
    return texts, labels, extra_values


def _records(path: Path, required: list[str]):
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
        _allow_long_csv_fields()
        reader = csv.DictReader(fh)
        missing = [k for k in required if k not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: line 1: missing column(s) {missing}; "
                             f"found {reader.fieldnames or []}")
        for record in reader:
            yield reader.line_num, record


def _parse_label(value, path: Path, line: int) -> int:
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


def _allow_long_csv_fields() -> None:
    # The csv module refuses fields over 128 KiB by default; a pasted post can be longer.
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 24))


# ---------------------------------------------------------------------------
# Training


def build_pipeline() -> Pipeline:
    """Raw text -> calibrated probability that the post is abusive."""
    def tfidf(analyzer: str, ngram_range: tuple[int, int]) -> Pipeline:
        return Pipeline([("counts", HashedNgrams(analyzer, ngram_range)),
                         ("tfidf", TfidfTransformer(sublinear_tf=True))])

    # Character n-grams of 3-5 rather than 2-5: 30% cheaper to compute; on the seed
    # set's template-grouped out-of-fold scores ROC-AUC 0.896 vs 0.900, Davidson's
    # held-out ROC-AUC unchanged (0.980). The "staff" block: see StaffGatedNgrams
    # (out-of-fold seed ROC-AUC 0.890 -> 0.900 with it).
    return Pipeline([
        ("normalise", FunctionTransformer(normalise_many)),
        ("features", FeatureUnion([("words", tfidf("word", (1, 2))),
                                   ("chars", tfidf("char_wb", (3, 5))),
                                   ("staff", Pipeline([
                                       ("counts", StaffGatedNgrams()),
                                       ("tfidf", TfidfTransformer(sublinear_tf=True))]))])),
        # The dual liblinear solver: 5x faster than the primal one here, same model.
        ("classifier", CalibratedLinearClassifier(
            LogisticRegression(C=4.0, class_weight="balanced", solver="liblinear", dual=True,
                               random_state=RANDOM_STATE))),
    ])


class CalibratedLinearClassifier(ClassifierMixin, BaseEstimator):
    """A linear classifier whose decision values are mapped to probabilities (Platt scaling).

    Like CalibratedClassifierCV(method="sigmoid", ensemble=False), except that
    the caller gives the calibration folds, and `train` keeps each seed
    template inside one fold. Calibrated on near copies of its own training
    posts, the model comes out overconfident; and on unshuffled folds of
    datasets stacked one after the other, its scores came out inverted
    (measured with CalibratedClassifierCV's default folds).
    """

    def __init__(self, estimator=None):
        self.estimator = estimator

    def fit(self, X, y, sample_weight=None, folds=None):
        """`folds`: the calibration fold of each row; by default 5 stratified random folds."""
        if self.estimator is None:
            raise ValueError("CalibratedLinearClassifier needs an estimator")
        y = np.asarray(y)
        weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        if folds is None:
            folds = np.empty(len(y), dtype=np.int64)
            splitter = StratifiedKFold(N_FOLDS, shuffle=True, random_state=RANDOM_STATE)
            for fold, (_, test) in enumerate(splitter.split(np.zeros(len(y)), y)):
                folds[test] = fold
        folds = np.asarray(folds)
        # Each row's decision value from a model that did not see its fold.
        decision = np.zeros(len(y))
        for fold in np.unique(folds):
            test = folds == fold
            model = clone(self.estimator).fit(X[~test], y[~test], sample_weight=weight[~test])
            decision[test] = model.decision_function(X[test])
        platt = LogisticRegression(C=1e4).fit(decision.reshape(-1, 1), y, sample_weight=weight)
        self.slope_ = float(platt.coef_[0, 0])
        self.intercept_ = float(platt.intercept_[0])
        # Each row's calibrated probability from a model that did not see its fold:
        # `train` chooses the threshold on these, then drops them (not saved).
        self.out_of_fold_ = expit(self.slope_ * decision + self.intercept_)
        self.estimator_ = clone(self.estimator).fit(X, y, sample_weight=weight)
        self.classes_ = self.estimator_.classes_
        return self

    def decision_function(self, X) -> np.ndarray:
        return self.slope_ * self.estimator_.decision_function(X) + self.intercept_

    def predict_proba(self, X) -> np.ndarray:
        positive = expit(self.decision_function(X))
        return np.column_stack([1 - positive, positive])

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


@dataclass
class HeldOut:
    """The fixed held-out posts of one training run: what every model is compared on."""

    texts: list[str]
    labels: np.ndarray
    dataset: np.ndarray  # the name of the dataset each post came from

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for name, label, text in sorted(zip(self.dataset.tolist(), self.labels.tolist(), self.texts)):
            digest.update(f"{name}\t{label}\t{text}\n".encode("utf-8", "surrogatepass"))
        return digest.hexdigest()


@dataclass
class TrainedModel:
    pipeline: Pipeline
    threshold: float
    metrics: dict
    datasets: list[dict]
    trained_at: datetime
    notes: list[str] = field(default_factory=list)
    category_model: Pipeline | None = None
    held_out: HeldOut | None = None

    @property
    def data_checksum(self) -> str:
        """sha256 over the datasets' names, checksums and weights."""
        lines = sorted(f"{d['name']}:{d['sha256']}:{d['weight']}" for d in self.datasets)
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    @property
    def version(self) -> str:
        return f"{self.trained_at:%Y%m%dT%H%M%SZ}-{self.data_checksum[:8]}"


def held_out_folds(dataset: Dataset) -> np.ndarray:
    """Each post's fold (0 = held out), from the sha256 of its normalised text.

    A post's fold depends on nothing but its own text (a seed post's: its
    template), so it stays on the same side of the split in every retrain,
    however many labels are added; a post imported twice, or present in two
    datasets, lands on the same side each time.
    """
    keys = dataset.groups if dataset.groups is not None else normalise_many(dataset.texts)
    return np.fromiter(
        (int.from_bytes(hashlib.sha256(k.encode("utf-8", "surrogatepass")).digest()[:8], "big")
         % N_FOLDS for k in keys), dtype=np.int64, count=len(keys))


def held_out_of(datasets: Sequence[Dataset]) -> HeldOut:
    """The held-out posts (fold 0) of these datasets."""
    texts, labels, names = [], [], []
    for d in datasets:
        held = held_out_folds(d) == 0
        texts += [t for t, h in zip(d.texts, held) if h]
        labels.append(d.labels[held])
        names += [d.name] * int(held.sum())
    return HeldOut(texts, np.concatenate(labels) if labels else np.zeros(0, np.int64),
                   np.array(names, dtype=object))


def train(datasets: Sequence[Dataset], *, notes: Sequence[str] = ()) -> TrainedModel:
    """Fit on folds 1-4 of every dataset, measure on the fixed held-out fold 0.

    The model is not refitted on the held-out posts afterwards: they stay
    unseen by every model, so a new model and the promoted one can be compared
    on them fairly (`classifiers.registry`). The threshold is chosen on the
    training seed posts' out-of-fold scores (template-grouped folds), the
    posts that look like the task: the highest precision with recall >=
    MIN_RECALL. The held-out fold then measures that threshold honestly.
    """
    if not datasets:
        raise ValueError("no training data")
    texts = [t for d in datasets for t in d.texts]
    labels = np.concatenate([d.labels for d in datasets])
    weights = np.concatenate([np.full(len(d.texts), d.weight, dtype=float) for d in datasets])
    origin = np.concatenate([np.full(len(d.texts), i) for i, d in enumerate(datasets)])
    categories = [c for d in datasets for c in (d.categories or [None] * len(d.texts))]
    folds = np.concatenate([held_out_folds(d) for d in datasets])
    held_out = folds == 0
    kept = ~held_out
    counts = np.bincount(labels[kept], minlength=2)
    if counts.min() < MIN_PER_LABEL:
        raise ValueError(f"training needs at least {MIN_PER_LABEL} abusive (1) and "
                         f"{MIN_PER_LABEL} harmless (0) examples outside the held-out fifth; "
                         f"got {counts[1]} and {counts[0]}")

    started = datetime.now(timezone.utc)
    train_texts = [t for t, k in zip(texts, kept) if k]
    pipeline = build_pipeline().fit(train_texts, labels[kept],
                                    classifier__sample_weight=weights[kept],
                                    classifier__folds=folds[kept])
    category_model = _fit_category_model(
        train_texts, [c for c, k in zip(categories, kept) if k], weights[kept])
    held = HeldOut([t for t, h in zip(texts, held_out) if h], labels[held_out],
                   np.array([datasets[i].name for i in origin[held_out]], dtype=object))
    scores = pipeline.predict_proba(held.texts)[:, 1] if held.texts else np.zeros(0)
    y, where = held.labels, held.dataset

    # The threshold is chosen across folds, not on one split: on every training
    # seed post's out-of-fold score (its template unseen by the model that scored
    # it), i.e. ~4x more posts and templates than the held-out fifth, which then
    # stays untouched for an honest measurement of the chosen threshold.
    classifier = pipeline[-1]
    out_of_fold = classifier.out_of_fold_
    del classifier.out_of_fold_
    names = [d.name for d in datasets]
    origin_kept = origin[kept]
    seed_rows = (np.array([names[i] == SEED_NAME for i in origin_kept], bool)
                 if len(origin_kept) else np.zeros(0, bool))
    chosen_on = SEED_NAME if seed_rows.any() else "all"
    on_seed = seed_rows if chosen_on == SEED_NAME else np.ones(len(out_of_fold), bool)
    threshold = _choose_threshold(labels[kept][on_seed], out_of_fold[on_seed])
    choice = _metrics(labels[kept][on_seed], out_of_fold[on_seed], threshold)
    # All held-out posts at the top level, then each dataset, then how they were chosen.
    metrics = {
        **_metrics(y, scores, threshold),
        "by_dataset": {d.name: _metrics(y[where == d.name], scores[where == d.name], threshold)
                       for d in datasets},
        "split": {"held_out_fraction": 1 / N_FOLDS,
                  "rule": f"sha256 of the normalised text (seed: of its template) mod {N_FOLDS} == 0",
                  "held_out_sha256": held.sha256,
                  "threshold_rule": f"highest precision with recall >= {MIN_RECALL} "
                                    f"on out-of-fold scores of training {chosen_on} "
                                    f"(template-grouped folds)"},
    }
    metrics["threshold_choice"] = {"on": chosen_on, **{k: choice.get(k) for k in (
        "n", "positives", "roc_auc", "precision", "recall")}}
    metrics["train_seconds"] = round((datetime.now(timezone.utc) - started).total_seconds(), 1)
    return TrainedModel(pipeline, threshold, metrics, [d.summary() for d in datasets],
                        started, list(notes), category_model, held)


def build_category_model() -> Pipeline:
    """Normalised text of an abusive post -> which category of abuse it is.

    Word n-grams only, in a small hashed space: the categories turn on a few
    words ("paedo", "address", "slap"), and five classes over the main model's
    two million columns would make the model file five times larger.
    """
    return Pipeline([
        ("counts", HashedNgrams("word", (1, 2), n_bits=16)),
        ("tfidf", TfidfTransformer(sublinear_tf=True)),
        ("classifier", LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000)),
    ])


def _fit_category_model(texts: list[str], categories: list[str | None],
                        weights: np.ndarray) -> Pipeline | None:
    """Fit on the abusive posts whose category is known; None if fewer than two categories."""
    rows = [i for i, c in enumerate(categories) if c in CATEGORIES]
    by_category = {c: [i for i in rows if categories[i] == c] for c in CATEGORIES}
    # Davidson alone gives ~16,000 insults: a few thousand carry the same signal.
    rows = sorted(i for ids in by_category.values() for i in ids[:MAX_PER_CATEGORY])
    if len({categories[i] for i in rows}) < 2:
        return None
    return build_category_model().fit(
        normalise_many([texts[i] for i in rows]), [categories[i] for i in rows],
        classifier__sample_weight=weights[rows])


def _choose_threshold(y: np.ndarray, scores: np.ndarray) -> float:
    if len(set(y.tolist())) < 2:
        log.warning("held-out data has one class only: threshold left at 0.5")
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y, scores)
    ok = np.flatnonzero(recall[:-1] >= MIN_RECALL)
    # Among thresholds meeting the recall floor, the most precise; ties -> the higher threshold.
    best = max(ok, key=lambda i: (precision[i], thresholds[i]))
    return float(thresholds[best])


def _metrics(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    if len(y) == 0:
        return {"n": 0}
    both = len(set(y.tolist())) == 2
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, scores >= threshold, average="binary", zero_division=0)
    values = {
        "n": int(len(y)), "positives": int(y.sum()),
        "roc_auc": roc_auc_score(y, scores) if both else None,
        "pr_auc": average_precision_score(y, scores) if both else None,
        "precision": precision, "recall": recall, "f1": f1,
        "brier": brier_score_loss(y, scores, labels=[0, 1]),
    }
    return {k: round(float(v), 4) if isinstance(v, (float, np.floating)) else v
            for k, v in values.items()}


# ---------------------------------------------------------------------------
# Storage


def save(model: TrainedModel, models_dir: str | Path, *, make_current: bool = True) -> str:
    """Write the model and its meta.json as a new version; by default make it CURRENT.

    The file holds {"abuse": pipeline, "categories": category pipeline or None}.
    """
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    version = model.version
    final = models_dir / version
    if final.exists():
        raise FileExistsError(f"model version {version} already exists in {models_dir}")
    staging = Path(tempfile.mkdtemp(dir=models_dir, prefix=f".{version}."))
    try:
        # The threshold is stored in the hashed file too: meta.json alone could be edited
        # to flag nothing (or everything) without failing the integrity check.
        skops.io.dump({"abuse": model.pipeline, "categories": model.category_model,
                       "threshold": float(model.threshold)},
                      staging / MODEL_FILE, compression=zipfile.ZIP_DEFLATED)
        meta = {
            "version": version,
            "trained_at": model.trained_at.isoformat(timespec="seconds"),
            "threshold": model.threshold,
            "datasets": model.datasets,
            "metrics": model.metrics,
            "notes": model.notes,
            "sklearn_version": sklearn.__version__,
            "skops_version": skops.__version__,
            "model_file": MODEL_FILE,
            "model_sha256": sha256_of(staging / MODEL_FILE),
        }
        (staging / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        staging.chmod(0o700)  # models are private like the rest of the data
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if make_current:
        set_current(models_dir, version)
    return version


def set_current(models_dir: str | Path, version: str) -> None:
    """Point CURRENT at `version` (atomically: a reader sees the old or the new name)."""
    models_dir = Path(models_dir)
    if not _VERSION_RE.fullmatch(version) or not (models_dir / version / MODEL_FILE).is_file():
        raise ModelNotFound(f"model version {version} is not in {models_dir}")
    pointer = models_dir / f".{CURRENT_FILE}.{os.getpid()}"
    pointer.write_text(version + "\n", encoding="utf-8")
    os.replace(pointer, models_dir / CURRENT_FILE)


def current_version(models_dir: str | Path) -> str | None:
    current = Path(models_dir) / CURRENT_FILE
    return current.read_text(encoding="utf-8").strip() if current.is_file() else None


def load(models_dir: str | Path, version: str | None = None) -> "Scorer":
    """The CURRENT (or given) model, after checking it is the file meta.json describes."""
    models_dir = Path(models_dir)
    if version is None:
        current = models_dir / CURRENT_FILE
        if not current.is_file():
            raise ModelNotFound(f"no trained model in {models_dir}: run `tagwatch train` first")
        version = current.read_text(encoding="utf-8").strip()
    if not _VERSION_RE.fullmatch(version):
        raise ModelNotFound(f"{version!r} is not a model version (expected e.g. "
                            f"20240101T120000Z-0123abcd)")
    directory = models_dir / version
    if not (directory / MODEL_FILE).is_file() or not (directory / META_FILE).is_file():
        raise ModelNotFound(f"model version {version} is not in {models_dir} "
                            "(incomplete or removed): run `tagwatch train`")
    meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    data = (directory / MODEL_FILE).read_bytes()  # hash and load the very same bytes
    actual = hashlib.sha256(data).hexdigest()
    if actual != meta.get("model_sha256"):
        raise ModelIntegrityError(
            f"{directory / MODEL_FILE} has sha256 {actual} but meta.json records "
            f"{meta.get('model_sha256')}: the file was changed after training; refusing to load it"
        )
    unexpected = sorted(set(skops.io.get_untrusted_types(data=data)) - set(TRUSTED_TYPES))
    if unexpected:
        raise ModelIntegrityError(
            f"{directory / MODEL_FILE} contains types that are not trusted: {unexpected}; "
            "it was not loaded. If it was made by an older tagwatch, train a new model "
            "(tagwatch train); otherwise treat the file as tampered with"
        )
    stored = skops.io.loads(data, trusted=TRUSTED_TYPES)
    if not isinstance(stored, dict) or not isinstance(stored.get("abuse"), Pipeline):
        raise ModelIntegrityError(f"{directory / MODEL_FILE} is not a tagwatch model "
                                  "(expected the abuse and category pipelines); if it was made "
                                  "by an older tagwatch, train a new one (tagwatch train)")
    return Scorer(stored["abuse"], version, _checked_threshold(stored, meta, directory), meta,
                  stored.get("categories"))


def _checked_threshold(stored: dict, meta: dict, directory: Path) -> float:
    """The threshold from the hashed model file, refused if meta.json says otherwise. A
    file saved before the threshold was stored in it keeps meta.json's (with a warning)."""
    if "threshold" not in stored:
        log.warning("%s predates the threshold check (its threshold is read from meta.json "
                    "only): train a new model to have it checked", directory / MODEL_FILE)
        return float(meta["threshold"])
    threshold = float(stored["threshold"])
    if meta.get("threshold") is None or float(meta["threshold"]) != threshold:
        raise ModelIntegrityError(
            f"{directory / META_FILE} records threshold {meta.get('threshold')} but the model file "
            f"holds {threshold}: meta.json was changed after training; refusing to load it")
    return threshold


# ---------------------------------------------------------------------------
# Scoring


class Scorer:
    """A loaded model: scores texts in batches, NaN for a text it cannot score."""

    def __init__(self, pipeline: Pipeline, version: str, threshold: float, meta: dict,
                 category_model: Pipeline | None = None):
        self.pipeline = pipeline
        self.version = version
        self.threshold = threshold
        self.meta = meta
        self.category_model = category_model
        # None when the pipeline is not one the shortcut knows: then it scores.
        self._margins = LinearShortcut.of(pipeline)

    def score(self, texts: Iterable, batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Probability of abuse per text; NaN for None, non-text and blank texts."""
        texts = list(texts)
        out = np.full(len(texts), math.nan)
        for start, usable, scores in self._in_batches(texts, batch_size,
                                                      lambda chunk: self._scores(chunk)[0],
                                                      lambda: math.nan):
            out[start + np.asarray(usable)] = scores
        return out

    def details(self, texts: Iterable, batch_size: int = BATCH_SIZE, *,
                explain: bool = True) -> list["ScoreDetail"]:
        """Score, per-category scores and (for flagged texts) an explanation, per text.

        A text that cannot be scored (None, not text, blank, or one that makes
        the model fail) gets a detail with a NaN score: it is recorded, never dropped.
        """
        texts = list(texts)
        out = [ScoreDetail(math.nan) for _ in texts]
        for start, usable, details in self._in_batches(
                texts, batch_size, lambda chunk: self._details(chunk, explain),
                lambda: ScoreDetail(math.nan)):
            for i, detail in zip(usable, details):
                out[start + i] = detail
        return out

    def _in_batches(self, texts: list, batch_size: int, run, failed):
        """(start, positions of the usable texts, `run`'s results for them), batch by batch.

        Usable texts are non-blank strings, cut to MAX_CHARS. A batch that
        `run` fails on is retried text by text, and a text that fails alone
        gets `failed()`: one bad text must not cost the whole batch.
        """
        for start in range(0, len(texts), batch_size):
            batch = texts[start:start + batch_size]
            usable = [i for i, t in enumerate(batch) if isinstance(t, str) and t and not t.isspace()]
            if not usable:
                continue
            chunk = [batch[i][:MAX_CHARS] for i in usable]
            try:
                results = run(chunk)
            except Exception:
                log.exception("scoring a batch of %d failed; scoring its texts one by one",
                              len(chunk))
                results = [self._alone(run, t, failed) for t in chunk]
            yield start, usable, results

    @staticmethod
    def _alone(run, text: str, failed):
        try:
            return run([text])[0]
        except Exception:
            log.exception("could not score a text of %d characters", len(text))
            return failed()

    def _scores(self, texts: list[str]) -> tuple[np.ndarray, list[int], list[str]]:
        """Each text's probability, and which texts have content, normalised.

        Nothing left after normalisation (only zero-width or control
        characters): there is no text to judge, so NaN rather than the model's prior.
        """
        normalised = self.pipeline.named_steps["normalise"].transform(texts)
        content = [i for i, t in enumerate(normalised) if t]
        scores = np.full(len(texts), math.nan)
        if len(content) < len(normalised):
            normalised = [normalised[i] for i in content]
        if content:
            if self._margins is not None:
                margins = self._margins(normalised)
            else:
                margins = self.pipeline[-1].decision_function(
                    self.pipeline[1:-1].transform(normalised))
            scores[content] = expit(margins)
        return scores, content, normalised

    def _details(self, texts: list[str], explain: bool) -> list["ScoreDetail"]:
        all_scores, content, normalised = self._scores(texts)
        details = [ScoreDetail(float(score)) for score in all_scores]
        if not explain or not content:
            return details
        scores = all_scores[content]
        shares = (self.category_model.predict_proba(normalised)
                  if self.category_model is not None else None)
        names = list(self.category_model.classes_) if self.category_model is not None else []
        flagged = np.flatnonzero(scores >= self.threshold)
        reasons = {}
        if len(flagged):
            # Only the flagged posts are explained: only their feature rows are needed.
            texts = [normalised[i] for i in flagged]
            reasons = dict(zip(flagged, self._explain(texts, self.pipeline[1:-1].transform(texts))))
        aimed = aimed_at_staff_many(normalised)  # staff_terms finds nothing in the others
        for n, (i, text, score) in enumerate(zip(content, normalised, scores)):
            staff = staff_terms(text) if aimed[n] else []
            # P(category) = P(abusive) x P(category | abusive): they add up to the score.
            categories = {c: round(float(score * shares[n][names.index(c)]), 4)
                          if c in names else 0.0 for c in CATEGORIES}
            explanation = reasons.get(n, [])
            explanation += [{"term": t, "signal": "aimed at school staff"} for t in staff]
            details[i] = ScoreDetail(float(score), categories, explanation,
                                     staff_target=1.0 if staff else 0.0)
        return details

    def _explain(self, texts: list[str], features) -> list[list[dict]]:
        """For each text, the words that pushed its score up most (a linear-model shortcut).

        The model is linear in its features, so its log-odds are a sum over
        the post's features of weight x value. Every feature belongs to one
        word: a word n-gram (unigrams; bigrams are left out) or a character
        n-gram inside the word, or, for a post aimed at school staff, the
        word's staff-only copy. A word's contribution is the sum over its own
        features, read off the post's feature row: no re-scoring. Measured
        against leave-one-word-out on flagged seed posts, the top term agreed
        on most posts (the two differ where TF-IDF's length normalisation
        shifts weight between words), at ~50x less cost.
        """
        reasons: list[list[dict]] = [[] for _ in texts]
        owner, words = [], []
        for n, text in enumerate(texts):
            candidates = [w for w in dict.fromkeys(_WORD_RE.findall(text))
                          if w not in _FUNCTION_WORDS]
            owner += [n] * min(len(candidates), EXPLAIN_WORDS)
            words += candidates[:EXPLAIN_WORDS]
        if not words:
            return reasons
        distinct = list(dict.fromkeys(words))
        index = {w: i for i, w in enumerate(distinct)}
        columns = self._word_columns(distinct)  # distinct words x features, 1 where a word has it
        owner_arr = np.asarray(owner)
        classifier = self.pipeline[-1]
        coef = classifier.estimator_.coef_.ravel() * classifier.slope_
        # contribution[k] = sum_j [word k has feature j] * value of j in its post * weight j
        weighted = features[owner_arr].multiply(columns[[index[w] for w in words]])
        contributions = np.asarray(weighted @ coef).ravel()
        for n, word, c in sorted(zip(owner, words, contributions), key=lambda x: -x[2]):
            if c >= EXPLAIN_MIN_DROP and len(reasons[n]) < EXPLAIN_TOP:
                reasons[n].append({"term": word, "weight": round(float(c), 2)})
        return reasons

    def _word_columns(self, words: list[str]):
        """Which feature columns each word owns, as a 0/1 sparse matrix (one row per word)."""
        blocks = []
        for _, block in self.pipeline.named_steps["features"].transformer_list:
            counts = block.named_steps["counts"] if isinstance(block, Pipeline) else block
            if isinstance(counts, StaffGatedNgrams):
                # The word's staff-only copy: the same hashing, ungated; the flag column is nobody's.
                own = HashedNgrams("word", (1, 1), counts.n_bits).transform(words)
                blocks.append(sp.hstack([own, sp.csr_matrix((len(words), 1))], format="csr"))
            elif counts.analyzer == "word":
                blocks.append(HashedNgrams("word", (1, 1), counts.n_bits).transform(words))
            else:
                blocks.append(counts.transform(words))
        matrix = sp.hstack(blocks, format="csr")
        matrix.data[:] = 1.0
        return matrix


class LinearShortcut:
    """The abuse pipeline's decision values from normalised text, without its feature matrix.

    The model is linear over blocks of TF-IDF features, so a post's log-odds
    is a sum over blocks of sum_j tf_j * idf_j * w_j / ||tf * idf||, j over
    the block's n-grams in the post: all of it computable from the n-gram
    counts alone, with idf folded into the weights once, at load. That skips
    building each block's sparse matrix, TF-IDF weighting it, stacking the
    blocks into one 1.3-million-column matrix and multiplying it out, and
    encodes the batch once for all blocks. The numbers are the pipeline's own
    (a test holds them within 1e-9 of `decision_function`); a block it does
    not know is scored through its own transform.
    """

    def __init__(self, blocks: list, slope: float, intercept: float, platt_intercept: float):
        self.blocks = blocks  # (transformer, counter or None, idf or None, weights, l2 norm?)
        self.slope, self.intercept, self.platt_intercept = slope, intercept, platt_intercept

    @classmethod
    def of(cls, pipeline: Pipeline) -> "LinearShortcut | None":
        """The shortcut for a trained abuse pipeline, or None if it does not have the expected shape."""
        if list(pipeline.named_steps) != ["normalise", "features", "classifier"]:
            return None
        features, classifier = pipeline.named_steps["features"], pipeline.named_steps["classifier"]
        if (not isinstance(features, FeatureUnion) or features.transformer_weights is not None
                or not isinstance(classifier, CalibratedLinearClassifier)
                or not hasattr(classifier, "estimator_")):
            return None
        coef = getattr(classifier.estimator_, "coef_", None)
        if not isinstance(coef, np.ndarray) or coef.ndim != 2 or coef.shape[0] != 1:
            return None
        coef = coef.ravel()
        blocks, start = [], 0
        for _, block in features.transformer_list:
            if not isinstance(block, BaseEstimator):  # "drop" or "passthrough"
                return None
            counter, tfidf = (block.steps[0][1], block.steps[-1][1]) if (
                isinstance(block, Pipeline) and len(block.steps) == 2) else (None, None)
            if (isinstance(counter, (HashedNgrams, StaffGatedNgrams))
                    and isinstance(tfidf, TfidfTransformer) and tfidf.norm in ("l2", None)):
                width = (1 << counter.n_bits) + isinstance(counter, StaffGatedNgrams)
                idf = getattr(tfidf, "idf_", None)
                if idf is not None and len(idf) != width:
                    return None
                weights = coef[start:start + width]
                if idf is not None:
                    weights = weights * idf
                blocks.append((block, counter, idf, weights, tfidf.norm == "l2"))
            else:
                width = block.transform(["x"]).shape[1]
                blocks.append((block, None, None, coef[start:start + width], False))
            start += width
        if start != len(coef):
            return None
        return cls(blocks, classifier.slope_, float(classifier.estimator_.intercept_[0]),
                   classifier.intercept_)

    def __call__(self, normalised: list[str]) -> np.ndarray:
        """`pipeline[-1].decision_function(pipeline[1:-1].transform(normalised))`."""
        # In even pieces of at most SHORTCUT_ROWS posts: their n-gram keys (post
        # << column bits | column) then fit in 32 bits, which sort twice as fast.
        size = -(-len(normalised) // -(-len(normalised) // SHORTCUT_ROWS)) if normalised else 1
        return np.concatenate([self._margins(normalised[start:start + size])
                               for start in range(0, len(normalised), size)] or [np.zeros(0)])

    def _margins(self, normalised: list[str]) -> np.ndarray:
        batch = EncodedBatch(normalised)
        flagged = None
        total = np.zeros(len(normalised))
        for block, counter, idf, weights, l2 in self.blocks:
            if counter is None:
                total += np.asarray(block.transform(normalised) @ weights).ravel()
                continue
            if isinstance(counter, StaffGatedNgrams):
                if flagged is None:
                    flagged = aimed_at_staff_many(normalised)
                rows, cols, tf = counter.counts(batch, flagged)
            else:
                rows, cols, tf = counter.counts(batch)
            if not len(rows):
                continue
            if block.steps[-1][1].sublinear_tf:
                np.log(tf, out=tf)
                tf += 1.0
            # Rows come sorted, so each row's entries are one run: summed by reduceat.
            new_row = np.empty(len(rows), dtype=bool)
            new_row[0] = True
            np.not_equal(rows[1:], rows[:-1], out=new_row[1:])
            starts = np.flatnonzero(new_row)
            sums = np.add.reduceat(tf * weights.take(cols), starts)
            if l2:
                values = tf * idf.take(cols) if idf is not None else tf
                values *= values
                sums /= np.sqrt(np.add.reduceat(values, starts))  # never 0: counts are >= 1
            total[rows[starts]] += sums
        return self.slope * (total + self.intercept) + self.platt_intercept


@dataclass
class ScoreDetail:
    """One text's score (NaN: could not be scored), per-category scores and explanation."""

    score: float
    categories: dict | None = None
    explanation: list[dict] | None = None
    # Probability that the post is aimed at school staff (None where not computed).
    staff_target: float | None = None

    @property
    def scorable(self) -> bool:
        return not math.isnan(self.score)


def score_csv(in_path: str | Path, out_path: str | Path, scorer: Scorer,
              batch_size: int = BATCH_SIZE,
              advance: Callable[[int], None] | None = None) -> int:
    """Copy a CSV with a `text` column, appending `score`, `label`, `staff_target`, `explanation`.

    Streams in batches, so memory does not grow with the file. Output goes to
    a temp file renamed into place at the end: a failure leaves no half file.
    Rows that cannot be scored get empty `score`, `label` and `explanation`.
    """
    in_path, out_path = Path(in_path), Path(out_path)
    if not in_path.is_file():
        raise FileNotFoundError(f"{in_path}: no such file")
    _allow_long_csv_fields()
    rows = 0
    added = ["score", "label", "staff_target", "explanation"]
    with in_path.open(newline="", encoding="utf-8-sig", errors="replace") as src:
        reader = csv.reader(src)
        header = next(reader, None) or []
        if "text" not in header:
            raise ValueError(f"{in_path}: no 'text' column (columns: {header})")
        clash = [c for c in added if c in header]
        if clash:
            raise ValueError(f"{in_path}: already has column(s) {clash}; rename them first")
        column = header.index("text")
        out_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.")
        try:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as dst:
                writer = SafeWriter(dst)
                writer.writerow(header + added)
                while batch := list(islice(reader, batch_size)):
                    details = scorer.details(
                        [r[column] if len(r) > column else None for r in batch], batch_size)
                    for row, d in zip(batch, details):
                        if not d.scorable:
                            writer.writerow(row + ["", "", "", ""])
                        else:
                            staff = "" if d.staff_target is None else f"{d.staff_target:.4f}"
                            writer.writerow(row + [f"{d.score:.6f}", int(d.score >= scorer.threshold),
                                                   staff, explanation_text(d.explanation)])
                    rows += len(batch)
                    if advance is not None:  # a progress bar's callback (rows scored)
                        advance(len(batch))
            os.replace(tmp, out_path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return rows
