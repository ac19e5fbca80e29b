"""The end of an AutoML job: refit the best trial — or an ensemble of the best, when it scores
better on the same folds — on all the data, explain it, log it and register it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the dev extra

from shipyard.automl.ensemble import select, voting_model
from shipyard.automl.featurize import ColumnPlan, describe
from shipyard.automl.forecasting import (
    FoldForecast,
    ForecastEnsemble,
    ForecastModel,
    Series,
    fit_forecaster,
    fold_metrics,
    forecast_folds,
    holdout_importance,
    prepare_series,
)
from shipyard.automl.importance import permutation_importance
from shipyard.automl.metrics import regression_metrics, task_metrics
from shipyard.automl.trial import Prepared, evaluate, make_pipeline, prepare, split_target
from shipyard.domain.automl import ALGORITHMS, AutoMLSettings, Trial, is_better
from shipyard.errors import InvalidArgument

__all__ = ["ENSEMBLE_SIZE", "FORECAST_ENSEMBLE_SIZE", "Outcome", "best_trials", "choose_model", "finish"]

ENSEMBLE_SIZE = 5
"""The best this many distinct trials are the ensemble's candidates."""


@dataclass(slots=True)
class Outcome:
    model: Any
    ensemble: bool
    members: list[dict[str, Any]]
    cv_score: float
    best_single_score: float


def best_trials(settings: AutoMLSettings, leaderboard: list[Trial], limit: int) -> list[Trial]:
    """Completed trials with a score, best first, one per (algorithm, params)."""
    done = [t for t in leaderboard if t.get("status") == "Completed" and t.get("score") is not None]
    if not done:
        raise InvalidArgument("no trial of the leaderboard completed with a score: nothing to refit")
    sign = -1.0 if settings.greater_is_better else 1.0
    done.sort(key=lambda t: sign * float(t["score"] or 0.0))
    seen: set[str] = set()
    out: list[Trial] = []
    for row in done:
        key = json.dumps([row["algorithm"], row["params"]], sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out[:limit]


def choose_model(settings: AutoMLSettings, data: Prepared, top: list[Trial]) -> Outcome:
    pipelines = [make_pipeline(settings, data.plans, t["algorithm"], t["params"]) for t in top]
    if not settings.enable_ensembling or len(top) < 2:
        single = evaluate(settings, data, pipelines[0])
        score = single.metrics[settings.primary_metric]
        return Outcome(pipelines[0], False, [_member(top[0], 1)], score, score)
    evaluations = [evaluate(settings, data, p) for p in pipelines]
    rows = evaluations[0].rows
    y = data.y[rows]
    selection = select(
        settings.task, settings.primary_metric, [e.oof for e in evaluations], y, data.classes, data.y_range
    )
    if selection.is_ensemble and is_better(
        settings.primary_metric, settings.task, selection.score, selection.best_single_score
    ):
        model = voting_model(settings.task, pipelines, selection.weights)
        members = [_member(t, w) for t, w in zip(top, selection.weights, strict=True) if w]
        return Outcome(model, True, members, selection.score, selection.best_single_score)
    i = selection.best_single
    return Outcome(
        pipelines[i], False, [_member(top[i], 1)], selection.best_single_score, selection.best_single_score
    )


def _needs(settings: AutoMLSettings, members: Sequence[Mapping[str, Any]]) -> set[str]:
    """The optional packages (lightgbm, xgboost) the model's members need to load."""
    table = ALGORITHMS[settings.task]
    return {need for m in members if (need := table[str(m["algorithm"])].requires) is not None}


def _member(trial: Trial, weight: int) -> dict[str, Any]:
    return {
        "trial": trial["trial"],
        "algorithm": trial["algorithm"],
        "params": trial["params"],
        "weight": weight,
    }


def finish(
    settings: AutoMLSettings,
    train: pd.DataFrame,
    validation: pd.DataFrame | None,
    test: pd.DataFrame | None,
    leaderboard: list[Trial],
    model_name: str,
) -> dict[str, Any]:
    """Refit, log to the active MLflow run and register as ``model_name``; returns the summary."""
    import mlflow

    if settings.task == "forecasting":
        return _finish_forecasting(settings, train, validation, test, leaderboard, model_name)
    from sklearn.base import clone

    from shipyard.automl.model import log_sklearn_model

    data = prepare(settings, train, validation)
    outcome = choose_model(settings, data, best_trials(settings, leaderboard, ENSEMBLE_SIZE))
    model = clone(outcome.model).fit(data.X, data.y)
    if test is not None:
        X_held, y_held = split_target(test, settings, "test")
        held_model = model
        y_held_arr = y_held.to_numpy()
    else:  # the first split's validation rows, with a model fitted without them
        fit_rows, held_rows = data.splits[0]
        held_model = clone(outcome.model).fit(data.X.iloc[fit_rows], data.y[fit_rows])
        X_held, y_held_arr = data.X.iloc[held_rows], data.y[held_rows]
    importance = permutation_importance(
        held_model,
        X_held,
        y_held_arr,
        task=settings.task,
        metric=settings.primary_metric,
        classes=data.classes,
        y_range=data.y_range,
        seed=settings.seed,
    )
    metrics: dict[str, float] = {
        settings.primary_metric: outcome.cv_score,
        "best_single_model_score": outcome.best_single_score,
    }
    metrics.update({f"permutation_importance.{k}": v for k, v in importance.items()})
    if test is not None:
        metrics.update(
            {f"test_{k}": v for k, v in _scores(settings, model, X_held, y_held_arr, data).items()}
        )
    mlflow.log_params(
        {"chosen_model": "VotingEnsemble" if outcome.ensemble else outcome.members[0]["algorithm"]}
    )
    mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
    mlflow.log_dict(describe(data.plans, settings.featurization), "featurization.json")
    mlflow.log_dict(importance, "permutation_importance.json")
    summary = {
        "ensemble": outcome.ensemble,
        "members": outcome.members,
        "score": outcome.cv_score,
        "best_single_score": outcome.best_single_score,
    }
    mlflow.log_dict({"leaderboard": list(leaderboard), "chosen": summary}, "leaderboard.json")
    summary["model_name"] = model_name
    summary["model_version"] = log_sklearn_model(model, data.X, model_name, _needs(settings, outcome.members))
    return summary


def _scores(
    settings: AutoMLSettings, model: Any, X: pd.DataFrame, y: np.ndarray[Any, Any], data: Prepared
) -> dict[str, float]:
    if data.classes:
        proba = np.asarray(model.predict_proba(X), dtype=float)
        pred = np.asarray(model.classes_)[proba.argmax(axis=1)]
        return task_metrics("classification", y, pred, proba, list(model.classes_))
    return task_metrics(settings.task, y, model.predict(X), y_range=data.y_range)


FORECAST_ENSEMBLE_SIZE = 3


def _choose_forecasters(
    settings: AutoMLSettings, series: Series, top: list[Trial]
) -> tuple[list[Trial], float, float]:
    """The trials whose averaged forecasts score best on the rolling-origin folds (greedy,
    equal weights), the ensemble's score and the best single trial's, on the same folds."""
    folds = [forecast_folds(series, _pipeline_for(settings, t)) for t in top]
    metric = settings.primary_metric
    singles = [fold_metrics(f)[metric] for f in folds]
    best = 0
    for i, score in enumerate(singles):
        if is_better(metric, settings.task, score, singles[best]):
            best = i
    chosen, score = [best], singles[best]
    while settings.enable_ensembling:
        trials = {
            i: fold_metrics(_averaged([folds[j] for j in [*chosen, i]]))[metric]
            for i in range(len(top))
            if i not in chosen
        }
        pick = next(iter(sorted(trials, key=lambda i: trials[i], reverse=settings.greater_is_better)), None)
        if pick is None or not is_better(metric, settings.task, trials[pick], score):
            break
        chosen.append(pick)
        score = trials[pick]
    return [top[i] for i in chosen], score, singles[best]


def _averaged(members: list[list[FoldForecast]]) -> list[FoldForecast]:
    return [
        FoldForecast(fold[0].truth, np.mean([f.forecast for f in fold], axis=0), fold[0].span)
        for fold in zip(*members, strict=True)
    ]


def _pipeline_for(settings: AutoMLSettings, trial: Trial) -> Callable[[list[ColumnPlan]], Any]:
    def build(plans: list[ColumnPlan]) -> Any:
        return make_pipeline(settings, plans, trial["algorithm"], trial["params"])

    return build


def _finish_forecasting(
    settings: AutoMLSettings,
    train: pd.DataFrame,
    validation: pd.DataFrame | None,
    test: pd.DataFrame | None,
    leaderboard: list[Trial],
    model_name: str,
) -> dict[str, Any]:
    import mlflow

    from shipyard.automl.model import log_forecaster

    frame = train if validation is None else pd.concat([train, validation], ignore_index=True)
    series = prepare_series(settings, frame)
    top = best_trials(settings, leaderboard, FORECAST_ENSEMBLE_SIZE)
    members, score, best_single = _choose_forecasters(settings, series, top)
    fitted = [fit_forecaster(series, series.frame, _pipeline_for(settings, t)) for t in members]
    forecaster: ForecastModel | ForecastEnsemble = fitted[0] if len(fitted) == 1 else ForecastEnsemble(fitted)
    importance = holdout_importance(series, _pipeline_for(settings, members[0]))
    target = settings.target_column_name
    metrics: dict[str, float] = {settings.primary_metric: score, "best_single_model_score": best_single}
    future = series.frame.drop(columns=[target]).tail(
        settings.forecasting.forecast_horizon if settings.forecasting else 1
    )
    if test is not None:
        test_series = prepare_series(settings, test, "test")
        pred = forecaster.predict(test_series.frame.drop(columns=[target]))
        span = float(np.ptp(series.frame[target].dropna())) or None
        metrics.update(
            {f"test_{k}": v for k, v in regression_metrics(test_series.frame[target], pred, span).items()}
        )
        future = test_series.frame.drop(columns=[target])
    metrics.update({f"permutation_importance.{k}": v for k, v in importance.items()})
    ensemble = len(members) > 1
    mlflow.log_params({"chosen_model": "VotingEnsemble" if ensemble else members[0]["algorithm"]})
    mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
    mlflow.log_params(
        {
            "frequency": series.frequency or "irregular",
            "gaps_filled": series.filled,
            "target_lags": ",".join(map(str, series.lags)),
        }
    )
    mlflow.log_dict(
        {**describe(forecaster.plans, settings.featurization), "frequency": series.frequency,
         "gaps_filled": series.filled, "target_lags": list(series.lags)},
        "featurization.json",
    )  # fmt: skip
    mlflow.log_dict(importance, "permutation_importance.json")
    summary: dict[str, Any] = {
        "ensemble": ensemble,
        "members": [_member(t, 1) for t in members],
        "score": score,
        "best_single_score": best_single,
    }
    mlflow.log_dict({"leaderboard": list(leaderboard), "chosen": summary}, "leaderboard.json")
    summary["model_name"] = model_name
    summary["model_version"] = log_forecaster(forecaster, future, model_name, _needs(settings, members))
    return summary
