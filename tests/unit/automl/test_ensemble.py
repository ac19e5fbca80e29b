"""The voting ensemble is kept only when it beats the best single model on the same folds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shipyard.automl.ensemble import select
from shipyard.automl.finish import best_trials, choose_model
from shipyard.automl.trial import prepare
from shipyard.domain.automl import AutoMLSettings, Trial

METRIC = "normalized_root_mean_squared_error"


def test_two_models_with_independent_errors_make_an_ensemble() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    a, b = y + rng.normal(0, 1, 500), y + rng.normal(0, 1, 500)
    chosen = select("regression", METRIC, [a, b], y)
    assert chosen.is_ensemble
    assert chosen.score < chosen.best_single_score
    assert all(chosen.weights)


def test_a_model_that_only_adds_noise_is_left_out() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=500)
    good, bad = y + rng.normal(0, 0.1, 500), rng.normal(size=500)
    chosen = select("regression", METRIC, [bad, good], y)
    assert not chosen.is_ensemble
    assert chosen.best_single == 1
    assert chosen.weights == (0, 1)
    assert chosen.score == chosen.best_single_score


def test_classification_ensembles_average_probabilities() -> None:
    y = np.array(["a", "b"] * 50)
    truth = (y == "b").astype(float)
    rng = np.random.default_rng(2)

    def noisy() -> np.ndarray:
        p = np.clip(truth * 0.6 + 0.2 + rng.normal(0, 0.25, 100), 0, 1)
        return np.column_stack([1 - p, p])

    chosen = select("classification", "AUC_weighted", [noisy(), noisy(), noisy()], y, ["a", "b"])
    assert chosen.is_ensemble and chosen.score > chosen.best_single_score


def _row(trial: int, algorithm: str, score: float | None, status: str = "Completed") -> Trial:
    return {
        "trial": trial,
        "algorithm": algorithm,
        "params": {},
        "score": score,
        "metrics": {},
        "status": status,
        "duration_s": 1.0,
    }


def test_best_trials_are_ordered_by_the_metrics_direction_without_duplicates() -> None:
    board = [
        _row(0, "KNN", 0.3),
        _row(1, "DecisionTree", 0.1),
        _row(2, "KNN", 0.3),
        _row(3, "SGD", None, "Failed"),
    ]
    regression = AutoMLSettings(task="regression", target_column_name="y", primary_metric=METRIC)
    assert [t["trial"] for t in best_trials(regression, board, 5)] == [1, 0]
    classification = AutoMLSettings(task="classification", target_column_name="y")
    assert [t["trial"] for t in best_trials(classification, board, 5)] == [0, 1]


def test_choose_model_keeps_the_ensemble_only_when_it_scores_better(breast_cancer: pd.DataFrame) -> None:
    frame = breast_cancer.sample(250, random_state=0)
    top = [
        _row(0, "LogisticRegression", 0.97),
        _row(1, "DecisionTree", 0.9),
        _row(2, "BernoulliNaiveBayes", 0.6),
    ]
    settings = AutoMLSettings(
        task="classification",
        target_column_name="target",
        n_cross_validations=3,
        primary_metric="AUC_weighted",
    )
    outcome = choose_model(settings, prepare(settings, frame), top)
    if outcome.ensemble:
        assert outcome.cv_score > outcome.best_single_score
        assert len(outcome.members) > 1
    else:
        assert outcome.cv_score == outcome.best_single_score
    off = AutoMLSettings(
        task="classification", target_column_name="target", n_cross_validations=3, enable_ensembling=False
    )
    single = choose_model(off, prepare(off, frame), top)
    assert not single.ensemble
    assert single.members == [{"trial": 0, "algorithm": "LogisticRegression", "params": {}, "weight": 1}]
