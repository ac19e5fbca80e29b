"""Forecasting: one model across many series beats the naive last-value forecast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard.automl.forecasting import (
    fit_forecaster,
    naive_forecast,
    prepare_series,
    rolling_origin,
    run_forecast_trial,
)
from shipyard.automl.metrics import regression_metrics
from shipyard.automl.trial import make_pipeline
from shipyard.domain.automl import AutoMLSettings, ForecastingSettings, Trial
from shipyard.errors import InvalidArgument

HORIZON = 7


def _settings(**forecasting: object) -> AutoMLSettings:
    fc = {
        "time_column_name": "date",
        "time_series_id_column_names": ("store",),
        "forecast_horizon": HORIZON,
        **forecasting,
    }
    return AutoMLSettings(
        task="forecasting",
        target_column_name="sales",
        forecasting=ForecastingSettings(**fc),  # type: ignore[arg-type]
    )


def test_a_forecaster_beats_the_naive_forecast_on_the_holdout(series: pd.DataFrame) -> None:
    settings = _settings()
    last_week = series["date"] >= sorted(series["date"].unique())[-HORIZON]
    train, holdout = series[~last_week], series[last_week]
    prepared = prepare_series(settings, train)
    model = fit_forecaster(
        prepared, prepared.frame, lambda plans: make_pipeline(settings, plans, "ElasticNet", {"alpha": 0.01})
    )
    future = holdout.drop(columns=["sales"]).sample(frac=1, random_state=0)  # any row order
    forecast = model.predict(future)
    truth = holdout.loc[future.index, "sales"].to_numpy()
    assert settings.forecasting is not None
    naive = naive_forecast(
        prepared.frame, prepare_series(settings, holdout).frame, settings.forecasting, "sales"
    )
    naive_truth = prepare_series(settings, holdout).frame["sales"].to_numpy()
    ours = regression_metrics(truth, forecast)["root_mean_squared_error"]
    baseline = regression_metrics(naive_truth, naive)["root_mean_squared_error"]
    assert ours < 0.7 * baseline


def test_rolling_origin_validates_each_horizon_after_the_origin(series: pd.DataFrame) -> None:
    prepared = prepare_series(_settings(), series)
    folds = rolling_origin(prepared)
    assert len(folds) == 3  # n_cross_validations: auto
    for train, holdout in folds:
        assert train["date"].max() < holdout["date"].min()
        assert holdout["date"].nunique() == HORIZON
    trial = run_forecast_trial(
        prepared,
        lambda plans: make_pipeline(prepared.settings, plans, "DecisionTree", {"max_depth": 6}),
        "DecisionTree",
        {"max_depth": 6},
        trial=2,
    )
    assert trial["trial"] == 2 and trial["score"] is not None
    assert trial["score"] == trial["metrics"]["normalized_root_mean_squared_error"]


def test_a_file_without_its_time_column_is_refused(series: pd.DataFrame) -> None:
    with pytest.raises(InvalidArgument, match="no time column 'date'"):
        prepare_series(_settings(), series.drop(columns=["date"]))
    with pytest.raises(InvalidArgument, match="no time series id column 'store'"):
        prepare_series(_settings(), series.drop(columns=["store"]))


def test_bad_times_duplicates_and_short_history_are_refused(series: pd.DataFrame) -> None:
    with pytest.raises(InvalidArgument, match="holds 'soon', not a date"):
        prepare_series(_settings(), series.assign(date=["soon"] * len(series)))
    with pytest.raises(InvalidArgument, match="two rows for one time"):
        prepare_series(_settings(), pd.concat([series, series.head(1)]))
    short = series[series["date"] < "2024-01-12"]
    with pytest.raises(InvalidArgument, match="too little history"):
        rolling_origin(prepare_series(_settings(), short))


def test_one_series_without_id_columns(series: pd.DataFrame) -> None:
    one = series[series["store"] == "s0"].drop(columns=["store"])
    settings = _settings(time_series_id_column_names=(), target_lags=(1, 7), target_rolling_window_size=7)
    prepared = prepare_series(settings, one)
    model = fit_forecaster(
        prepared, prepared.frame, lambda plans: make_pipeline(settings, plans, "ElasticNet", {"alpha": 0.01})
    )
    assert np.isfinite(model.predict(one.drop(columns=["sales"]).tail(3))).all()


def _trial_row(n: int, algorithm: str, params: dict[str, object], score: float) -> Trial:
    return {
        "trial": n,
        "algorithm": algorithm,
        "params": dict(params),
        "score": score,
        "metrics": {},
        "status": "Completed",
        "duration_s": 1.0,
    }


def test_forecasters_are_averaged_only_when_the_average_scores_better(series: pd.DataFrame) -> None:
    from shipyard.automl.finish import _choose_forecasters

    settings = _settings()
    prepared = prepare_series(settings, series)
    # A shallow tree and a KNN err differently: their average is better than either.
    pair = [
        _trial_row(0, "DecisionTree", {"max_depth": 4}, 0.07),
        _trial_row(1, "KNN", {"n_neighbors": 3}, 0.08),
    ]
    members, score, best_single = _choose_forecasters(settings, prepared, pair)
    assert [m["algorithm"] for m in members] == ["DecisionTree", "KNN"]
    assert score < best_single  # normalized RMSE: lower is better
    # A linear model that gets the trend right is not improved by averaging in worse ones.
    trio = [pair[0], pair[1], _trial_row(2, "ElasticNet", {"alpha": 0.01}, 0.03)]
    members, score, best_single = _choose_forecasters(settings, prepared, trio)
    assert [m["algorithm"] for m in members] == ["ElasticNet"]
    assert score == best_single
    off = AutoMLSettings.from_dict({**settings.to_dict(), "enable_ensembling": False})
    members, score, best_single = _choose_forecasters(off, prepared, pair)
    assert [m["algorithm"] for m in members] == ["DecisionTree"] and score == best_single
