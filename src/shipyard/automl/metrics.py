"""Azure ML's metrics, computed with scikit-learn.

Regression and forecasting errors are normalised by the range of the target (max - min of the
true values), as Azure does, so they compare across data sets. ``norm_macro_recall`` is macro
recall rescaled so that chance (1/number of classes) is 0 and perfect is 1, floored at 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["classification_metrics", "mean_of", "regression_metrics", "task_metrics"]


def classification_metrics(
    y_true: Any, y_pred: Any, proba: Any | None, classes: Sequence[Any]
) -> dict[str, float]:
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )
    from sklearn.preprocessing import label_binarize

    y_true = np.asarray(y_true)
    out = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision_score_weighted": float(
            precision_score(y_true, y_pred, average="weighted", zero_division=0)
        ),
    }
    chance = 1.0 / len(classes)
    recall = float(recall_score(y_true, y_pred, average="macro", zero_division=0))
    out["norm_macro_recall"] = max(0.0, (recall - chance) / (1.0 - chance))
    present = len(np.unique(y_true))
    if proba is not None and present > 1:
        proba = np.asarray(proba, dtype=float)
        onehot = label_binarize(y_true, classes=list(classes))
        if len(classes) == 2:
            onehot = np.column_stack([1 - onehot[:, 0], onehot[:, 0]])
            out["AUC_weighted"] = float(roc_auc_score(onehot[:, 1], proba[:, 1]))
        else:
            keep = onehot.sum(axis=0) > 0  # a class absent from this fold has no AUC
            out["AUC_weighted"] = float(roc_auc_score(onehot[:, keep], proba[:, keep], average="weighted"))
        out["average_precision_score_weighted"] = float(
            average_precision_score(onehot, proba, average="weighted")
        )
    return out


def regression_metrics(y_true: Any, y_pred: Any, y_range: float | None = None) -> dict[str, float]:
    from scipy.stats import spearmanr
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    span = y_range if y_range is not None else float(np.ptp(y_true))
    span = span if span > 0 else 1.0
    rmse = float(np.sqrt(mean_squared_error(y_true, y_pred)))
    mae = float(mean_absolute_error(y_true, y_pred))
    # A constant prediction (a tree with too large leaves) has no rank correlation: NaN, not a warning.
    varies = len(y_true) > 1 and np.ptp(y_true) > 0 and np.ptp(y_pred) > 0
    rho = spearmanr(y_true, y_pred).statistic if varies else float("nan")
    return {
        "spearman_correlation": float(rho),
        "normalized_root_mean_squared_error": rmse / span,
        "r2_score": float(r2_score(y_true, y_pred)) if len(y_true) > 1 else float("nan"),
        "normalized_mean_absolute_error": mae / span,
        "root_mean_squared_error": rmse,
        "mean_absolute_error": mae,
    }


def task_metrics(
    task: str,
    y_true: Any,
    y_pred: Any,
    proba: Any | None = None,
    classes: Sequence[Any] = (),
    y_range: float | None = None,
) -> dict[str, float]:
    if task == "classification":
        return classification_metrics(y_true, y_pred, proba, classes)
    return regression_metrics(y_true, y_pred, y_range)


def mean_of(values: Sequence[float]) -> float:
    """The mean of the values that are numbers; NaN when none is (a metric no fold defined)."""
    numbers = [v for v in values if not np.isnan(v)]
    return float(np.mean(numbers)) if numbers else float("nan")
