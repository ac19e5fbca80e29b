"""The metrics a ``monitor.yml`` may threshold: which column kind each fits, which way a value
breaches, and Azure ML's defaults — so a user carries thresholds over from Azure unchanged.

A drift test's threshold (``two_sample_kolmogorov_smirnov_test``, ``pearsons_chi_squared_test``)
is a p-value, as in Azure ML: the column drifts when the p-value falls *below* it. Every
distance and rate breaches *above* its threshold; a classification score breaches below.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Literal

__all__ = [
    "CATEGORICAL_DRIFT",
    "CLASSIFICATION",
    "DATA_QUALITY",
    "DEFAULT_THRESHOLDS",
    "NUMERICAL_DRIFT",
    "REGRESSION",
    "SYSTEM",
    "Direction",
    "direction_of",
    "iso_duration",
]

Direction = Literal["above", "below"]

NUMERICAL_DRIFT = (
    "normalized_wasserstein_distance",
    "jensen_shannon_distance",
    "population_stability_index",
    "two_sample_kolmogorov_smirnov_test",
)
CATEGORICAL_DRIFT = ("jensen_shannon_distance", "population_stability_index", "pearsons_chi_squared_test")
DATA_QUALITY = ("null_value_rate", "data_type_error_rate", "out_of_bounds_rate")
CLASSIFICATION = ("accuracy", "precision", "recall", "f1_score")
REGRESSION = ("mae", "mse", "rmse")
# Shipyard's system signal: what the scoring path already counts for a deployment.
SYSTEM = ("request_rate", "latency_p50_ms", "latency_p99_ms", "error_rate", "cpu_percent", "memory_mb")

# p-values and scores where higher is better; a traffic drop is what request_rate watches for.
_BELOW = frozenset(
    {"two_sample_kolmogorov_smirnov_test", "pearsons_chi_squared_test", *CLASSIFICATION, "request_rate"}
)


DEFAULT_THRESHOLDS: Mapping[str, float] = MappingProxyType(
    {
        # Azure ML's own defaults (azure-ai-ml's *_get_default_thresholds): a signal that names
        # no metric computes these, with these thresholds.
        "normalized_wasserstein_distance": 0.1,
        "jensen_shannon_distance": 0.1,
        "null_value_rate": 0.0,
        "data_type_error_rate": 0.0,
        "out_of_bounds_rate": 0.0,
        # Azure publishes none for these; Shipyard's choices, for a metric named without a
        # threshold: PSI 0.1 is the usual "some shift" line; p-values the usual 5 %.
        "population_stability_index": 0.1,
        "two_sample_kolmogorov_smirnov_test": 0.05,
        "pearsons_chi_squared_test": 0.05,
    }
)
"""The one table of default thresholds: the spec's defaults and ``monitor compare``'s."""


def direction_of(metric: str) -> Direction:
    """Whether ``metric`` breaches when its value is above or below the threshold."""
    return "below" if metric in _BELOW else "above"


_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


def iso_duration(value: str) -> timedelta:
    """``P7D``, ``PT12H``, ``P1W``… as a timedelta; ValueError saying how to write one otherwise.

    Years and months are refused: their length varies, and a monitoring window must not."""
    text = value.strip().upper()
    match = _DURATION.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(
            f"{value!r} is not an ISO 8601 duration in weeks, days, hours, minutes or seconds;"
            " write e.g. 'P7D' (7 days), 'PT12H' (12 hours) or 'P1DT6H'"
        )
    parts = {k: int(v) for k, v in match.groupdict().items() if v is not None}
    return timedelta(**parts)
