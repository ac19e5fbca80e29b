"""The scikit-learn pieces of an AutoML model that scikit-learn lacks.

They live apart, importing only numpy, pandas and scikit-learn, because a logged model is
unpickled by reference to them: a deployment's worker finds them on Shipyard's path, in an
environment built from the model's own requirements.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the dev extra
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.preprocessing import LabelEncoder

__all__ = [
    "DATETIME_PARTS",
    "DatetimeParts",
    "LabelDecodingClassifier",
    "cells_as_text",
    "column_as_text",
]

DATETIME_PARTS = ("year", "month", "day", "day_of_week", "day_of_year", "hour")


class DatetimeParts(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Each datetime column (or text that parses as one) → its calendar parts; an unparsable
    or missing value → NaN parts, which the imputer after this step fills."""

    def fit(self, X: Any, y: Any = None) -> DatetimeParts:
        self.columns_ = list(pd.DataFrame(X).columns)
        return self

    def transform(self, X: Any) -> np.ndarray[Any, Any]:
        frame = pd.DataFrame(X)
        out: list[Any] = []
        for column in frame.columns:
            stamps = pd.to_datetime(frame[column], errors="coerce", format="mixed")
            out.extend(getattr(stamps.dt, part).astype("float64") for part in DATETIME_PARTS)
        return np.column_stack(out) if out else np.empty((len(frame), 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray[Any, Any]:
        names = input_features if input_features is not None else self.columns_
        return np.array([f"{c}_{part}" for c in names for part in DATETIME_PARTS], dtype=object)


class LabelDecodingClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A classifier that needs labels 0..n-1 (XGBoost) made to take and give the user's."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, X: Any, y: Any) -> LabelDecodingClassifier:
        self.encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.encoder_.classes_
        self.estimator_ = clone(self.estimator).fit(X, self.encoder_.transform(y))
        return self

    def predict(self, X: Any) -> Any:
        return self.encoder_.inverse_transform(np.asarray(self.estimator_.predict(X)).astype(int))

    def predict_proba(self, X: Any) -> Any:
        return self.estimator_.predict_proba(X)


def cells_as_text(frame: Any) -> Any:
    """Categories compared as text, so ``1`` and ``"1"`` are one category and NaN stays NaN."""
    out = pd.DataFrame(frame).astype(object)
    return out.where(out.isna(), out.astype(str))


def column_as_text(frame: Any) -> Any:
    """The one column a TF-IDF step reads, as strings (missing → empty)."""
    return pd.DataFrame(frame).iloc[:, 0].fillna("").astype(str)
