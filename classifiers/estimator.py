"""The estimator: a linear model over text features, stacked with prior columns and calibrated.

The abuse score is `expit(X @ coef_ + intercept_)`: one linear function of
the feature row, so scoring and explanations can read it off directly. It is
fitted in two stages, so that the prior (alt-profanity-check's log-odds, or
for the staff head the general model's margin) is weighed by how well each
part does on posts its text model did NOT see:

1. a logistic regression over the text columns, once per fold on the rows
   outside the fold (out-of-fold margins), and once on all rows;
2. a small logistic regression over (out-of-fold margin, prior columns):
   the stacking weights and the calibration in one (Platt scaling).

The caller chooses the folds: whole corpora for the abuse score (so the
weight of our text model is what it earns on a corpus it never saw), whole
templates for the staff head.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

RANDOM_STATE = 20211
N_FOLDS = 5  # random folds when the caller gives none


class StackedLinearClassifier(ClassifierMixin, BaseEstimator):
    """`estimator` on all but the last `priors` columns, stacked with those columns and calibrated."""

    def __init__(self, estimator=None, priors: int = 1):
        self.estimator = estimator
        self.priors = priors

    def fit(self, X, y, sample_weight=None, folds=None, stack_weight=None):
        """`folds`: each row's fold (default: 5 stratified random folds); `stack_weight`: the
        rows' weights in the stacking and calibration stage (default `sample_weight`)."""
        if self.estimator is None:
            raise ValueError("StackedLinearClassifier needs an estimator")
        X = sp.csr_matrix(X)
        y = np.asarray(y)
        weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        stack_weight = weight if stack_weight is None else np.asarray(stack_weight, float)
        folds = _random_folds(y) if folds is None or len(np.unique(folds)) < 2 else np.asarray(folds)
        text, prior = self._split(X)
        margin = np.zeros(len(y))
        for fold in np.unique(folds):
            test = folds == fold
            train = ~test & (weight > 0)
            if len(np.unique(y[train])) < 2:  # a fold holding all of one label: no margin
                continue
            model = clone(self.estimator).fit(text[train], y[train], sample_weight=weight[train])
            margin[test] = model.decision_function(text[test])
        stack = LogisticRegression(C=100.0).fit(np.column_stack([margin, prior]), y,
                                                sample_weight=stack_weight)
        if stack.coef_[0, 0] < 0 and self.priors:
            # Our text model ranks unseen rows backwards (seen with two or three corpora
            # only): it gets no say rather than a negative one.
            margin = np.zeros(len(y))
            stack = LogisticRegression(C=100.0).fit(np.column_stack([margin, prior]), y,
                                                    sample_weight=stack_weight)
        self.stack_coef_ = stack.coef_.ravel().astype(float)
        self.estimator_ = clone(self.estimator).fit(text, y, sample_weight=weight)
        # Each row's calibrated probability from a text model that did not see its fold:
        # training chooses the threshold on these, then drops them (not saved).
        self.out_of_fold_ = stack.predict_proba(np.column_stack([margin, prior]))[:, 1]
        alpha = self.stack_coef_[0]
        self.coef_ = np.concatenate([alpha * self.estimator_.coef_.ravel(), self.stack_coef_[1:]])
        self.intercept_ = float(alpha * self.estimator_.intercept_[0] + stack.intercept_[0])
        self.classes_ = self.estimator_.classes_
        return self

    @classmethod
    def prior_only(cls, n_columns: int, weights=(1.0,), intercept: float = 0.0
                   ) -> "StackedLinearClassifier":
        """A model that is its prior columns alone (no text to learn from): weights fixed."""
        model = cls(LogisticRegression(), priors=len(weights))
        model.coef_ = np.concatenate([np.zeros(n_columns - len(weights)), np.asarray(weights, float)])
        model.intercept_ = float(intercept)
        model.stack_coef_ = np.concatenate([[0.0], np.asarray(weights, float)])
        model.classes_ = np.array([0, 1])
        return model

    def _split(self, X):
        if not self.priors:
            return X, np.zeros((X.shape[0], 0))
        return X[:, :-self.priors], X[:, -self.priors:].toarray()

    def decision_function(self, X) -> np.ndarray:
        return np.asarray(sp.csr_matrix(X) @ self.coef_).ravel() + self.intercept_

    def predict_proba(self, X) -> np.ndarray:
        positive = expit(self.decision_function(X))
        return np.column_stack([1 - positive, positive])

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


def text_model(C: float) -> LogisticRegression:
    # The dual liblinear solver: 5x faster than the primal one on these wide sparse rows.
    return LogisticRegression(C=C, solver="liblinear", dual=True, max_iter=1000,
                              random_state=RANDOM_STATE)


def _random_folds(y: np.ndarray) -> np.ndarray:
    folds = np.zeros(len(y), dtype=np.int64)
    splits = min(N_FOLDS, max(2, int(np.bincount(y, minlength=2).min())))
    splitter = StratifiedKFold(splits, shuffle=True, random_state=RANDOM_STATE)
    for fold, (_, test) in enumerate(splitter.split(np.zeros(len(y)), y)):
        folds[test] = fold
    return folds
