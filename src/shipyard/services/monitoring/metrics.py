"""Azure ML's drift and data-quality metrics, computed on a profile and a counter.

Distances (normalized Wasserstein, Jensen-Shannon, PSI) drift when *above* their threshold;
the tests (two-sample Kolmogorov-Smirnov, Pearson's chi-squared) report a p-value, which
drifts when *below* it; the data-quality rates drift when above. Thresholds default as in
Azure ML so a user's monitor files carry over (:data:`DEFAULT_THRESHOLDS`).

The histogram functions take count vectors over the same bins or categories and are plain
arithmetic, tested against scipy; :func:`measure` picks the right one for a column.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

# scipy ships no type stubs (a core dependency all the same, for Optuna's Sobol sampler).
from scipy import stats
from scipy.spatial import distance

from shipyard.errors import InvalidArgument
from shipyard.services.monitoring.profile import (
    CategoricalProfile,
    ColumnCounter,
    NumericalProfile,
    Profile,
)

__all__ = [
    "CATEGORICAL_METRICS",
    "DATA_QUALITY_METRICS",
    "DEFAULT_THRESHOLDS",
    "NUMERICAL_METRICS",
    "PSI_FLOOR",
    "P_VALUE_METRICS",
    "breaches",
    "data_type_error_rate",
    "jensen_shannon_distance",
    "ks_statistic_bounds",
    "measure",
    "normalized_wasserstein_distance",
    "null_value_rate",
    "out_of_bounds_rate",
    "pearsons_chi_squared_test",
    "population_stability_index",
    "two_sample_kolmogorov_smirnov_test",
    "wasserstein_from_bins",
]

Counts = npt.ArrayLike

DATA_QUALITY_METRICS = ("null_value_rate", "data_type_error_rate", "out_of_bounds_rate")
NUMERICAL_METRICS = (
    "normalized_wasserstein_distance",
    "jensen_shannon_distance",
    "population_stability_index",
    "two_sample_kolmogorov_smirnov_test",
    *DATA_QUALITY_METRICS,
)
CATEGORICAL_METRICS = (
    "jensen_shannon_distance",
    "population_stability_index",
    "pearsons_chi_squared_test",
    *DATA_QUALITY_METRICS,
)
P_VALUE_METRICS = frozenset({"two_sample_kolmogorov_smirnov_test", "pearsons_chi_squared_test"})

DEFAULT_THRESHOLDS: Mapping[str, float] = {
    "normalized_wasserstein_distance": 0.1,
    "jensen_shannon_distance": 0.1,
    "population_stability_index": 0.1,
    "two_sample_kolmogorov_smirnov_test": 0.05,
    "pearsons_chi_squared_test": 0.05,
    "null_value_rate": 0.0,
    "data_type_error_rate": 0.0,
    "out_of_bounds_rate": 0.0,
}

PSI_FLOOR = 1e-4
"""A bin empty on one side would make PSI infinite; its share is taken as this instead."""


def breaches(metric: str, value: float, threshold: float | None = None) -> bool:
    """Whether ``value`` is drift: a p-value below its threshold, anything else above it."""
    if metric not in DEFAULT_THRESHOLDS:
        known = ", ".join(sorted(DEFAULT_THRESHOLDS))
        raise InvalidArgument(f"unknown metric {metric!r}: use one of {known}", field="metric")
    limit = DEFAULT_THRESHOLDS[metric] if threshold is None else threshold
    return bool(value < limit) if metric in P_VALUE_METRICS else bool(value > limit)


def _shares(counts: Counts) -> npt.NDArray[np.float64]:
    array = np.asarray(counts, dtype=np.float64)
    return np.asarray(array / array.sum(), dtype=np.float64)


def jensen_shannon_distance(reference: Counts, current: Counts) -> float:
    """The square root of the JS divergence, base 2 (so within [0, 1]), of two histograms."""
    return float(distance.jensenshannon(_shares(reference), _shares(current), base=2))


def population_stability_index(reference: Counts, current: Counts) -> float:
    """``Σ (c - r) · ln(c / r)`` over the bins' shares, an empty bin counted as :data:`PSI_FLOOR`."""
    r = np.maximum(_shares(reference), PSI_FLOOR)
    c = np.maximum(_shares(current), PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def pearsons_chi_squared_test(reference: Counts, current: Counts) -> float:
    """The p-value of the chi-squared test of independence on the 2-by-k table of counts."""
    table = np.vstack([np.asarray(reference, dtype=np.float64), np.asarray(current, dtype=np.float64)])
    table = table[:, table.sum(axis=0) > 0]  # a category neither side has carries no evidence
    if table.shape[1] < 2:
        return 1.0
    return float(stats.chi2_contingency(table).pvalue)


def ks_statistic_bounds(reference: Counts, current: Counts) -> tuple[float, float]:
    """Bounds on the two-sample KS statistic known only through counts in shared bins.

    The lower bound is the largest CDF gap at a bin edge (both CDFs are known exactly
    there); inside a bin each CDF can only rise from its value at the left edge to its
    value at the right, so no gap inside exceeds the upper bound. The two differ by at most
    the largest share one side puts in one bin: 1/100 for the reference's own quantile bins.
    """
    fr = np.concatenate([[0.0], np.cumsum(_shares(reference))])
    fc = np.concatenate([[0.0], np.cumsum(_shares(current))])
    low = float(np.max(np.abs(fr - fc)))
    high = float(max(np.max(np.abs(fr[1:] - fc[:-1])), np.max(np.abs(fc[1:] - fr[:-1])), low))
    return low, high


def _cdf_knots(
    edges: npt.NDArray[np.float64], counts: npt.NDArray[np.float64], end_means: list[float]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """A piecewise-linear CDF: each bin's values spread evenly across it.

    The open end bins have no outer edge: their mass is spread evenly over the span that
    keeps its mean (``[2·mean - edge, edge]``), which is what the tails contribute to the
    distance; spreading it out to the extreme value instead overstates heavy tails.
    """
    if edges.size == 0:  # one bin: all the mass sits at the mean
        xs = np.array([end_means[0], end_means[0]])
    else:
        xs = np.concatenate([[2 * end_means[0] - edges[0]], edges, [2 * end_means[1] - edges[-1]]])
    return xs, np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])


def _integral_of_abs_linear(d: npt.NDArray[np.float64], widths: npt.NDArray[np.float64]) -> float:
    """∫|d| over segments where d is linear between the given end values (exact, sign changes too)."""
    a, b = d[:-1], d[1:]
    same_sign = a * b >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = (a * a + b * b) / (2 * (np.abs(a) + np.abs(b)))
    per_unit = np.where(same_sign, (np.abs(a) + np.abs(b)) / 2, np.nan_to_num(crossing))
    return float(np.sum(per_unit * widths))


def wasserstein_from_bins(profile: NumericalProfile, counter: ColumnCounter) -> float:
    """The first Wasserstein distance between two histograms on the reference's bins.

    Each side's CDF is taken as linear inside each bin (see :func:`_cdf_knots` for the open
    end bins); the area between the two is then integrated exactly.
    """
    edges = np.asarray(profile.edges, dtype=np.float64)
    xr, fr = _cdf_knots(edges, np.asarray(profile.counts, dtype=np.float64), profile.end_means)
    xc, fc = _cdf_knots(edges, counter.counts, counter.end_means)
    grid = np.union1d(xr, xc)
    gap = np.interp(grid, xr, fr, left=0.0, right=1.0) - np.interp(grid, xc, fc, left=0.0, right=1.0)
    return _integral_of_abs_linear(gap, np.diff(grid))


def normalized_wasserstein_distance(profile: NumericalProfile, counter: ColumnCounter) -> float:
    """Azure ML's definition: the Wasserstein distance over the reference's standard deviation.

    Exact (scipy) while both sides' values are held, from the bins beyond. A constant
    reference has no spread to normalize by: the plain distance is returned then.
    """
    current = counter.sample
    if profile.sample is not None and current is not None:
        raw = float(stats.wasserstein_distance(profile.sample, current))
    else:
        raw = wasserstein_from_bins(profile, counter)
    return raw / profile.std if profile.std > 0 else raw


def two_sample_kolmogorov_smirnov_test(profile: NumericalProfile, counter: ColumnCounter) -> float:
    """The KS test's p-value: exact (scipy) while both sides' values are held.

    Beyond, the statistic is the lower bound of :func:`ks_statistic_bounds` on the shared
    bins, and the p-value is the asymptotic one scipy's ``method="asymp"`` uses.
    """
    current = counter.sample
    if profile.sample is not None and current is not None:
        return float(stats.ks_2samp(profile.sample, current).pvalue)
    statistic, _ = ks_statistic_bounds(profile.counts, counter.counts)
    n, m = sum(profile.counts), counter.present
    return float(stats.kstwo.sf(statistic, round(n * m / (n + m))))


def null_value_rate(counter: ColumnCounter) -> float:
    return counter.nulls / counter.rows


def data_type_error_rate(counter: ColumnCounter) -> float:
    """Non-null values of another type than the reference's (text in a numerical column…)."""
    return counter.type_errors / counter.rows


def out_of_bounds_rate(counter: ColumnCounter) -> float:
    """Values outside the reference's [min, max], or of a category it never had."""
    return counter.out_of_bounds / counter.present if counter.present else 0.0


def _histograms(profile: Profile, counter: ColumnCounter) -> tuple[list[float], list[float]]:
    if isinstance(profile, CategoricalProfile):
        # Categories the reference never had share one extra slot, empty on its side.
        return [*map(float, profile.counts), 0.0], [*counter.counts.tolist(), float(counter.unseen)]
    return list(map(float, profile.counts)), counter.counts.tolist()


def measure(metric: str, profile: Profile, counter: ColumnCounter) -> float:
    """One metric's value for a column; a metric that does not fit its type is refused."""
    allowed = NUMERICAL_METRICS if isinstance(profile, NumericalProfile) else CATEGORICAL_METRICS
    if metric not in allowed:
        raise InvalidArgument(
            f"metric {metric!r} does not apply to a {profile.kind} column: use one of {', '.join(allowed)}",
            field="metric",
        )
    if metric in DATA_QUALITY_METRICS:
        return {"null_value_rate": null_value_rate, "data_type_error_rate": data_type_error_rate}.get(
            metric, out_of_bounds_rate
        )(counter)
    if counter.present == 0:
        raise InvalidArgument(
            f"no value to compare: every row of the current window is null or mistyped ({metric})"
        )
    if isinstance(profile, NumericalProfile) and metric == "normalized_wasserstein_distance":
        return normalized_wasserstein_distance(profile, counter)
    if isinstance(profile, NumericalProfile) and metric == "two_sample_kolmogorov_smirnov_test":
        return two_sample_kolmogorov_smirnov_test(profile, counter)
    reference, current = _histograms(profile, counter)
    if metric == "jensen_shannon_distance":
        return jensen_shannon_distance(reference, current)
    if metric == "population_stability_index":
        return population_stability_index(reference, current)
    return pearsons_chi_squared_test(reference, current)
