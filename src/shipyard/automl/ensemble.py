"""A voting ensemble of the best trials, chosen greedily on their out-of-fold predictions.

Caruana et al.'s ensemble selection (2004), as Azure's VotingEnsemble does: start from the
best single model and repeatedly add — with replacement, so a model may weigh more — the
trial whose addition scores best on the pooled out-of-fold predictions; stop after
:data:`ROUNDS` additions and keep the best prefix. The ensemble is kept only when it beats the
best single model under the same predictions (:func:`select`); the caller then refits it as
a soft-voting classifier or an averaging regressor.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shipyard.automl.metrics import task_metrics
from shipyard.domain.automl import is_better

__all__ = ["ROUNDS", "Selection", "pooled_score", "select", "voting_model"]

ROUNDS = 15


@dataclass(frozen=True, slots=True)
class Selection:
    """``weights[i]`` is how many times candidate ``i`` was picked (0: left out)."""

    weights: tuple[int, ...]
    score: float
    best_single: int
    best_single_score: float

    @property
    def is_ensemble(self) -> bool:
        return sum(1 for w in self.weights if w) > 1


def pooled_score(
    task: str,
    metric: str,
    oof: np.ndarray[Any, Any],
    y: np.ndarray[Any, Any],
    classes: Sequence[Any],
    y_range: float | None,
) -> float:
    if task == "classification":
        pred = np.asarray(classes)[oof.argmax(axis=1)]
        return task_metrics(task, y, pred, oof, classes).get(metric, float("nan"))
    return task_metrics(task, y, oof, y_range=y_range)[metric]


def select(
    task: str,
    metric: str,
    oofs: Sequence[np.ndarray[Any, Any]],
    y: np.ndarray[Any, Any],
    classes: Sequence[Any] = (),
    y_range: float | None = None,
) -> Selection:
    """Choose the ensemble; ``y`` is the target on the rows the out-of-fold predictions cover."""
    singles = [pooled_score(task, metric, o, y, classes, y_range) for o in oofs]
    best = 0
    for i, score in enumerate(singles):
        if is_better(metric, task, score, singles[best]):
            best = i
    counts: Counter[int] = Counter({best: 1})
    total = oofs[best].astype(float)
    chosen = (tuple(counts[i] for i in range(len(oofs))), singles[best])
    for _ in range(ROUNDS):
        n = sum(counts.values())
        trials = [pooled_score(task, metric, (total + o) / (n + 1), y, classes, y_range) for o in oofs]
        pick = 0
        for i, score in enumerate(trials):
            if is_better(metric, task, score, trials[pick]):
                pick = i
        counts[pick] += 1
        total = total + oofs[pick]
        if _improves(metric, task, trials[pick], chosen[1]):
            chosen = (tuple(counts[i] for i in range(len(oofs))), trials[pick])
    divisor = math.gcd(*chosen[0])
    return Selection(tuple(w // divisor for w in chosen[0]), chosen[1], best, singles[best])


def _improves(metric: str, task: str, score: float, than: float) -> bool:
    """Better by more than rounding: averaging a model with itself is no improvement."""
    return is_better(metric, task, score, than) and abs(score - than) > 1e-9 * max(1.0, abs(than))


def voting_model(task: str, pipelines: Sequence[Any], weights: Sequence[int]) -> Any:
    """The unfitted soft-voting (classification) or averaging (regression) ensemble."""
    from sklearn.ensemble import VotingClassifier, VotingRegressor

    members = [(f"trial_{i}", p) for i, (p, w) in enumerate(zip(pipelines, weights, strict=True)) if w]
    kept = [w for w in weights if w]
    if task == "classification":
        return VotingClassifier(members, voting="soft", weights=kept)
    return VotingRegressor(members, weights=kept)
