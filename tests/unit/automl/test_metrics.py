"""Azure's metrics against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from shipyard.automl.metrics import classification_metrics, regression_metrics


def test_binary_classification_metrics_by_hand() -> None:
    y = ["no", "no", "yes", "yes"]
    pred = ["no", "yes", "yes", "yes"]
    # P(yes) per row; the ranking puts every "yes" above every "no": AUC 1.
    proba = [[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8]]
    m = classification_metrics(y, pred, proba, ["no", "yes"])
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["AUC_weighted"] == pytest.approx(1.0)
    # precision: no = 1/1, yes = 2/3; each class has 2 rows → weighted (1 + 2/3) / 2.
    assert m["precision_score_weighted"] == pytest.approx(5 / 6)
    # macro recall (1/2 + 1) / 2 = 0.75; normalised with chance 0.5: (0.75 - 0.5) / 0.5.
    assert m["norm_macro_recall"] == pytest.approx(0.5)
    # AP for yes = 1 (ranked first); for no, scored by P(no): 0.9 (no), 0.4 (no) → 1.
    assert m["average_precision_score_weighted"] == pytest.approx(1.0)


def test_norm_macro_recall_is_floored_at_chance_for_three_classes() -> None:
    y = [0, 1, 2, 0, 1, 2]
    pred = [1, 2, 0, 1, 2, 0]  # every row wrong: macro recall 0, below chance 1/3
    m = classification_metrics(y, pred, None, [0, 1, 2])
    assert m["norm_macro_recall"] == 0.0
    assert "AUC_weighted" not in m  # no probabilities, no AUC


def test_regression_metrics_by_hand() -> None:
    y = [1.0, 2.0, 3.0, 5.0]
    pred = [1.0, 3.0, 2.0, 5.0]
    m = regression_metrics(y, pred)
    # errors 0, 1, 1, 0: RMSE sqrt(2/4), MAE 0.5; the target's range is 5 - 1 = 4.
    assert m["root_mean_squared_error"] == pytest.approx(math.sqrt(0.5))
    assert m["normalized_root_mean_squared_error"] == pytest.approx(math.sqrt(0.5) / 4)
    assert m["normalized_mean_absolute_error"] == pytest.approx(0.5 / 4)
    # r2 = 1 - SSE/SST = 1 - 2 / 8.75
    assert m["r2_score"] == pytest.approx(1 - 2 / 8.75)
    # ranks 1,2,3,4 vs 1,3,2,4: rho = 1 - 6*2 / (4*15) = 0.8
    assert m["spearman_correlation"] == pytest.approx(0.8)


def test_regression_normalises_by_the_given_range() -> None:
    m = regression_metrics([1.0, 2.0], [2.0, 3.0], y_range=10.0)
    assert m["normalized_mean_absolute_error"] == pytest.approx(0.1)


def test_a_constant_prediction_has_no_spearman_correlation() -> None:
    m = regression_metrics([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    assert math.isnan(m["spearman_correlation"])
    assert m["root_mean_squared_error"] == pytest.approx(math.sqrt(2 / 3))
