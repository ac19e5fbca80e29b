"""Forecasting: one regressor across every series, on lags, rolling means and calendar parts.

Each row's features are the target's values ``lag`` steps before it in its own series
(``target_lags``; auto: 1, 2, 3 and the horizon), the mean of the ``window`` values before it
(``target_rolling_window_size``; auto: 3), the calendar parts of its time, its series id
columns (as categories) and the other columns of the table, which must be known in advance
for the future rows. The model forecasts recursively: step 1 of every series at once, its
predictions become the lags of step 2, and so on — so one model serves any horizon.

Validation is rolling-origin: fold ``i`` trains on everything up to ``i`` horizons before the
end and forecasts the next horizon of every series; the metrics are averaged over folds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the dev extra

from shipyard.automl.featurize import ColumnPlan, plan_columns
from shipyard.automl.gaps import regular_grid, season_of
from shipyard.automl.metrics import mean_of, regression_metrics
from shipyard.domain.automl import AutoMLSettings, FeaturizationSettings, ForecastingSettings, Trial
from shipyard.errors import InvalidArgument

__all__ = [
    "FoldForecast",
    "ForecastEnsemble",
    "ForecastModel",
    "Series",
    "fit_forecaster",
    "fold_metrics",
    "forecast_folds",
    "holdout_importance",
    "naive_forecast",
    "prepare_series",
    "rolling_origin",
    "run_forecast_trial",
]

_AUTO_WINDOW = 3
_MIN_TRAIN_ROWS = 10


def _lags(fc: ForecastingSettings) -> tuple[int, ...]:
    return fc.target_lags or tuple(sorted({1, 2, 3, fc.forecast_horizon}))


def choose_lags(fc: ForecastingSettings, frequency: str | None, points: int) -> tuple[int, ...]:
    """``target_lags`` when given; else 1, 2, 3, the horizon and one season back (the
    ``seasonality``, or the frequency's: a week of daily data) when the history holds three
    horizons of validation and two seasons besides."""
    if fc.target_lags:
        return fc.target_lags
    season = fc.seasonality if fc.seasonality is not None else season_of(frequency)
    lags = set(_lags(fc))
    if season is not None and season > 1 and points >= season + 3 * fc.forecast_horizon + 2 * _MIN_TRAIN_ROWS:
        lags.add(season)
    return tuple(sorted(lags))


def _window(fc: ForecastingSettings) -> int:
    return fc.target_rolling_window_size or _AUTO_WINDOW


@dataclass(slots=True)
class Series:
    """The table sorted by series and time, its target as floats."""

    frame: pd.DataFrame
    settings: AutoMLSettings
    fc: ForecastingSettings
    times: list[pd.Timestamp] = field(default_factory=list)
    frequency: str | None = None  # the grid's pandas alias (named or inferred); None: irregular
    filled: int = 0  # rows added to close gaps in the training series
    lags: tuple[int, ...] = ()  # the target lags the features use (choose_lags)

    def __post_init__(self) -> None:
        if not self.lags:
            self.lags = _lags(self.fc)


def prepare_series(settings: AutoMLSettings, frame: pd.DataFrame, role: str = "training") -> Series:
    fc = settings.forecasting
    assert fc is not None  # AutoMLSettings refuses forecasting without it
    target = settings.target_column_name
    for column, what in [(fc.time_column_name, "time column"), (target, "target column")] + [
        (c, "time series id column") for c in fc.time_series_id_column_names
    ]:
        if column not in frame.columns:
            raise InvalidArgument(
                f"the {role} data has no {what} {column!r} (its columns: "
                f"{', '.join(map(str, frame.columns[:20]))})"
            )
    frame = frame.copy()
    stamps = pd.to_datetime(frame[fc.time_column_name], errors="coerce", format="mixed")
    if stamps.isna().any():
        bad = frame[fc.time_column_name][stamps.isna()].iloc[0]
        raise InvalidArgument(f"time column {fc.time_column_name!r} holds {bad!r}, not a date or time")
    frame[fc.time_column_name] = stamps
    values = pd.to_numeric(frame[target], errors="coerce")
    if values.isna().any() and frame[target].notna().any():
        text = frame[target][values.isna() & frame[target].notna()]
        if not text.empty:
            raise InvalidArgument(
                f"target column {target!r} holds text such as {text.iloc[0]!r}; forecasting needs numbers"
            )
    frame[target] = values
    keys = [*fc.time_series_id_column_names, fc.time_column_name]
    if frame.duplicated(keys).any():
        raise InvalidArgument(f"some series have two rows for one time (columns {keys})")
    frame = frame.sort_values(keys).reset_index(drop=True)
    if role != "training":  # rows to score are scored as given
        return Series(frame, settings, fc, sorted(frame[fc.time_column_name].unique()))
    grid = regular_grid(frame, fc.time_column_name, fc.time_series_id_column_names, target, fc.frequency)
    frame = grid.frame
    times = sorted(frame[fc.time_column_name].unique())
    lags = choose_lags(fc, grid.frequency, len(times))
    return Series(frame, settings, fc, times, grid.frequency, grid.filled, lags)


def _series_key(row: Any, ids: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(row[c] for c in ids)


def _calendar(stamps: pd.Series) -> pd.DataFrame:
    stamps = pd.to_datetime(stamps)
    return pd.DataFrame(
        {
            "_year": stamps.dt.year,
            "_month": stamps.dt.month,
            "_day": stamps.dt.day,
            "_day_of_week": stamps.dt.day_of_week,
            "_day_of_year": stamps.dt.day_of_year,
            "_hour": stamps.dt.hour,
        },
        index=stamps.index,
    ).astype(float)


def _training_features(series: Series, frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    fc, target = series.fc, series.settings.target_column_name
    ids = list(fc.time_series_id_column_names)
    y = frame[target]
    grouped = y.groupby([frame[c] for c in ids]) if ids else None
    features = frame.drop(columns=[target, fc.time_column_name])
    features = pd.concat([features, _calendar(frame[fc.time_column_name])], axis=1)
    shifted = grouped.shift(1) if grouped is not None else y.shift(1)
    for lag in series.lags:
        features[f"_lag_{lag}"] = grouped.shift(lag) if grouped is not None else y.shift(lag)
    window = _window(fc)
    roll = shifted.groupby([frame[c] for c in ids]) if ids else shifted
    features[f"_rolling_mean_{window}"] = (
        roll.rolling(window, min_periods=1).mean().reset_index(level=list(range(len(ids))), drop=True)
        if ids
        else shifted.rolling(window, min_periods=1).mean()
    )
    usable = features[f"_lag_{max(series.lags)}"].notna() & y.notna()
    return features[usable], y[usable].to_numpy(dtype=float)


def _plans(series: Series, features: pd.DataFrame) -> list[ColumnPlan]:
    user = series.settings.featurization
    types = {c: "categorical" for c in series.fc.time_series_id_column_names}
    types.update({c: "numeric" for c in features.columns if str(c).startswith("_")})
    if user.mode == "custom":
        types.update(user.column_types)
    return plan_columns(
        features,
        FeaturizationSettings(
            "off" if user.mode == "off" else "custom", user.blocked_transformers, types, dict(user.imputers)
        ),
    )


class ForecastModel:
    """A fitted forecaster: the regressor pipeline and the last values of every series.

    ``predict`` takes the future rows (time, ids and the other columns, no target) and returns
    one forecast per row, in the rows' order; a series it never saw starts from no history."""

    def __init__(
        self,
        pipeline: Any,
        fc: ForecastingSettings,
        target: str,
        history: dict[tuple[Any, ...], list[float]],
        columns: list[str],
        plans: list[ColumnPlan] | None = None,
        lags: tuple[int, ...] = (),
    ) -> None:
        self.pipeline = pipeline
        self.fc = fc
        self.target = target
        self.history = history
        self.columns = columns
        self.lags = lags or _lags(fc)
        self.plans = plans or []

    def predict(self, future: pd.DataFrame) -> np.ndarray[Any, Any]:
        fc = self.fc
        ids = fc.time_series_id_column_names
        frame = future.copy()
        if fc.time_column_name not in frame.columns:
            raise InvalidArgument(f"the rows to forecast have no time column {fc.time_column_name!r}")
        frame[fc.time_column_name] = pd.to_datetime(frame[fc.time_column_name], format="mixed")
        frame["_order"] = np.arange(len(frame))
        frame = frame.sort_values([*ids, fc.time_column_name])
        frame["_step"] = frame.groupby(list(ids)).cumcount() if ids else np.arange(len(frame))
        running = {k: list(v) for k, v in self.history.items()}
        out = np.full(len(frame), np.nan)
        # Models pickled before lags were chosen per series have no ``lags``.
        lags, window = getattr(self, "lags", None) or _lags(fc), _window(fc)
        for step in range(int(frame["_step"].max()) + 1 if len(frame) else 0):
            rows = frame[frame["_step"] == step]
            base = rows.drop(columns=["_order", "_step", fc.time_column_name, self.target], errors="ignore")
            feats = pd.concat([base, _calendar(rows[fc.time_column_name])], axis=1)
            keys = [tuple(r) for r in rows[list(ids)].itertuples(index=False)] if ids else [()] * len(rows)
            for lag in lags:
                feats[f"_lag_{lag}"] = [
                    running.get(k, [])[-lag] if len(running.get(k, [])) >= lag else np.nan for k in keys
                ]
            feats[f"_rolling_mean_{window}"] = [
                float(np.mean(running[k][-window:])) if running.get(k) else np.nan for k in keys
            ]
            pred = np.asarray(self.pipeline.predict(feats[self.columns]), dtype=float)
            out[rows["_order"].to_numpy()] = pred
            for k, value in zip(keys, pred, strict=True):
                running.setdefault(k, []).append(float(value))
        return out


def fit_forecaster(series: Series, frame: pd.DataFrame, pipeline_for: Any) -> ForecastModel:
    """Fit on ``frame`` (rows of ``series``); ``pipeline_for(plans)`` builds the unfitted pipeline."""
    features, y = _training_features(series, frame)
    if len(y) < _MIN_TRAIN_ROWS:
        raise InvalidArgument(
            f"too little history to forecast: {len(y)} usable rows once the lags "
            f"{series.lags} are taken; give more rows or smaller target_lags"
        )
    plans = _plans(series, features)
    pipeline = pipeline_for(plans).fit(features, y)
    ids = list(series.fc.time_series_id_column_names)
    depth = max(*series.lags, _window(series.fc))
    target = series.settings.target_column_name
    history: dict[tuple[Any, ...], list[float]] = {}
    groups = frame.groupby(ids, sort=False) if ids else [((), frame)]
    for key, group in groups:
        key_tuple = key if isinstance(key, tuple) else (key,)
        history[key_tuple if ids else ()] = group[target].dropna().to_numpy(dtype=float)[-depth:].tolist()
    return ForecastModel(pipeline, series.fc, target, history, list(features.columns), plans, series.lags)


def rolling_origin(series: Series) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """(train, holdout) frames, the holdout the horizon after each origin."""
    folds = series.settings.n_cross_validations
    k = 3 if folds == "auto" else int(folds)
    h = series.fc.forecast_horizon
    times = series.times
    time_col = series.fc.time_column_name
    out = []
    for i in range(k, 0, -1):
        end = len(times) - h * (i - 1)
        start = end - h
        if start < max(series.lags) + _MIN_TRAIN_ROWS:
            continue
        t = series.frame[time_col]
        out.append(
            (series.frame[t < times[start]], series.frame[(t >= times[start]) & (t <= times[end - 1])])
        )
    if not out:
        raise InvalidArgument(
            f"too little history for rolling-origin validation: {len(times)} time points for a "
            f"forecast_horizon of {h} and lags up to {max(series.lags)}"
        )
    return out


def holdout_importance(series: Series, pipeline_for: Any) -> dict[str, float]:
    """Permutation importance of the model's features (lags, rolling mean, calendar parts, ids,
    the other columns) on the last rolling-origin holdout, its lags taken from the true values,
    with a model fitted on the rows before it."""
    from shipyard.automl.importance import permutation_importance

    train, holdout = rolling_origin(series)[-1]
    model = fit_forecaster(series, train, pipeline_for)
    features, y = _training_features(series, pd.concat([train, holdout]))
    held = features.index.isin(holdout.index)
    settings = series.settings
    return permutation_importance(
        model.pipeline,
        features[held][model.columns],
        y[held],
        task=settings.task,
        metric=settings.primary_metric,
        y_range=float(np.ptp(train[settings.target_column_name].dropna())) or None,
        seed=settings.seed,
    )


def naive_forecast(
    train: pd.DataFrame, holdout: pd.DataFrame, fc: ForecastingSettings, target: str
) -> np.ndarray[Any, Any]:
    """Each series' last training value, repeated: the baseline a forecaster must beat."""
    ids = list(fc.time_series_id_column_names)
    if not ids:
        return np.full(len(holdout), float(train[target].iloc[-1]))
    last = train.groupby(ids)[target].last()
    keys = holdout[ids].itertuples(index=False)
    return np.array([last.get(tuple(k) if len(ids) > 1 else k[0], np.nan) for k in keys], dtype=float)


@dataclass(frozen=True, slots=True)
class FoldForecast:
    """One rolling-origin fold: the true values, the forecast, the training target's range."""

    truth: np.ndarray[Any, Any]
    forecast: np.ndarray[Any, Any]
    span: float | None


def forecast_folds(series: Series, pipeline_for: Any) -> list[FoldForecast]:
    target = series.settings.target_column_name
    out = []
    for train, holdout in rolling_origin(series):
        model = fit_forecaster(series, train, pipeline_for)
        pred = model.predict(holdout.drop(columns=[target]))
        span = float(np.ptp(train[target].dropna())) or None
        out.append(FoldForecast(holdout[target].to_numpy(dtype=float), pred, span))
    return out


def fold_metrics(folds: list[FoldForecast]) -> dict[str, float]:
    """Each fold's metrics, averaged over the folds."""
    per_fold = [regression_metrics(f.truth, f.forecast, f.span) for f in folds]
    return {n: mean_of([m[n] for m in per_fold]) for n in per_fold[0]}


class ForecastEnsemble:
    """The average of several forecasters' forecasts; it predicts like one."""

    def __init__(self, members: list[ForecastModel]) -> None:
        self.members = members
        self.columns = members[0].columns
        self.plans = members[0].plans

    def predict(self, future: pd.DataFrame) -> np.ndarray[Any, Any]:
        return np.asarray(np.mean([m.predict(future) for m in self.members], axis=0), dtype=float)


def run_forecast_trial(
    series: Series, pipeline_for: Any, algorithm: str, params: dict[str, Any], trial: int = 0
) -> Trial:
    began = time.monotonic()
    metrics = fold_metrics(forecast_folds(series, pipeline_for))
    score = metrics.get(series.settings.primary_metric)
    return {
        "trial": trial,
        "algorithm": algorithm,
        "params": dict(params),
        "score": None if score is None or np.isnan(score) else score,
        "metrics": metrics,
        "status": "Completed",
        "duration_s": round(time.monotonic() - began, 3),
    }
