"""The passage classifier: TF-IDF word n-grams per field + calibrated linear models.

A passage is a triple ``(text, psc, naics)``: for an award record the service
description and its product/service code and NAICS descriptions; for a PDF
passage the sentence and two empty strings. ``build_pipeline()`` returns a
standard scikit-learn ``Pipeline``:

    ColumnTransformer(word 1-2 grams of each field, char 3-5 grams of the
                      text, each block L2-normalised on its own, and per-label
                      counts of the services LABELING.md names: models.concepts)
        ->  MultiLabelLinear

Each field has its own vocabulary and its own normalisation, so a record's
linear score is the sum of one part per field: PSC and NAICS parts can be
cached (few distinct values), and each part is the exact contribution of that
passage to the score.

``MultiLabelLinear`` fits one logistic regression per label and a Platt
calibration per label on out-of-fold decision values, so ``predict_proba``
returns probabilities. Because the calibration is a monotone map of a linear
score, each feature's share of the score (value x weight) is an exact,
deterministic attribution: that is what ``models.evidence`` shows.
"""
from __future__ import annotations

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted, validate_data

from .concepts import ConceptCounts

LABELS = ("data_broker", "extreme_vetting", "detention")
WORD_PATTERN = r"(?u)\b[A-Za-z][A-Za-z]+\b"


class MultiLabelLinear(ClassifierMixin, BaseEstimator):
    """One calibrated logistic regression per label (multi-label, independent).

    Parameters
    ----------
    C : inverse regularisation strength of each logistic regression.
    cv : folds used to get out-of-fold scores for the Platt calibration.
    class_weight : passed to each LogisticRegression.
    random_state : seed for the fold split.
    n_jobs : labels fitted in parallel (joblib); results do not depend on it.
    """

    def __init__(self, C=32.0, cv=5, class_weight="balanced", random_state=0, n_jobs=None):
        self.C = C
        self.cv = cv
        self.class_weight = class_weight
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _base(self):
        return LogisticRegression(C=self.C, class_weight=self.class_weight,
                                  solver="liblinear", max_iter=1000)

    def fit(self, X, Y):
        X, Y = validate_data(self, X, Y, accept_sparse="csr", multi_output=True,
                             dtype=np.float64)
        Y = np.asarray(Y, dtype=int)
        if Y.ndim == 1:
            Y = Y[:, None]
        X = X.tocsr()
        X.sort_indices()  # workers get a read-only memory map: no sorting there
        fitted = Parallel(n_jobs=self.n_jobs)(
            delayed(self._fit_label)(X, Y[:, j]) for j in range(Y.shape[1]))
        self.coef_ = np.vstack([coef for coef, _, _ in fitted])
        self.intercept_ = np.array([b for _, b, _ in fitted])
        self.calibration_ = np.array([cal for _, _, cal in fitted])  # slope, offset
        self.classes_ = [np.array([0, 1])] * Y.shape[1]
        return self

    def _fit_label(self, X, y):
        """One label: out-of-fold scores -> Platt calibration; then the full fit."""
        folds = StratifiedKFold(min(self.cv, int(y.sum()), int((1 - y).sum())),
                                shuffle=True, random_state=self.random_state)
        oof = cross_val_predict(self._base(), X, y, cv=folds, method="decision_function")
        platt = LogisticRegression(C=1e4, solver="lbfgs").fit(oof[:, None], y)
        model = self._base().fit(X, y)
        return model.coef_[0], model.intercept_[0], (platt.coef_[0, 0], platt.intercept_[0])

    def decision_function(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False, dtype=np.float64)
        return np.asarray(X @ self.coef_.T) + self.intercept_

    def predict_proba(self, X):
        """Calibrated probability of each label, shape (n_samples, n_labels)."""
        z = self.decision_function(X)
        a, b = self.calibration_[:, 0], self.calibration_[:, 1]
        return 1.0 / (1.0 + np.exp(-(a * z + b)))

    def predict(self, X):
        thresholds = getattr(self, "thresholds_", None)
        if thresholds is None:
            thresholds = np.full(self.coef_.shape[0], 0.5)
        return (self.predict_proba(X) >= thresholds).astype(int)


FIELDS = ("text", "psc", "naics")
# (transformer name, field index, analyzer): the text gets word and character
# n-grams (robust to spelling variants such as FINGER PRINT / FINGERPRINTS and to
# OCR noise); the PSC and NAICS descriptions are a controlled vocabulary.
FEATURES = (("text_word", 0, "word"), ("text_char", 0, "char_wb"),
            ("text_concepts", 0, "concepts"), ("psc", 1, "word"), ("naics", 2, "word"))


def _vectorizer(analyzer: str):
    if analyzer == "concepts":
        return ConceptCounts()
    if analyzer == "char_wb":
        return TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=3,
                               sublinear_tf=True, lowercase=True, dtype=np.float64)
    return TfidfVectorizer(token_pattern=WORD_PATTERN, ngram_range=(1, 2), min_df=2,
                           sublinear_tf=True, lowercase=True, dtype=np.float64)


def build_pipeline(C: float = 32.0, random_state: int = 0) -> Pipeline:
    """The untrained model. ``fit``/``predict_proba`` take an (n, 3) array of
    ``(text, psc, naics)`` strings (see ``as_matrix``)."""
    features = ColumnTransformer(
        [(name, _vectorizer(analyzer), column) for name, column, analyzer in FEATURES],
        sparse_threshold=1.0)
    return Pipeline([("features", features),
                     ("clf", MultiLabelLinear(C=C, random_state=random_state, n_jobs=-1))])


def as_matrix(triples) -> np.ndarray:
    """``[(text, psc, naics), ...]`` -> the object array the pipeline reads."""
    rows = list(triples)
    out = np.empty((len(rows), 3), dtype=object)
    for i, row in enumerate(rows):
        out[i] = row
    return out
