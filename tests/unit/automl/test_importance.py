"""Permutation importance ranks the column the target depends on first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard.automl import importance
from shipyard.automl.featurize import plan_columns
from shipyard.automl.trial import make_pipeline
from shipyard.domain.automl import AutoMLSettings, FeaturizationSettings


@pytest.mark.parametrize("rows", [300, 2_000])
def test_the_column_that_decides_the_target_ranks_first(rows: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importance, "MAX_ROWS", 500)  # the larger table is sampled
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "signal": rng.normal(size=rows),
            "noise": rng.normal(size=rows),
            "colour": rng.choice(["r", "g"], rows),
        }
    )
    y = X["signal"] * 3 + rng.normal(0, 0.1, rows)
    settings = AutoMLSettings(task="regression", target_column_name="y", primary_metric="r2_score")
    model = make_pipeline(settings, plan_columns(X, FeaturizationSettings()), "ElasticNet", {"alpha": 0.001})
    model.fit(X, y)
    ranked = importance.permutation_importance(model, X, y.to_numpy(), task="regression", metric="r2_score")
    assert next(iter(ranked)) == "signal"
    assert ranked["signal"] > 1.0  # r2 drops from ~1 to below 0
    assert abs(ranked["noise"]) < 0.05


def test_an_error_metric_counts_a_rise_as_importance() -> None:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"signal": rng.normal(size=200), "noise": rng.normal(size=200)})
    y = X["signal"].to_numpy() * 2
    settings = AutoMLSettings(task="regression", target_column_name="y")
    model = make_pipeline(settings, plan_columns(X, FeaturizationSettings()), "ElasticNet", {"alpha": 0.001})
    model.fit(X, y)
    ranked = importance.permutation_importance(
        model, X, y, task="regression", metric="normalized_root_mean_squared_error"
    )
    assert ranked["signal"] > 0 and next(iter(ranked)) == "signal"
