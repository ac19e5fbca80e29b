"""The AutoML contract: tasks, metrics, algorithms and the settings a parent hands its trials."""

from __future__ import annotations

import pytest

from shipyard.domain.automl import (
    ALGORITHMS,
    DEFAULT_PRIMARY_METRIC,
    PRIMARY_METRICS,
    TASKS,
    AutoMLSettings,
    Dist,
    FeaturizationSettings,
    ForecastingSettings,
    Trial,
    candidate_algorithms,
    check_task,
    is_better,
    parse_result_line,
    result_line,
)
from shipyard.errors import InvalidSpec


def _forecasting() -> AutoMLSettings:
    return AutoMLSettings(
        task="forecasting",
        target_column_name="demand",
        featurization=FeaturizationSettings(
            mode="custom",
            blocked_transformers=("OneHotEncoder",),
            column_types={"store": "categorical"},
            imputers={"price": "median"},
        ),
        n_cross_validations=3,
        allowed_algorithms=("LightGBM", "RandomForest", "AutoArima"),
        forecasting=ForecastingSettings(
            time_column_name="date",
            time_series_id_column_names=("store",),
            forecast_horizon=7,
            frequency="D",
            target_lags=(1, 7),
            target_rolling_window_size=7,
        ),
        seed=42,
    )


def test_settings_round_trip_through_json_unchanged() -> None:
    settings = _forecasting()
    again = AutoMLSettings.from_json(settings.to_json())
    assert again == settings
    assert again.primary_metric == "normalized_root_mean_squared_error"
    # AutoArima is Azure's, not ours: allowing it alongside ours is harmless.
    assert again.algorithms == ["RandomForest", "LightGBM"]


def test_default_primary_metrics_are_azures() -> None:
    assert DEFAULT_PRIMARY_METRIC == {
        "classification": "accuracy",
        "regression": "spearman_correlation",
        "forecasting": "normalized_root_mean_squared_error",
    }
    for task in TASKS:
        assert DEFAULT_PRIMARY_METRIC[task] in PRIMARY_METRICS[task]
        assert (
            AutoMLSettings(
                task=task,
                target_column_name="y",
                forecasting=(ForecastingSettings("t") if task == "forecasting" else None),
            ).primary_metric
            == DEFAULT_PRIMARY_METRIC[task]
        )


def test_every_search_space_is_well_formed() -> None:
    for task, algorithms in ALGORITHMS.items():
        assert algorithms, task
        for name, algorithm in algorithms.items():
            for param, dist in algorithm.space.items():
                assert isinstance(dist, Dist), (name, param)
            assert algorithm.requires in (None, "lightgbm", "xgboost")
    assert ALGORITHMS["classification"]["LightGBM"].requires == "lightgbm"
    assert ALGORITHMS["regression"]["XGBoostRegressor"].requires == "xgboost"
    with pytest.raises(ValueError, match="low <= high"):
        Dist("int", 5, 1)
    with pytest.raises(ValueError, match="choices"):
        Dist("categorical")


@pytest.mark.parametrize("task", ["image_classification", "text_ner", "text_classification"])
def test_image_and_text_tasks_are_refused_with_a_reason(task: str) -> None:
    with pytest.raises(InvalidSpec, match="tabular AutoML only") as caught:
        check_task(task)
    assert caught.value.details["field"] == "task"


def test_unknown_task_names_the_choices() -> None:
    with pytest.raises(InvalidSpec, match="classification, regression, forecasting"):
        AutoMLSettings(task="clustering", target_column_name="y")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"primary_metric": "r2_score"}, "does not fit a classification task"),
        ({"target_column_name": ""}, "target_column_name is required"),
        ({"n_cross_validations": 1}, "at least 2"),
        ({"n_cross_validations": True}, "at least 2"),
        ({"validation_data_size": 1.5}, "between 0 and 1"),
        ({"allowed_algorithms": ("Prophet",)}, "unknown classification algorithm 'Prophet'"),
        ({"blocked_algorithms": ("NoSuchThing",)}, "unknown classification algorithm"),
        (
            {"allowed_algorithms": ("KNN",), "blocked_algorithms": ("KNN",)},
            "no classification algorithm left",
        ),
    ],
)
def test_bad_settings_are_refused_with_a_reason(kwargs: dict[str, object], match: str) -> None:
    values: dict[str, object] = {"task": "classification", "target_column_name": "y"}
    values.update(kwargs)
    with pytest.raises(InvalidSpec, match=match):
        AutoMLSettings(**values)  # type: ignore[arg-type]


def test_forecasting_needs_its_time_column_and_sane_horizon() -> None:
    with pytest.raises(InvalidSpec, match="time_column_name"):
        AutoMLSettings(task="forecasting", target_column_name="y")
    with pytest.raises(InvalidSpec, match="time_column_name"):
        ForecastingSettings(time_column_name="")
    with pytest.raises(InvalidSpec, match="forecast_horizon"):
        ForecastingSettings(time_column_name="t", forecast_horizon=0)
    with pytest.raises(InvalidSpec, match="target_lags"):
        ForecastingSettings(time_column_name="t", target_lags=(0,))
    with pytest.raises(InvalidSpec, match="rolling"):
        ForecastingSettings(time_column_name="t", target_rolling_window_size=1)


def test_only_azures_classical_forecasters_is_an_error_naming_why() -> None:
    with pytest.raises(InvalidSpec, match=r"no forecasting algorithm left.*not classical models"):
        candidate_algorithms("forecasting", ["AutoArima", "Prophet"])
    # Blocking Azure's classical forecasters is a no-op.
    assert "LightGBM" in candidate_algorithms("forecasting", None, ["Prophet"])
    with pytest.raises(InvalidSpec, match="unknown regression algorithm 'Prophet'"):
        candidate_algorithms("regression", ["Prophet"])


@pytest.mark.parametrize(
    ("feat", "match"),
    [
        ({"mode": "on"}, "featurization mode"),
        ({"blocked_transformers": ("Nope",)}, "unknown transformer 'Nope'"),
        ({"column_types": {"a": "Weird"}}, "column 'a' has type"),
        ({"imputers": {"a": "zero"}}, "imputer for 'a'"),
    ],
)
def test_bad_featurization_is_refused(feat: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidSpec, match=match):
        FeaturizationSettings(**feat)  # type: ignore[arg-type]


def test_malformed_settings_json_is_an_invalid_spec() -> None:
    with pytest.raises(InvalidSpec, match="not JSON"):
        AutoMLSettings.from_json("{")
    with pytest.raises(InvalidSpec, match="JSON object"):
        AutoMLSettings.from_json("[]")
    with pytest.raises(InvalidSpec, match="unknown AutoML settings: colour"):
        AutoMLSettings.from_dict({"task": "regression", "target_column_name": "y", "colour": 1})
    with pytest.raises(InvalidSpec, match="malformed"):
        AutoMLSettings.from_dict(
            {"task": "forecasting", "target_column_name": "y", "forecasting": {"forecast_horizon": "x"}}
        )


def test_is_better_follows_the_metrics_direction_and_never_prefers_nan() -> None:
    assert is_better("accuracy", "classification", 0.9, 0.8)
    assert not is_better("accuracy", "classification", 0.7, 0.8)
    assert is_better("normalized_root_mean_squared_error", "regression", 0.1, 0.2)
    assert not is_better("normalized_root_mean_squared_error", "regression", 0.3, 0.2)
    assert not is_better("accuracy", "classification", float("nan"), 0.1)
    assert is_better("accuracy", "classification", 0.1, None)


def test_result_line_round_trips_and_drops_non_finite_values() -> None:
    trial: Trial = {
        "trial": 3,
        "algorithm": "RandomForest",
        "params": {"n_estimators": 50},
        "score": float("nan"),
        "metrics": {"accuracy": 0.9, "AUC_weighted": float("inf")},
        "status": "Completed",
        "duration_s": 1.5,
    }
    log = "fitting…\n" + result_line(trial) + "\n"
    row = parse_result_line(log)
    assert row is not None
    assert row["score"] is None
    assert row["metrics"] == {"accuracy": 0.9}
    assert row["params"] == {"n_estimators": 50}
    assert parse_result_line("no result here") is None
    assert parse_result_line("SHIPYARD_AUTOML_RESULT {broken") is None
    assert parse_result_line('SHIPYARD_AUTOML_RESULT {"trial": 1}') is None
