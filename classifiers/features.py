"""Features: normalised text -> the columns the abuse model is linear in.

Two kinds of block, over the same normalised text and the same word tokens:

- word 1-2 and character 3-5 n-gram TF-IDF (hashed: no vocabulary to fit),
  learned from the real corpora and analysts' labels;
- `ApcPrior`: alt-profanity-check 1.9.1's shipped model (MIT; a TF-IDF
  vectorizer and five calibrated linear SVMs trained on Davidson plus a large
  set of Wikipedia comments), copied into our model at training time and
  computed from our own word tokens, so scoring does not run its vectorizer:
  one column, the log-odds of its probability. On the real corpora its
  ranking matches the package's own `predict_prob` (Spearman 0.97-1.00).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from classifiers.text import EncodedBatch, HashedNgrams, in_pieces, normalise_many

APC_CLIP = 1e-6  # probabilities are clipped before the log-odds: bounded column


def tfidf(counts) -> Pipeline:
    return Pipeline([("counts", counts), ("tfidf", TfidfTransformer(sublinear_tf=True))])


def text_features() -> FeatureUnion:
    """The n-gram blocks and the alt-profanity-check column (last), in that order."""
    # Character n-grams of 3-5 rather than 2-5: 30% cheaper to compute, same quality.
    return FeatureUnion([("words", tfidf(HashedNgrams("word", (1, 2)))),
                         ("chars", tfidf(HashedNgrams("char_wb", (3, 5)))),
                         ("apc", ApcPrior())])


def general_pipeline(estimator) -> Pipeline:
    """Raw text -> normalised -> features -> `estimator` (the abuse score of any post)."""
    return Pipeline([("normalise", FunctionTransformer(normalise_many)),
                     ("features", text_features()), ("classifier", estimator)])


def staff_features() -> FeatureUnion:
    """The staff head's n-gram blocks (it only ever sees posts that name school staff)."""
    return FeatureUnion([("words", tfidf(HashedNgrams("word", (1, 2)))),
                         ("chars", tfidf(HashedNgrams("char_wb", (3, 5))))])


def staff_prior(general: Pipeline, normalised: list[str]) -> np.ndarray:
    """The staff head's prior column: alt-profanity-check's log-odds (the general pipeline's
    last block) of normalised posts."""
    return general.named_steps["features"].transformer_list[-1][1].transform(
        normalised).toarray().ravel()


class ApcPrior(TransformerMixin, BaseEstimator):
    """alt-profanity-check's probability, as log-odds, from our word tokens (one column).

    `fit` copies the package's vocabulary (as our token hashes), idf, SVM
    weights and calibration into arrays of this object, so a saved model
    holds them and loading it needs neither the package nor its pickles.
    """

    def fit(self, X=None, y=None):
        import joblib  # scikit-learn's own dependency; the package's files are joblib pickles
        from importlib import resources

        base = resources.files("profanity_check") / "data"
        vectorizer = joblib.load(base / "vectorizer.joblib")
        model = joblib.load(base / "model.joblib")
        words = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
        hashes, _ = EncodedBatch(words).tokens()
        if len(hashes) != len(words):
            raise ValueError("alt-profanity-check's vocabulary does not tokenise one word each")
        order = np.argsort(hashes)
        calibrated = model.calibrated_classifiers_
        coef = np.array([c.estimator.coef_.ravel() for c in calibrated])[:, order]
        self.keys_ = hashes[order]
        self.idf_ = np.asarray(vectorizer.idf_, dtype=np.float64)[order]
        self.weights_ = np.ascontiguousarray((coef * self.idf_).T)  # vocabulary x classifiers
        self.intercepts_ = np.array([c.estimator.intercept_[0] for c in calibrated])
        self.slopes_ = np.array([c.calibrators[0].a_ for c in calibrated], dtype=np.float64)
        self.offsets_ = np.array([c.calibrators[0].b_ for c in calibrated], dtype=np.float64)
        return self

    def transform(self, X) -> sp.csr_matrix:
        texts = list(X)
        return in_pieces(texts, lambda piece: sp.csr_matrix(
            self.log_odds(EncodedBatch(piece)).reshape(-1, 1)))

    def log_odds(self, batch: EncodedBatch) -> np.ndarray:
        """One value per text of the batch (sublinear tf off, l2 norm: as the package's TF-IDF)."""
        hashes, doc = batch.tokens()
        keys = self.keys_
        at = np.searchsorted(keys, hashes)
        at[at >= len(keys)] = 0
        hit = keys[at] == hashes
        counts = sp.csr_matrix((np.ones(int(hit.sum())), (doc[hit].astype(np.int64), at[hit])),
                               shape=(batch.size, len(keys)))
        counts.sum_duplicates()
        norm = np.sqrt(counts.power(2) @ (self.idf_ ** 2))
        decision = np.asarray(counts @ self.weights_)
        decision /= np.where(norm > 0, norm, 1.0)[:, None]
        decision += self.intercepts_
        p = expit(-(self.slopes_ * decision + self.offsets_)).mean(axis=1)
        p = np.clip(p, APC_CLIP, 1 - APC_CLIP)
        return np.log(p) - np.log1p(-p)
