"""One candidate, validated: sensible scores on scikit-learn's data, and bad input refused early."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from shipyard.automl.candidates import AlgorithmUnavailable, build_estimator
from shipyard.automl.cv import auto_folds, splits
from shipyard.automl.trial import prepare, run_trial
from shipyard.domain.automl import ALGORITHMS, PRIMARY_METRICS, AutoMLSettings, Dist
from shipyard.errors import InvalidArgument


def _settings(task: str = "classification", **kwargs: object) -> AutoMLSettings:
    return AutoMLSettings(task=task, target_column_name="target", n_cross_validations=3, **kwargs)  # type: ignore[arg-type]


def test_a_trial_on_breast_cancer_scores_like_a_classifier_should(breast_cancer: pd.DataFrame) -> None:
    settings = _settings()
    row, evaluation = run_trial(
        settings, prepare(settings, breast_cancer), "LogisticRegression", {"C": 1.0}, trial=4
    )
    assert row["trial"] == 4
    assert row["status"] == "Completed"
    assert row["score"] == row["metrics"]["accuracy"]
    assert row["score"] is not None and row["score"] > 0.94
    assert row["metrics"]["AUC_weighted"] > 0.97
    assert set(row["metrics"]) >= {
        "precision_score_weighted",
        "norm_macro_recall",
        "average_precision_score_weighted",
    }
    assert evaluation.oof.shape == (len(breast_cancer), 2)


def test_a_trial_on_diabetes_scores_like_a_regressor_should(diabetes: pd.DataFrame) -> None:
    settings = _settings("regression", primary_metric="r2_score")
    row, _ = run_trial(settings, prepare(settings, diabetes), "ElasticNet", {"alpha": 0.01, "l1_ratio": 0.5})
    assert row["score"] is not None and 0.4 < row["score"] < 0.6
    assert 0 < row["metrics"]["normalized_root_mean_squared_error"] < 0.3


def test_validation_data_replaces_cross_validation(diabetes: pd.DataFrame) -> None:
    settings = _settings("regression")
    data = prepare(settings, diabetes.iloc[:300], diabetes.iloc[300:])
    assert len(data.splits) == 1
    train, valid = data.splits[0]
    assert (len(train), len(valid)) == (300, len(diabetes) - 300)


def test_auto_folds_follow_the_size_of_the_data() -> None:
    assert auto_folds(500) == 5
    assert auto_folds(5_000) == 3
    assert auto_folds(50_000) is None  # a 10 % holdout
    y = np.array([0, 1] * 15_000)
    [(_, valid)] = splits("classification", y)
    assert len(valid) == 3_000
    assert len(splits("regression", np.arange(100.0), n_cross_validations=4)) == 4


def test_a_missing_target_column_names_the_columns_there(breast_cancer: pd.DataFrame) -> None:
    settings = AutoMLSettings(task="classification", target_column_name="churned")
    with pytest.raises(InvalidArgument, match="no target column 'churned'") as caught:
        prepare(settings, breast_cancer)
    assert caught.value.code == "INVALID_ARGUMENT"
    assert caught.value.details["field"] == "target_column_name"


def test_classification_of_a_continuous_target_is_refused(diabetes: pd.DataFrame) -> None:
    continuous = diabetes.assign(target=diabetes["target"] + 0.5)
    with pytest.raises(InvalidArgument, match=r"continuous numbers.*task: regression"):
        prepare(_settings(), continuous)
    with pytest.raises(InvalidArgument, match="too many for classification"):
        prepare(_settings(), diabetes)  # integers, but 214 distinct of 442


def test_regression_on_text_is_refused() -> None:
    frame = pd.DataFrame({"x": range(30), "target": ["low", "high", "mid"] * 10})
    with pytest.raises(InvalidArgument, match=r"holds text such as 'low'.*task: classification"):
        prepare(_settings("regression"), frame)


def test_one_class_only_is_refused() -> None:
    frame = pd.DataFrame({"x": range(30), "target": ["yes"] * 30})
    with pytest.raises(InvalidArgument, match="one class only"):
        prepare(_settings(), frame)


def test_an_unknown_algorithm_or_parameter_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="unknown classification algorithm 'Prophet'"):
        build_estimator("classification", "Prophet", {})
    with pytest.raises(InvalidArgument, match="RandomForest does not take these parameters"):
        build_estimator("classification", "RandomForest", {"colour": "red"})


def test_a_missing_optional_package_is_reported_as_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # import lightgbm now raises ImportError
    with pytest.raises(AlgorithmUnavailable, match="LightGBM needs the 'lightgbm' package") as caught:
        build_estimator("regression", "LightGBM", {})
    assert caught.value.code == "UNAVAILABLE"
    assert caught.value.details == {"package": "lightgbm", "algorithm": "LightGBM"}


@pytest.mark.parametrize("algorithm", ["LightGBM", "XGBoostClassifier"])
def test_gradient_boosting_libraries_take_string_labels(algorithm: str, breast_cancer: pd.DataFrame) -> None:
    frame = breast_cancer.sample(200, random_state=0).assign(
        target=lambda f: f["target"].map({0: "malignant", 1: "benign"})
    )
    settings = _settings()
    row, _ = run_trial(settings, prepare(settings, frame), algorithm, {"n_estimators": 30})
    assert row["score"] is not None and row["score"] > 0.85


def _at(end: str, dist: Dist) -> object:
    if dist.kind == "categorical":
        return dist.choices[0 if end == "low" else -1]
    value = dist.low if end == "low" else dist.high
    assert value is not None
    return int(value) if dist.kind == "int" else float(value)


@pytest.mark.parametrize(
    ("task", "algorithm"),
    [(task, name) for task in ("classification", "regression") for name in ALGORITHMS[task]],
)
def test_every_algorithm_runs_at_both_ends_of_its_search_space(
    task: str, algorithm: str, breast_cancer: pd.DataFrame, diabetes: pd.DataFrame
) -> None:
    """A space the search may draw from must never make a trial fail (warnings are errors here)."""
    frame = (breast_cancer if task == "classification" else diabetes).sample(80, random_state=0)
    settings = AutoMLSettings(task=task, target_column_name="target", validation_data_size=0.3)  # type: ignore[arg-type]
    data = prepare(settings, frame)
    for end in ("low", "high"):
        space = ALGORITHMS[task][algorithm].space
        params = {name: _at(end, dist) for name, dist in space.items()}
        row, _ = run_trial(settings, data, algorithm, params)
        assert row["status"] == "Completed"
        assert set(row["metrics"]) >= set(PRIMARY_METRICS[task]) - {"spearman_correlation"}
