"""Model performance: a deployment's predictions joined with the ground truth sent later.

Predictions (``model_outputs`` read by :mod:`.production`) and feedback join on
``(request_id, row)``. The feedback of a window is small next to its predictions: it is held
as a dict (the latest answer per key wins, so a client may correct itself), and the
predictions stream through it batch by batch.

- ``classification``: accuracy, precision, recall and F1. With two labels or fewer the task
  is binary and the positive class is the larger label — 1 of {0, 1}, ``true`` of
  {false, true}, "yes" of {"no", "yes"} (numbers sort before text). With more labels,
  precision, recall and F1 are macro averages: the plain mean over every label seen in the
  ground truth or the predictions, a label never predicted counting 0 precision (as
  scikit-learn's ``average="macro"`` with ``zero_division=0``).
  Labels compare by value: ``1``, ``1.0`` and ``"1"`` are the same class, and so are
  ``true``, ``"true"`` and ``1``.
- ``regression``: MAE, MSE, RMSE.

Feedback naming a request no prediction in the window carries (never collected, sampled out,
or outside the window) is counted in :attr:`PerformanceResult.unknown_feedback` and said in a
note — never fatal. No joined row at all is an :class:`InvalidArgument` (the signal's error).
numpy only: no scikit-learn in the server.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from shipyard.errors import InvalidArgument

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "Label",
    "PerformanceResult",
    "Task",
    "performance",
]

Task = Literal["classification", "regression"]
Label = float | str
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1_score")
REGRESSION_METRICS = ("mae", "mse", "rmse")

_Key = tuple[str, int]


@dataclass(frozen=True)
class PerformanceResult:
    task: Task
    metrics: dict[str, float]
    joined: int
    """Predictions with ground truth."""
    unknown_feedback: int
    """Feedback rows whose (request_id, row) no prediction in the window carries."""
    unmatched_predictions: int
    """Predictions without ground truth (yet)."""
    skipped_nulls: int = 0
    """Joined rows left out because the prediction or the ground truth is null."""
    positive_label: Label | None = None
    """Binary classification's positive class; None for multiclass (macro) and regression."""
    labels: list[Label] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def performance(
    task: Task,
    predictions: Iterable[pa.RecordBatch],
    feedback: Iterable[pa.RecordBatch],
    *,
    prediction_column: str = "prediction",
    truth_column: str = "ground_truth",
) -> PerformanceResult:
    """Join ``predictions`` and ``feedback`` on ``(request_id, row)`` and score them."""
    if task not in ("classification", "regression"):
        raise InvalidArgument(f"unknown task {task!r}: model performance takes classification or regression")
    truths = _truths(feedback, truth_column)
    scorer: _Scorer = _Classification() if task == "classification" else _Regression()
    seen: set[_Key] = set()
    unmatched = skipped = 0
    for batch in predictions:
        if prediction_column not in batch.schema.names:
            raise InvalidArgument(
                f"the predictions have no column {prediction_column!r} (they have"
                f" {', '.join(batch.schema.names)}): name the prediction column to score"
            )
        keys = zip(batch.column("request_id").to_pylist(), batch.column("row").to_pylist(), strict=True)
        pairs: list[tuple[Any, Any]] = []
        for key, predicted in zip(keys, batch.column(prediction_column).to_pylist(), strict=True):
            if key not in truths:
                unmatched += 1
                continue
            seen.add(key)
            truth = truths[key]
            if truth is None or predicted is None:
                skipped += 1
                continue
            pairs.append((truth, predicted))
        scorer.add(pairs)
    unknown = sum(1 for key in truths if key not in seen)
    notes = []
    if unknown:
        notes.append(f"{unknown} feedback row(s) name request ids that were not collected in the window")
    if skipped:
        notes.append(f"{skipped} joined row(s) have a null prediction or ground truth and were left out")
    if scorer.count == 0:
        raise InvalidArgument(
            f"no feedback joined in the window: {len(truths)} feedback row(s), {unmatched} prediction(s)"
            " without feedback; post ground truth to /endpoints/<name>/feedback with the x-request-id"
            " of each scored request"
        )
    result = scorer.result()
    return PerformanceResult(
        task=task,
        metrics=result.metrics,
        joined=scorer.count,
        unknown_feedback=unknown,
        unmatched_predictions=unmatched,
        skipped_nulls=skipped,
        positive_label=result.positive_label,
        labels=result.labels,
        notes=notes,
    )


def _truths(feedback: Iterable[pa.RecordBatch], column: str) -> dict[_Key, Any]:
    """(request_id, row) → ground truth; the latest feedback wins."""
    latest: dict[_Key, tuple[int, Any]] = {}
    for batch in feedback:
        if column not in batch.schema.names:
            raise InvalidArgument(
                f"the feedback has no column {column!r} (it has {', '.join(batch.schema.names)})"
            )
        for request_id, row, at, truth in zip(
            batch.column("request_id").to_pylist(),
            batch.column("row").to_pylist(),
            batch.column("timestamp").to_pylist(),
            batch.column(column).to_pylist(),
            strict=True,
        ):
            key = (request_id, row)
            if key not in latest or at >= latest[key][0]:
                latest[key] = (at, truth)
    return {key: truth for key, (_, truth) in latest.items()}


@dataclass(frozen=True)
class _Scored:
    metrics: dict[str, float]
    positive_label: Label | None = None
    labels: list[Label] = field(default_factory=list)


class _Scorer:
    count = 0

    def add(self, pairs: list[tuple[Any, Any]]) -> None:
        raise NotImplementedError

    def result(self) -> _Scored:
        raise NotImplementedError


class _Classification(_Scorer):
    def __init__(self) -> None:
        self.pairs: Counter[tuple[Label, Label]] = Counter()

    def add(self, pairs: list[tuple[Any, Any]]) -> None:
        for truth, predicted in pairs:
            self.pairs[(_label(truth), _label(predicted))] += 1
        self.count += len(pairs)

    def result(self) -> _Scored:
        labels = sorted({label for pair in self.pairs for label in pair}, key=_order)
        index = {label: i for i, label in enumerate(labels)}
        confusion = np.zeros((len(labels), len(labels)), dtype=np.int64)  # [truth, predicted]
        for (truth, predicted), n in self.pairs.items():
            confusion[index[truth], index[predicted]] += n
        hits = np.diag(confusion).astype(np.float64)
        predicted_n = confusion.sum(axis=0)
        actual_n = confusion.sum(axis=1)
        precision = np.divide(hits, predicted_n, out=np.zeros_like(hits), where=predicted_n > 0)
        recall = np.divide(hits, actual_n, out=np.zeros_like(hits), where=actual_n > 0)
        both = precision + recall
        f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(hits), where=both > 0)
        accuracy = float(hits.sum() / confusion.sum())
        if len(labels) <= 2:
            positive = len(labels) - 1
            return _Scored(
                {
                    "accuracy": accuracy,
                    "precision": float(precision[positive]),
                    "recall": float(recall[positive]),
                    "f1_score": float(f1[positive]),
                },
                labels[positive],
                labels,
            )
        metrics = {
            "accuracy": accuracy,
            "precision": float(precision.mean()),
            "recall": float(recall.mean()),
            "f1_score": float(f1.mean()),
        }
        return _Scored(metrics, None, labels)


class _Regression(_Scorer):
    def __init__(self) -> None:
        self.abs_sum = 0.0
        self.sq_sum = 0.0

    def add(self, pairs: list[tuple[Any, Any]]) -> None:
        if not pairs:
            return
        try:
            truth, predicted = (np.asarray(side, dtype=np.float64) for side in zip(*pairs, strict=True))
        except (TypeError, ValueError):
            example = next(p for p in pairs if not all(_numeric(v) for v in p))
            raise InvalidArgument(
                f"regression needs numbers; got ground truth {example[0]!r} for prediction {example[1]!r}:"
                " send numeric ground truth, or monitor the model as classification"
            ) from None
        error = predicted - truth
        self.abs_sum += float(np.abs(error).sum())
        self.sq_sum += float(np.square(error).sum())
        self.count += len(pairs)

    def result(self) -> _Scored:
        mse = self.sq_sum / self.count
        return _Scored({"mae": self.abs_sum / self.count, "mse": mse, "rmse": math.sqrt(mse)})


def _label(value: Any) -> Label:
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    if text.lower() in ("true", "false"):  # JSON booleans read as 1/0 wherever they were numbers
        return float(text.lower() == "true")
    try:
        return float(text)
    except ValueError:
        return text


def _order(label: Label) -> tuple[bool, float, str]:
    return (True, 0.0, label) if isinstance(label, str) else (False, label, "")


def _numeric(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
