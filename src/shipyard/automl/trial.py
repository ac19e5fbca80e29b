"""One candidate, validated: the data checked against the task, featurised, cross-validated.

:func:`prepare` refuses, before any fitting, a target that does not exist or does not fit the
task (a continuous or near-unique target for classification, text for regression).
:func:`evaluate` fits the candidate's pipeline on each split and keeps its out-of-fold
predictions, which the ensemble step (``ensemble.py``) reuses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the dev extra

from shipyard.automl.candidates import build_estimator
from shipyard.automl.cv import Split, splits
from shipyard.automl.featurize import ColumnPlan, build_preprocessor, plan_columns
from shipyard.automl.metrics import mean_of, task_metrics
from shipyard.domain.automl import AutoMLSettings, Trial
from shipyard.errors import InvalidArgument

__all__ = ["Evaluation", "Prepared", "evaluate", "make_pipeline", "prepare", "run_trial"]

MAX_CLASSES = 100
"""More distinct target values than this (or than half the rows) is not a classification."""


@dataclass(slots=True)
class Prepared:
    """Training (then validation) rows: features ``X``, target ``y``, the column plan and
    the splits every candidate of the job is validated on."""

    X: pd.DataFrame
    y: np.ndarray[Any, Any]
    plans: list[ColumnPlan]
    splits: list[Split]
    classes: list[Any]
    y_range: float | None


def _check_target(settings: AutoMLSettings, y: pd.Series) -> np.ndarray[Any, Any]:
    name = settings.target_column_name
    if settings.task == "classification":
        distinct = int(y.nunique())
        if distinct < 2:
            raise InvalidArgument(f"target column {name!r} has one class only: nothing to classify")
        if pd.api.types.is_float_dtype(y) and not np.all(np.mod(y.to_numpy(), 1) == 0):
            raise InvalidArgument(
                f"target column {name!r} holds continuous numbers ({distinct} distinct values): "
                "use task: regression, or bin the target into classes"
            )
        if distinct > MAX_CLASSES or (distinct > 20 and distinct > len(y) / 2):
            raise InvalidArgument(
                f"target column {name!r} has {distinct} classes in {len(y)} rows, too many for "
                "classification: use task: regression if it is a quantity"
            )
        return np.asarray(y.to_numpy())
    numbers = pd.to_numeric(y, errors="coerce")
    if numbers.isna().any():
        example = y[numbers.isna()].iloc[0]
        raise InvalidArgument(
            f"target column {name!r} holds text such as {example!r}; {settings.task} needs numbers: "
            "use task: classification for categories"
        )
    return np.asarray(numbers.to_numpy(dtype=float))


def split_target(frame: pd.DataFrame, settings: AutoMLSettings, role: str) -> tuple[pd.DataFrame, pd.Series]:
    name = settings.target_column_name
    if name not in frame.columns:
        raise InvalidArgument(
            f"the {role} data has no target column {name!r} (its columns: "
            f"{', '.join(map(str, frame.columns[:20]))})",
            field="target_column_name",
        )
    frame = frame[frame[name].notna()]
    if frame.empty:
        raise InvalidArgument(f"every row of the {role} data lacks a {name!r} value")
    return frame.drop(columns=[name]).reset_index(drop=True), frame[name].reset_index(drop=True)


def prepare(
    settings: AutoMLSettings, train: pd.DataFrame, validation: pd.DataFrame | None = None
) -> Prepared:
    X, y_series = split_target(train, settings, "training")
    valid_rows = 0
    if validation is not None:
        Xv, yv = split_target(validation, settings, "validation")
        missing = set(X.columns) - set(Xv.columns)
        if missing:
            raise InvalidArgument(f"the validation data lacks columns {sorted(missing)}")
        X = pd.concat([X, Xv[X.columns]], ignore_index=True)
        y_series = pd.concat([y_series, yv], ignore_index=True)
        valid_rows = len(Xv)
    y = _check_target(settings, y_series)
    classes = sorted(pd.unique(y).tolist()) if settings.task == "classification" else []
    folds = splits(
        settings.task,
        y if classes and np.unique(y, return_counts=True)[1].min() >= 2 else np.zeros(len(y)),
        n_cross_validations=settings.n_cross_validations,
        validation_size=settings.validation_data_size,
        validation_rows=valid_rows,
        seed=settings.seed,
    )
    y_range = None if classes else float(np.ptp(y[folds[0][0]])) or None
    return Prepared(X, y, plan_columns(X, settings.featurization), folds, classes, y_range)


def make_pipeline(
    settings: AutoMLSettings, plans: list[ColumnPlan], algorithm: str, params: dict[str, Any]
) -> Any:
    from sklearn.pipeline import Pipeline

    estimator = build_estimator(settings.task, algorithm, params, settings.seed)
    return Pipeline([("featurize", build_preprocessor(plans)), ("model", estimator)])


@dataclass(slots=True)
class Evaluation:
    """Per-fold metrics averaged, and the out-of-fold predictions (class probabilities for
    classification) on the rows the splits validate."""

    metrics: dict[str, float]
    oof: np.ndarray[Any, Any]
    rows: np.ndarray[Any, Any]


def evaluate(settings: AutoMLSettings, data: Prepared, pipeline: Any) -> Evaluation:
    from sklearn.base import clone

    per_fold: list[dict[str, float]] = []
    outputs: list[np.ndarray[Any, Any]] = []
    for train_idx, valid_idx in data.splits:
        model = clone(pipeline).fit(data.X.iloc[train_idx], data.y[train_idx])
        X_valid = data.X.iloc[valid_idx]
        if data.classes:
            proba = _aligned_proba(model, X_valid, data.classes)
            pred = np.asarray(data.classes)[proba.argmax(axis=1)]
            outputs.append(proba)
            per_fold.append(task_metrics("classification", data.y[valid_idx], pred, proba, data.classes))
        else:
            pred = np.asarray(model.predict(X_valid), dtype=float)
            outputs.append(pred)
            per_fold.append(task_metrics(settings.task, data.y[valid_idx], pred, y_range=data.y_range))
    names = set().union(*per_fold)
    metrics = {n: mean_of([m.get(n, np.nan) for m in per_fold]) for n in sorted(names)}
    rows = np.concatenate([valid for _, valid in data.splits])
    return Evaluation(metrics, np.concatenate(outputs), rows)


def _aligned_proba(model: Any, X: pd.DataFrame, classes: list[Any]) -> np.ndarray[Any, Any]:
    """Probabilities in ``classes`` order, a class the fold's model never saw at 0."""
    proba = np.asarray(model.predict_proba(X), dtype=float)
    seen = list(model.classes_)
    out = np.zeros((len(X), len(classes)))
    for j, label in enumerate(seen):
        out[:, classes.index(label)] = proba[:, j]
    return out


def run_trial(
    settings: AutoMLSettings,
    data: Prepared,
    algorithm: str,
    params: dict[str, Any],
    trial: int = 0,
) -> tuple[Trial, Evaluation]:
    began = time.monotonic()
    evaluation = evaluate(settings, data, make_pipeline(settings, data.plans, algorithm, params))
    score = evaluation.metrics.get(settings.primary_metric)
    row: Trial = {
        "trial": trial,
        "algorithm": algorithm,
        "params": dict(params),
        "score": None if score is None or np.isnan(score) else score,
        "metrics": evaluation.metrics,
        "status": "Completed",
        "duration_s": round(time.monotonic() - began, 3),
    }
    return row, evaluation
