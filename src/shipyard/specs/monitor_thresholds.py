"""``metric_thresholds`` of a monitoring signal, in Azure ML's shapes::

    metric_thresholds:          # data_drift, prediction_drift, data_quality
      numerical: {normalized_wasserstein_distance: 0.1}
      categorical: {jensen_shannon_distance: 0.1}
    metric_thresholds:          # model_performance
      classification: {accuracy: 0.9}
      regression: {rmse: 2.5}
    metric_thresholds:          # system (Shipyard's)
      latency_p99_ms: 200

A metric under the wrong heading (a categorical metric under ``numerical:``) is refused by name.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from shipyard.specs._base import StrictModel
from shipyard.specs.monitor_metrics import (
    CATEGORICAL_DRIFT,
    CLASSIFICATION,
    NUMERICAL_DRIFT,
    REGRESSION,
)

__all__ = [
    "CategoricalDrift",
    "ClassificationMetrics",
    "DriftThresholds",
    "NumericalDrift",
    "PerformanceThresholds",
    "QualityMetrics",
    "QualityThresholds",
    "RegressionMetrics",
    "SystemThresholds",
    "Threshold",
    "given",
]


def _number(value: Any) -> Any:
    # YAML's `true` or `"0.1"` is a slip, not a threshold: pydantic would accept both silently.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number; a threshold is a number such as 0.1")
    return value


Threshold = Annotated[float, BeforeValidator(_number), Field(ge=0)]

# Where a metric does belong, to say so when it is written under another heading.
_HOME: dict[str, str] = {
    **{m: "categorical" for m in CATEGORICAL_DRIFT},
    **{m: "numerical" for m in NUMERICAL_DRIFT},
    **{m: "classification" for m in CLASSIFICATION},
    **{m: "regression" for m in REGRESSION},
}


def _misplaced(value: Any, heading: str, allowed: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        for key in value:
            home = _HOME.get(str(key))
            if key not in allowed and home is not None and home != heading:
                raise ValueError(
                    f"{key} is a {home} metric, not a {heading} one: put it under '{home}:'"
                    f" ({heading} takes {', '.join(allowed)})"
                )
    return value


class NumericalDrift(StrictModel):
    normalized_wasserstein_distance: Threshold | None = None
    jensen_shannon_distance: Threshold | None = None
    population_stability_index: Threshold | None = None
    two_sample_kolmogorov_smirnov_test: Threshold | None = None

    @model_validator(mode="before")
    @classmethod
    def _heading(cls, value: Any) -> Any:
        return _misplaced(value, "numerical", NUMERICAL_DRIFT)


class CategoricalDrift(StrictModel):
    jensen_shannon_distance: Threshold | None = None
    population_stability_index: Threshold | None = None
    pearsons_chi_squared_test: Threshold | None = None

    @model_validator(mode="before")
    @classmethod
    def _heading(cls, value: Any) -> Any:
        return _misplaced(value, "categorical", CATEGORICAL_DRIFT)


class DriftThresholds(StrictModel):
    numerical: NumericalDrift | None = None
    categorical: CategoricalDrift | None = None


class QualityMetrics(StrictModel):
    null_value_rate: Threshold | None = None
    data_type_error_rate: Threshold | None = None
    out_of_bounds_rate: Threshold | None = None


class QualityThresholds(StrictModel):
    numerical: QualityMetrics | None = None
    categorical: QualityMetrics | None = None


class ClassificationMetrics(StrictModel):
    accuracy: Threshold | None = None
    precision: Threshold | None = None
    recall: Threshold | None = None
    f1_score: Threshold | None = None

    @model_validator(mode="before")
    @classmethod
    def _heading(cls, value: Any) -> Any:
        return _misplaced(value, "classification", CLASSIFICATION)


class RegressionMetrics(StrictModel):
    mae: Threshold | None = None
    mse: Threshold | None = None
    rmse: Threshold | None = None

    @model_validator(mode="before")
    @classmethod
    def _heading(cls, value: Any) -> Any:
        return _misplaced(value, "regression", REGRESSION)


class PerformanceThresholds(StrictModel):
    classification: ClassificationMetrics | None = None
    regression: RegressionMetrics | None = None


class SystemThresholds(StrictModel):
    request_rate: Threshold | None = None
    latency_p50_ms: Threshold | None = None
    latency_p99_ms: Threshold | None = None
    error_rate: Threshold | None = None
    cpu_percent: Threshold | None = None
    memory_mb: Threshold | None = None


def given(model: StrictModel | None) -> dict[str, float]:
    """The thresholds a heading's model was given (``None`` ones left out)."""
    if model is None:
        return {}
    return {k: v for k, v in model.model_dump().items() if v is not None}
