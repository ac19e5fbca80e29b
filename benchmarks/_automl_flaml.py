"""FLAML's side of benchmarks/automl.py, run by FLAML's own venv (``.bench/anchors/flaml-venv``).

    python _automl_flaml.py job.json

``job.json``: ``task`` (classification | regression | forecasting), ``train`` and ``test``
(CSV paths; the test file has no target), ``target``, ``budget_s``, ``metric`` (FLAML's name),
``seed``; for forecasting ``time_column``, ``series_column`` and ``horizon``. Writes
``out`` (JSON): the test predictions in the test file's row order, the fit's seconds and the
best estimator. Nothing of Shipyard's is imported: this venv has only FLAML and its extras.

Forecasting: FLAML's ``ts_forecast`` takes one series (it holds out the last ``period`` rows
of the frame, whatever series they belong to), so each series is fitted on its own with an
equal share of the budget; the estimators are the lag-feature regressors FLAML picks by
default less ARIMA/SARIMAX (statsmodels is not part of ``flaml[automl]``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from flaml import AutoML

TS_ESTIMATORS = ["lgbm", "rf", "xgboost", "extra_tree", "xgb_limitdepth"]


def _fit_tabular(job: dict[str, Any], train: pd.DataFrame, test: pd.DataFrame) -> dict[str, Any]:
    automl = AutoML()
    X, y = train.drop(columns=[job["target"]]), train[job["target"]]
    automl.fit(
        X_train=X,
        y_train=y,
        task=job["task"],
        time_budget=job["budget_s"],
        metric=job["metric"],
        seed=job["seed"],
        verbose=0,
    )
    predictions = automl.predict(test[X.columns])
    return {"predictions": [p.item() if hasattr(p, "item") else p for p in predictions],
            "best": [automl.best_estimator]}  # fmt: skip


def _fit_forecasting(job: dict[str, Any], train: pd.DataFrame, test: pd.DataFrame) -> dict[str, Any]:
    time_col, series_col, target = job["time_column"], job["series_column"], job["target"]
    series = sorted(train[series_col].unique())
    share = job["budget_s"] / len(series)
    out = pd.Series(float("nan"), index=test.index)
    best = []
    for key in series:
        rows = train[train[series_col] == key].sort_values(time_col)
        X = pd.DataFrame({time_col: pd.to_datetime(rows[time_col])})
        automl = AutoML()
        automl.fit(
            X_train=X,
            y_train=rows[target].to_numpy(),
            task="ts_forecast",
            period=job["horizon"],
            time_budget=share,
            metric=job["metric"],
            estimator_list=TS_ESTIMATORS,
            seed=job["seed"],
            verbose=0,
        )
        future = test[test[series_col] == key].sort_values(time_col)
        predicted = automl.predict(pd.DataFrame({time_col: pd.to_datetime(future[time_col])}))
        out.loc[future.index] = list(pd.Series(predicted).astype(float))
        best.append(automl.best_estimator)
    return {"predictions": [float(v) for v in out], "best": best}


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    train, test = pd.read_csv(job["train"]), pd.read_csv(job["test"])
    start = time.perf_counter()
    fit = _fit_forecasting if job["task"] == "forecasting" else _fit_tabular
    result = fit(job, train, test)
    result["fit_s"] = time.perf_counter() - start
    Path(job["out"]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
