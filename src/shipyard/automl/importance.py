"""Permutation importance of the user's columns, on rows the model was not fitted on.

The pipeline takes the raw columns, so shuffling one column measures what that column — with
everything featurisation made of it — is worth: the drop of the primary metric, averaged over
:data:`REPEATS` shuffles (positive: the model relies on it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the dev extra

from shipyard.automl.metrics import mean_of, task_metrics
from shipyard.domain.automl import PRIMARY_METRICS

__all__ = ["MAX_ROWS", "REPEATS", "permutation_importance"]

REPEATS = 3
MAX_ROWS = 5_000
"""Past this many held-out rows, a random sample of them is used: the ranking of the columns
settles long before, and each column costs ``REPEATS`` predictions."""


def permutation_importance(
    model: Any,
    X: pd.DataFrame,
    y: np.ndarray[Any, Any],
    *,
    task: str,
    metric: str,
    classes: Sequence[Any] = (),
    y_range: float | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Column → mean drop of ``metric`` when the column is shuffled, largest first."""
    sign = 1.0 if PRIMARY_METRICS[task][metric].greater_is_better else -1.0

    def score(frame: pd.DataFrame) -> float:
        if task == "classification":
            proba = np.asarray(model.predict_proba(frame), dtype=float)
            pred = np.asarray(model.classes_)[proba.argmax(axis=1)]
            return sign * task_metrics(task, y, pred, proba, list(model.classes_)).get(metric, np.nan)
        pred = np.asarray(model.predict(frame), dtype=float)
        return sign * task_metrics(task, y, pred, y_range=y_range)[metric]

    rng = np.random.default_rng(seed)
    if len(X) > MAX_ROWS:
        keep = np.sort(rng.choice(len(X), MAX_ROWS, replace=False))
        X, y = X.iloc[keep], np.asarray(y)[keep]
    base = score(X)
    out: dict[str, float] = {}
    for column in X.columns:
        drops = []
        for _ in range(REPEATS):
            shuffled = X.copy()
            shuffled[column] = rng.permutation(shuffled[column].to_numpy())
            drops.append(base - score(shuffled))
        out[str(column)] = mean_of(drops)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))
