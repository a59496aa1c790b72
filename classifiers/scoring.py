"""Scoring: a loaded model turns texts into a score, staff_target, categories and a reason.

score = P(abusive, to anyone). For a post that names school staff it is the
staff head's, a model stacked on alt-profanity-check's log-odds that knows
the abuse that only reads as abuse when aimed at a teacher (allegations,
doxxing, "slap sir"); for any other post it is the general model's alone. staff_target =
P(aimed at school staff). One threshold flags both (see classifiers.training).
"""
from __future__ import annotations

import csv
import logging
import math
import os
import re
import tempfile
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfTransformer
from sklearn.pipeline import FeatureUnion, Pipeline

from classifiers.data import CATEGORIES, allow_long_csv_fields
from classifiers.estimator import StackedLinearClassifier
from classifiers.explain import explanation_text
from classifiers.features import ApcPrior
from classifiers.signals import (aimed_at_staff_many, mask_staff_names_many, staff_signals,
                                 staff_terms)
from classifiers.text import EMAIL, EMOJI, URL, USER, EncodedBatch, HashedNgrams
from common.csvout import SafeWriter

log = logging.getLogger(__name__)

MAX_CHARS = 10_000  # longer texts are scored on their start: bounded time per batch
BATCH_SIZE = 5000
SHORTCUT_ROWS = 4096  # see LinearShortcut.__call__
EXPLAIN_TOP = 3  # terms shown per flagged post
EXPLAIN_WORDS = 40  # distinct words tried per post: bounds the cost of a long post
EXPLAIN_MIN_DROP = 0.1  # log-odds: a word that moves the score less explains nothing
_WORD_RE = re.compile(r"\w+")
# Words too common to explain anything on their own (their weight is the model's
# reading of the sentence around them, which the content words show better): English
# function words (scikit-learn's stop list, less the few content words in it), light
# verbs and chat forms, the honorifics (a post that names staff lists them as the staff
# signal instead) and normalisation's placeholders (xxemoji: an emoji was there). Single
# characters ("s" of "Miss Ray's") are never named either.
FUNCTION_WORDS = frozenset(ENGLISH_STOP_WORDS - {
    "fire", "thick", "thin", "cry", "kill", "bill", "serious", "sincere", "empty"}) | frozenset(
    "im ive id youre dont doesnt didnt cant wont isnt thats whats theres rt u ur ya "
    "got gets getting make makes making know knows gonna wanna going let lets say says said "
    "like ain lol mr mrs ms miss sir".split()) | {USER, URL, EMAIL, EMOJI}


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


class LinearShortcut:
    """The general model's log-odds from normalised text, without its feature matrix.

    The model is linear over blocks of TF-IDF features (and one column of
    alt-profanity-check log-odds), so a post's log-odds is a sum over blocks
    of sum_j tf_j * idf_j * w_j / ||tf * idf||, j over the block's n-grams in
    the post: all of it computable from the n-gram counts alone, with idf
    folded into the weights once, at load. That skips building each block's
    sparse matrix and multiplying it out, and encodes the batch once for all
    blocks. The numbers are the pipeline's own (a test holds them within 1e-9);
    a block it does not know is scored through its own transform.
    """

    def __init__(self, blocks: list, intercept: float):
        self.blocks = blocks  # (transformer, counter or None, idf or None, weights, l2 norm?)
        self.intercept = intercept

    @classmethod
    def of(cls, pipeline: Pipeline) -> "LinearShortcut | None":
        """The shortcut for a trained general pipeline, or None if it has another shape."""
        if list(pipeline.named_steps) != ["normalise", "features", "classifier"]:
            return None
        features, classifier = pipeline.named_steps["features"], pipeline.named_steps["classifier"]
        if (not isinstance(features, FeatureUnion) or features.transformer_weights is not None
                or not isinstance(classifier, StackedLinearClassifier)
                or not hasattr(classifier, "coef_")):
            return None
        coef = classifier.coef_
        blocks, start = [], 0
        for _, block in features.transformer_list:
            if not isinstance(block, BaseEstimator):  # "drop" or "passthrough"
                return None
            counter, tfidf = (block.steps[0][1], block.steps[-1][1]) if (
                isinstance(block, Pipeline) and len(block.steps) == 2) else (None, None)
            if (isinstance(counter, HashedNgrams)
                    and isinstance(tfidf, TfidfTransformer) and tfidf.norm in ("l2", None)):
                width = 1 << counter.n_bits
                idf = getattr(tfidf, "idf_", None)
                if idf is not None and len(idf) != width:
                    return None
                weights = coef[start:start + width]
                if idf is not None:
                    weights = weights * idf
                blocks.append((block, counter, idf, weights, tfidf.norm == "l2"))
            elif isinstance(block, ApcPrior):
                width = 1
                blocks.append((block, block, None, coef[start:start + 1], False))
            else:
                width = block.transform(["x"]).shape[1]
                blocks.append((block, None, None, coef[start:start + width], False))
            start += width
        if start != len(coef):
            return None
        return cls(blocks, classifier.intercept_)

    def __call__(self, normalised: list[str]) -> np.ndarray:
        """`pipeline[-1].decision_function(pipeline[1:-1].transform(normalised))`."""
        # In even pieces of at most SHORTCUT_ROWS posts: their n-gram keys (post
        # << column bits | column) then fit in 32 bits, which sort twice as fast.
        size = -(-len(normalised) // -(-len(normalised) // SHORTCUT_ROWS)) if normalised else 1
        return np.concatenate([self._margins(normalised[start:start + size])
                               for start in range(0, len(normalised), size)] or [np.zeros(0)])

    def _margins(self, normalised: list[str]) -> np.ndarray:
        batch = EncodedBatch(normalised)
        total = np.full(len(normalised), self.intercept)
        for block, counter, idf, weights, l2 in self.blocks:
            if counter is None:
                total += np.asarray(block.transform(normalised) @ weights).ravel()
                continue
            if isinstance(counter, ApcPrior):
                total += counter.log_odds(batch) * weights[0]
                continue
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
        return total


class Scorer:
    """A loaded model: scores texts in batches, NaN for a text it cannot score."""

    def __init__(self, general: Pipeline, version: str, threshold: float, meta: dict, *,
                 staff=None, staff_target=None, category_model: Pipeline | None = None):
        self.pipeline = general
        self.version = version
        self.threshold = threshold
        self.meta = meta
        self.staff = staff  # training.StaffHead or None
        self.staff_target = staff_target
        self.category_model = category_model
        # None when the pipeline is not one the shortcut knows: then it scores.
        self._margins = LinearShortcut.of(general)

    @classmethod
    def of(cls, trained) -> "Scorer":
        """A Scorer for a training.TrainedModel that was not saved (training measures with it)."""
        return cls(trained.general, "unsaved", trained.threshold, {}, staff=trained.staff,
                   staff_target=trained.staff_target, category_model=trained.category_model)

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
                explain: bool = True) -> list[ScoreDetail]:
        """Score, staff_target, per-category scores and (for flagged texts) an explanation.

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

    def general_margins(self, normalised: list[str]) -> np.ndarray:
        if self._margins is not None:
            return self._margins(normalised)
        return self.pipeline[-1].decision_function(self.pipeline[1:-1].transform(normalised))

    def staff_margins(self, normalised: list[str]) -> np.ndarray:
        """The staff head's log-odds for posts that name staff (these only: the head is theirs)."""
        return self.staff.margins(self.pipeline, normalised)

    def _scores(self, texts: list[str]) -> tuple[np.ndarray, list[int], list[str], np.ndarray]:
        """Each text's probability, which texts have content, normalised, which name staff.

        Nothing left after normalisation (only zero-width or control
        characters): there is no text to judge, so NaN rather than the model's prior.
        """
        normalised = self.pipeline.named_steps["normalise"].transform(texts)
        content = [i for i, t in enumerate(normalised) if t]
        scores = np.full(len(texts), math.nan)
        if len(content) < len(normalised):
            normalised = [normalised[i] for i in content]
        aimed = aimed_at_staff_many(normalised) if normalised else np.zeros(0, bool)
        if content:
            margins = self.general_margins(normalised)
            staff = np.flatnonzero(aimed)
            if self.staff is not None and len(staff):
                margins[staff] = self.staff_margins([normalised[i] for i in staff])
            scores[content] = expit(margins)
        return scores, content, normalised, aimed

    def _details(self, texts: list[str], explain: bool) -> list[ScoreDetail]:
        all_scores, content, normalised, aimed = self._scores(texts)
        details = [ScoreDetail(float(score)) for score in all_scores]
        if not content:
            return details
        scores = all_scores[content]
        target = (self.staff_target.predict_proba(staff_signals(normalised))[:, 1]
                  if self.staff_target is not None else aimed.astype(float))
        if not explain:
            for n, i in enumerate(content):
                details[i].staff_target = round(float(target[n]), 4)
            return details
        shares = (self.category_model.predict_proba(normalised)
                  if self.category_model is not None else None)
        names = list(self.category_model.classes_) if self.category_model is not None else []
        flagged = np.flatnonzero(scores >= self.threshold)
        reasons = {}
        if len(flagged):
            # Only the flagged posts are explained: only their feature rows are needed.
            reasons = dict(zip(flagged, self._explain([normalised[i] for i in flagged],
                                                      aimed[flagged])))
        for n, (i, text, score) in enumerate(zip(content, normalised, scores)):
            staff = staff_terms(text) if aimed[n] else []
            # P(category) = P(abusive) x P(category | abusive): they add up to the score.
            categories = {c: round(float(score * shares[n][names.index(c)]), 4)
                          if c in names else 0.0 for c in CATEGORIES}
            explanation = reasons.get(n, [])
            explanation += [{"term": t, "signal": "aimed at school staff"} for t in staff]
            details[i] = ScoreDetail(float(score), categories, explanation,
                                     staff_target=round(float(target[n]), 4))
        return details

    def _explain(self, texts: list[str], aimed: np.ndarray) -> list[list[dict]]:
        """For each text, the words that pushed its general score up most (linear shortcut).

        The general model is linear in its features, so its log-odds are a sum
        over the post's features of weight x value. Every n-gram feature belongs
        to one word (word unigrams; character n-grams inside the word); the
        alt-profanity-check column is shared out over its vocabulary words by
        their part of its margin. For a post that names staff, scored by the
        staff head (coef . staff n-grams + b x that column), a word counts its
        part of that. A word's contribution is read
        off the post's feature rows: no re-scoring. Function words are never named.
        """
        features = self.pipeline[1:-1].transform(texts)
        reasons: list[list[dict]] = [[] for _ in texts]
        owner, words = [], []
        for n, text in enumerate(texts):
            candidates = [w for w in dict.fromkeys(_WORD_RE.findall(text))
                          if len(w) > 1 and w not in FUNCTION_WORDS]
            owner += [n] * min(len(candidates), EXPLAIN_WORDS)
            words += candidates[:EXPLAIN_WORDS]
        if not words:
            return reasons
        distinct = list(dict.fromkeys(words))
        index = {w: i for i, w in enumerate(distinct)}
        columns, apc_share = word_columns(self.pipeline.named_steps["features"], distinct, texts)
        owner_arr = np.asarray(owner)
        coef = self.pipeline[-1].coef_
        # contribution[k] = sum_j [word k has feature j] * value of j in its post * weight j
        rows = [index[w] for w in words]
        weighted = features[owner_arr].multiply(columns[rows])
        contributions = np.asarray(weighted @ coef).ravel()
        apc_part = apc_share(owner_arr, np.asarray(rows)) if apc_share is not None else 0.0
        contributions += apc_part * coef[-1]
        if self.staff is not None and aimed.any():
            contributions = np.where(aimed[owner_arr], self._staff_contributions(
                texts, owner_arr, distinct, rows), contributions)
        for n, word, c in sorted(zip(owner, words, contributions), key=lambda x: -x[2]):
            if c >= EXPLAIN_MIN_DROP and len(reasons[n]) < EXPLAIN_TOP:
                reasons[n].append({"term": word, "weight": round(float(c), 2)})
        return reasons

    def _staff_contributions(self, texts, owner, distinct, rows) -> np.ndarray:
        """Each (post, word)'s part of the staff head's margin: its own n-grams and b x its part
        of alt-profanity-check's log-odds, both read, as the head reads them, from the post
        with staff names masked (a name, "Mrs Butt" too, is never a reason)."""
        masked = mask_staff_names_many(texts)
        own, _ = word_columns(self.staff.features, distinct, masked)
        _, apc_share = word_columns(self.pipeline.named_steps["features"], distinct, masked)
        features = self.staff.features.transform(masked)
        coef = self.staff.classifier.coef_
        weighted = features[owner].multiply(own[rows])
        return (np.asarray(weighted @ coef[:-1]).ravel()
                + coef[-1] * apc_share(owner, np.asarray(rows)))


def word_columns(union: FeatureUnion, words: list[str], texts: list[str]):
    """Which feature columns of `union` each word owns (0/1 sparse, one row per word), and
    for an alt-profanity-check block a function giving each (post, word) pair its share."""
    blocks, apc_share = [], None
    for _, block in union.transformer_list:
        if isinstance(block, ApcPrior):
            blocks.append(sp.csr_matrix((len(words), 1)))
            apc_share = _apc_shares(block, words, texts)
            continue
        counts = block.named_steps["counts"] if isinstance(block, Pipeline) else block
        if counts.analyzer == "word":
            blocks.append(HashedNgrams("word", (1, 1), counts.n_bits).transform(words))
        else:
            blocks.append(counts.transform(words))
    matrix = sp.hstack(blocks, format="csr")
    matrix.data[:] = 1.0
    return matrix, apc_share


def _apc_shares(apc: ApcPrior, words: list[str], texts: list[str]):
    """Each word's part of alt-profanity-check's log-odds in a post, to first order: its
    TF-IDF value there times its mean calibrated SVM weight (the slopes are negative)."""
    hashes, _ = EncodedBatch(words).tokens() if words else (np.zeros(0, np.uint64), None)
    word_hash = np.zeros(len(words), np.uint64)
    # a word of the explanation is one token (it came from \w+): its hash is its token's
    word_hash[:len(hashes)] = hashes[:len(words)]
    at = np.clip(np.searchsorted(apc.keys_, word_hash), 0, len(apc.keys_) - 1)
    known = apc.keys_[at] == word_hash
    per_word = np.where(known, (apc.weights_[at] * -apc.slopes_).mean(axis=1), 0.0)
    idf = np.where(known, apc.idf_[at], 0.0)
    batch = EncodedBatch(texts)
    token_hash, token_doc = batch.tokens()
    pos = np.clip(np.searchsorted(apc.keys_, token_hash), 0, len(apc.keys_) - 1)
    hit = apc.keys_[pos] == token_hash
    counts = sp.csr_matrix((np.ones(int(hit.sum())), (token_doc[hit].astype(np.int64), pos[hit])),
                           shape=(len(texts), len(apc.keys_)))
    counts.sum_duplicates()
    norm = np.sqrt(counts.power(2) @ (apc.idf_ ** 2))
    norm[norm == 0] = 1.0

    def share(owner: np.ndarray, rows: np.ndarray) -> np.ndarray:
        tf = np.asarray(counts[owner, at[rows]]).ravel() * known[rows]
        return tf * per_word[rows] / norm[owner] * (idf[rows] > 0)
    return share


SCORE_COLUMNS = ("score", "label", "staff_target", "explanation")


def score_csv_header(in_path: str | Path, reader=None) -> list[str]:
    """The header of a CSV `score_csv` can score, else FileNotFoundError / ValueError saying
    why (cheap: a command checks its input with it before loading a model)."""
    in_path = Path(in_path)
    if not in_path.is_file():
        raise FileNotFoundError(f"{in_path}: no such file")
    allow_long_csv_fields()
    if reader is None:
        with in_path.open(newline="", encoding="utf-8-sig", errors="replace") as src:
            return score_csv_header(in_path, csv.reader(src))
    header = next(reader, None) or []
    if "text" not in header:
        raise ValueError(f"{in_path}: no 'text' column (columns: {header})")
    clash = [c for c in SCORE_COLUMNS if c in header]
    if clash:
        raise ValueError(f"{in_path}: already has column(s) {clash}; rename them first")
    return header


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
    rows = 0
    added = list(SCORE_COLUMNS)
    with in_path.open(newline="", encoding="utf-8-sig", errors="replace") as src:
        reader = csv.reader(src)
        header = score_csv_header(in_path, reader)
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
