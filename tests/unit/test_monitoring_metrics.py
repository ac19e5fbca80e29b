"""Drift and data-quality arithmetic: each metric against scipy or a hand value."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from shipyard.errors import InvalidArgument
from shipyard.services.monitoring import metrics
from shipyard.services.monitoring.profile import (
    EXACT_LIMIT,
    CategoricalProfile,
    ColumnCounter,
    EdgeBinner,
    NumericalProfile,
    as_dict,
    profile_column,
    profile_from_dict,
    sorted_quantiles,
)

RNG_SEED = 14


def numerical(values: np.ndarray, *, binned: bool = False) -> NumericalProfile:
    profile = profile_column("x", values, "numerical")
    assert isinstance(profile, NumericalProfile)
    return dataclasses.replace(profile, sample=None) if binned else profile


def counted(
    profile: NumericalProfile | CategoricalProfile, values: np.ndarray, *, exact_limit: int = 10**9
) -> ColumnCounter:
    counter = ColumnCounter(profile, exact_limit=exact_limit)
    for chunk in np.array_split(values, 7):  # in chunks, as Parquet row groups arrive
        counter.add(chunk)
    return counter


# -- histogram metrics against scipy and hand values ------------------------------------------


def test_jensen_shannon_distance_is_scipys_base_2() -> None:
    r, c = [10, 20, 30, 40], [40, 30, 20, 10]
    assert metrics.jensen_shannon_distance(r, c) == pytest.approx(
        distance.jensenshannon(np.array(r) / 100, np.array(c) / 100, base=2)
    )
    assert metrics.jensen_shannon_distance(r, r) == pytest.approx(0.0, abs=1e-9)
    assert metrics.jensen_shannon_distance([1, 0], [0, 1]) == pytest.approx(1.0)


def test_population_stability_index_by_hand() -> None:
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert metrics.population_stability_index([50, 50], [25, 75]) == pytest.approx(expected)
    # an empty bin is floored, not infinite
    assert math.isfinite(metrics.population_stability_index([100, 0], [50, 50]))


def test_pearsons_chi_squared_is_scipys_contingency_test() -> None:
    r, c = [30, 50, 20, 0], [25, 40, 35, 0]
    assert metrics.pearsons_chi_squared_test(r, c) == pytest.approx(
        stats.chi2_contingency(np.array([r[:3], c[:3]])).pvalue
    )
    assert metrics.pearsons_chi_squared_test([5, 0], [7, 0]) == 1.0  # one category: no evidence


# -- numerical drift: exact and binned ----------------------------------------------------------


def test_normalized_wasserstein_exact_is_scipys_over_the_reference_std() -> None:
    rng = np.random.default_rng(RNG_SEED)
    ref, cur = rng.normal(0, 2, 3000), rng.normal(0.5, 2, 2000)
    value = metrics.normalized_wasserstein_distance(numerical(ref), counted(numerical(ref), cur))
    assert value == pytest.approx(stats.wasserstein_distance(ref, cur) / ref.std())


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.3, 1.0, 4.0])
def test_binned_wasserstein_is_close_to_exact(shift: float) -> None:
    rng = np.random.default_rng(RNG_SEED)
    ref, cur = rng.normal(0, 1, 50_000), rng.normal(shift, 1.2, 40_000)
    profile = numerical(ref, binned=True)
    binned = metrics.normalized_wasserstein_distance(profile, counted(profile, cur, exact_limit=0))
    exact = stats.wasserstein_distance(ref, cur) / ref.std()
    assert binned == pytest.approx(exact, abs=0.005)


@pytest.mark.parametrize(("shift", "scale"), [(0.0, 1.0), (0.02, 1.0), (0.1, 1.0), (0.0, 1.3), (1.0, 0.5)])
def test_binned_ks_statistic_is_within_its_documented_bound_of_exact(shift: float, scale: float) -> None:
    rng = np.random.default_rng(RNG_SEED)
    ref, cur = rng.lognormal(0, 1, 60_000), rng.lognormal(shift, scale, 30_000)
    profile = numerical(ref, binned=True)
    counter = counted(profile, cur, exact_limit=0)
    low, high = metrics.ks_statistic_bounds(profile.counts, counter.counts)
    exact = stats.ks_2samp(ref, cur).statistic
    assert low - 1e-12 <= exact <= high + 1e-12
    largest_bin_share = max(max(profile.counts) / len(ref), counter.counts.max() / len(cur))
    assert high - low <= largest_bin_share + 1e-12
    # in practice the lower bound is much closer than the guarantee (docs/monitoring.md)
    assert exact - low <= 0.005


def test_binned_ks_p_value_is_the_asymptotic_one_and_gives_exacts_verdicts() -> None:
    rng = np.random.default_rng(RNG_SEED)
    ref = rng.normal(0, 1, 40_000)
    for cur, drifted in ((rng.normal(0, 1, 20_000), False), (rng.normal(0.2, 1, 20_000), True)):
        profile = numerical(ref, binned=True)
        counter = counted(profile, cur, exact_limit=0)
        p_binned = metrics.two_sample_kolmogorov_smirnov_test(profile, counter)
        p_exact = stats.ks_2samp(ref, cur, method="asymp").pvalue
        assert metrics.breaches("two_sample_kolmogorov_smirnov_test", p_binned) is drifted
        assert metrics.breaches("two_sample_kolmogorov_smirnov_test", p_exact) is drifted
    low, _ = metrics.ks_statistic_bounds(profile.counts, counter.counts)
    en = round(len(ref) * len(cur) / (len(ref) + len(cur)))
    assert p_binned == pytest.approx(stats.kstwo.sf(low, en))


def test_exact_ks_is_scipys_while_both_sides_are_held() -> None:
    rng = np.random.default_rng(RNG_SEED)
    ref, cur = rng.normal(0, 1, 500), rng.normal(0.3, 1, 400)
    profile = numerical(ref)
    assert metrics.two_sample_kolmogorov_smirnov_test(profile, counted(profile, cur)) == pytest.approx(
        stats.ks_2samp(ref, cur).pvalue
    )


@pytest.mark.parametrize("binned", [False, True])
def test_numerical_metrics_see_no_drift_on_the_same_distribution_and_drift_on_a_shift(binned: bool) -> None:
    rng = np.random.default_rng(RNG_SEED)
    ref = rng.normal(10, 3, 20_000)
    profile = numerical(ref, binned=binned)
    limit = 0 if binned else 10**9
    same, shifted = rng.normal(10, 3, 20_000), rng.normal(11.5, 3, 20_000)
    for metric in metrics.NUMERICAL_METRICS[:4]:
        assert not metrics.breaches(
            metric, metrics.measure(metric, profile, counted(profile, same, exact_limit=limit))
        )
        assert metrics.breaches(
            metric, metrics.measure(metric, profile, counted(profile, shifted, exact_limit=limit))
        )


def test_values_beyond_the_reference_range_land_in_the_open_end_bins() -> None:
    profile = numerical(np.arange(100.0))
    counter = counted(profile, np.array([-1000.0, 50.0, 1e9]))
    assert counter.counts[0] == 1 and counter.counts[-1] == 1 and counter.counts.sum() == 3
    assert metrics.out_of_bounds_rate(counter) == pytest.approx(2 / 3)


def test_the_counter_drops_its_values_past_the_exact_limit() -> None:
    profile = numerical(np.arange(1000.0))
    counter = counted(profile, np.arange(700.0), exact_limit=500)
    assert counter.sample is None
    assert counter.counts.sum() == 700  # the bins still hold everything


def test_a_profile_is_plain_json_and_reads_back() -> None:
    profile = profile_column("x", np.array([1.0, 2.0, np.nan, 4.0]), "numerical")
    assert profile_from_dict(json.loads(json.dumps(as_dict(profile)))) == profile
    categorical = profile_column("c", np.array(["a", None, "b"], dtype=object), "categorical")
    assert profile_from_dict(json.loads(json.dumps(as_dict(categorical)))) == categorical
    with pytest.raises(InvalidArgument, match="not a column profile"):
        profile_from_dict({"kind": "text"})


# -- categorical drift ------------------------------------------------------------------------


def categorical(values: list[object]) -> CategoricalProfile:
    profile = profile_column("c", np.array(values, dtype=object), "categorical")
    assert isinstance(profile, CategoricalProfile)
    return profile


def test_categorical_metrics_no_drift_then_drift() -> None:
    rng = np.random.default_rng(RNG_SEED)
    cats = np.array(["red", "green", "blue"], dtype=object)
    ref = rng.choice(cats, 10_000, p=[0.5, 0.3, 0.2])
    profile = categorical(list(ref))
    same = counted(profile, rng.choice(cats, 10_000, p=[0.5, 0.3, 0.2]))
    moved = counted(profile, rng.choice(cats, 10_000, p=[0.2, 0.3, 0.5]))
    for metric in ("jensen_shannon_distance", "population_stability_index", "pearsons_chi_squared_test"):
        assert not metrics.breaches(metric, metrics.measure(metric, profile, same)), metric
        assert metrics.breaches(metric, metrics.measure(metric, profile, moved)), metric


def test_unseen_categories_count_as_drift_and_out_of_bounds() -> None:
    profile = categorical(["a", "b"] * 50)
    counter = counted(profile, np.array(["a", "b", "zz", "yy"] * 25, dtype=object))
    assert counter.unseen == 50
    assert metrics.out_of_bounds_rate(counter) == pytest.approx(0.5)
    expected = distance.jensenshannon([0.5, 0.5, 0.0], [0.25, 0.25, 0.5], base=2)
    assert metrics.measure("jensen_shannon_distance", profile, counter) == pytest.approx(expected)


# -- data quality -----------------------------------------------------------------------------


def test_data_quality_rates_on_a_numerical_column() -> None:
    profile = numerical(np.array([0.0, 10.0, 5.0]))
    counter = counted(profile, np.array([1.0, None, "oops", 11.0, True, 3, float("nan"), 2.5], dtype=object))
    assert metrics.null_value_rate(counter) == pytest.approx(2 / 8)
    assert metrics.data_type_error_rate(counter) == pytest.approx(2 / 8)  # "oops" and True
    assert metrics.out_of_bounds_rate(counter) == pytest.approx(1 / 4)  # 11.0 of 1, 11, 3, 2.5
    assert metrics.breaches("null_value_rate", metrics.null_value_rate(counter))


def test_data_quality_rates_on_a_categorical_column() -> None:
    profile = categorical(["a", "b", None])
    counter = counted(profile, np.array(["a", 3, None, "c"], dtype=object))
    assert metrics.null_value_rate(counter) == pytest.approx(1 / 4)
    assert metrics.data_type_error_rate(counter) == pytest.approx(1 / 4)
    assert metrics.out_of_bounds_rate(counter) == pytest.approx(1 / 2)


def test_clean_data_does_not_breach_the_quality_defaults() -> None:
    profile = numerical(np.arange(10.0))
    counter = counted(profile, np.arange(10.0))
    for metric in metrics.DATA_QUALITY_METRICS:
        assert not metrics.breaches(metric, metrics.measure(metric, profile, counter))


# -- thresholds and bad input -----------------------------------------------------------------


def test_breach_directions_follow_azure() -> None:
    assert metrics.breaches("normalized_wasserstein_distance", 0.11)
    assert not metrics.breaches("normalized_wasserstein_distance", 0.09)
    assert metrics.breaches("two_sample_kolmogorov_smirnov_test", 0.01)
    assert not metrics.breaches("pearsons_chi_squared_test", 0.2)
    assert metrics.breaches("jensen_shannon_distance", 0.05, threshold=0.01)
    with pytest.raises(InvalidArgument, match="unknown metric 'kl'"):
        metrics.breaches("kl", 1.0)


def test_a_metric_that_does_not_fit_the_column_type_is_refused() -> None:
    profile = categorical(["a", "b"])
    with pytest.raises(
        InvalidArgument, match="'normalized_wasserstein_distance' does not apply to a categorical"
    ):
        metrics.measure(
            "normalized_wasserstein_distance", profile, counted(profile, np.array(["a"], dtype=object))
        )
    profile_n = numerical(np.arange(5.0))
    with pytest.raises(InvalidArgument, match="'pearsons_chi_squared_test' does not apply to a numerical"):
        metrics.measure("pearsons_chi_squared_test", profile_n, counted(profile_n, np.arange(5.0)))


def test_all_null_and_empty_columns_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="null in every reference row"):
        profile_column("x", np.array([np.nan, np.nan]), "numerical")
    with pytest.raises(InvalidArgument, match="null in every reference row"):
        profile_column("c", np.array([None], dtype=object), "categorical")
    with pytest.raises(InvalidArgument, match="reference is empty"):
        profile_column("x", np.array([]), "numerical")
    profile = numerical(np.arange(5.0))
    counter = counted(profile, np.array([np.nan, np.nan]))
    with pytest.raises(InvalidArgument, match="every row of the current window is null"):
        metrics.measure("jensen_shannon_distance", profile, counter)
    assert metrics.measure("null_value_rate", profile, counter) == 1.0


# -- vectorised counting against a plain reference implementation --------------------------------


def _plain_numerical(edges: list[float], values: list[object]) -> tuple[list[int], int, int]:
    """Bin counts, nulls and type errors, one value at a time (what the counter must equal)."""
    counts, nulls, errors = [0] * (len(edges) + 1), 0, 0
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            nulls += 1
        elif isinstance(v, bool) or not isinstance(v, int | float):
            errors += 1
        else:
            counts[sum(1 for e in edges if e <= v)] += 1
    return counts, nulls, errors


def _plain_categorical(profile: CategoricalProfile, values: list[object]) -> tuple[list[int], int, int, int]:
    """Per-category counts, nulls, type errors and unseen values, one value at a time."""
    counts, nulls, errors, unseen = [0] * len(profile.categories), 0, 0, 0
    wanted = (bool, np.bool_) if profile.value_type == "bool" else (str, np.str_)
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            nulls += 1
        elif not isinstance(v, wanted):
            errors += 1
        elif str(v) in profile.categories:
            counts[profile.categories.index(str(v))] += 1
        else:
            unseen += 1
    return counts, nulls, errors, unseen


@pytest.mark.parametrize("law", ["normal", "lognormal", "integers", "spike"])
def test_the_edge_binner_is_searchsorted_exactly(law: str) -> None:
    rng = np.random.default_rng(RNG_SEED)

    def draw(n: int) -> np.ndarray:
        if law == "normal":
            return rng.normal(0, 1, n)
        if law == "lognormal":
            return rng.lognormal(0, 2, n)
        if law == "integers":
            return rng.poisson(3, n).astype(np.float64)
        return np.where(rng.random(n) < 0.5, 0.0, rng.normal(0, 1, n))

    edges = np.array(numerical(draw(20_000)).edges, dtype=np.float64)
    # values on the edges themselves, beyond them, and infinite, as well as fresh draws
    values = np.concatenate(
        [draw(50_000), edges, np.nextafter(edges, -np.inf), [np.inf, -np.inf, 1e300, -1e300]]
    )
    binner = EdgeBinner(edges)
    for chunk in np.array_split(values, 3):
        assert np.array_equal(binner.bins(chunk), np.searchsorted(edges, chunk, side="right"))


def test_sorted_quantiles_are_numpys() -> None:
    ordered = np.sort(np.random.default_rng(RNG_SEED).exponential(2.0, 10_001))
    q = np.linspace(0, 1, 101)
    assert np.array_equal(sorted_quantiles(ordered, q), np.quantile(ordered, q))
    assert np.array_equal(sorted_quantiles(np.array([3.0]), q), np.full(q.size, 3.0))


def test_a_numerical_profile_counts_each_value_in_its_bin() -> None:
    rng = np.random.default_rng(RNG_SEED)
    values = np.concatenate([rng.normal(0, 1, 3000), np.zeros(500), [np.nan] * 7])
    profile = numerical(values)
    kept = values[~np.isnan(values)]
    positions = np.searchsorted(profile.edges, kept, side="right")
    assert profile.counts == np.bincount(positions, minlength=len(profile.edges) + 1).tolist()
    assert profile.nulls == 7
    assert profile.end_means[0] == pytest.approx(kept[positions == 0].mean())
    assert profile.end_means[1] == pytest.approx(kept[positions == len(profile.edges)].mean())


@pytest.mark.parametrize("as_arrow", [False, True])
def test_the_numerical_counter_equals_a_plain_count(as_arrow: bool) -> None:
    pa = pytest.importorskip("pyarrow")
    rng = np.random.default_rng(RNG_SEED)
    profile = numerical(rng.normal(0, 1, 5000), binned=True)
    values: list[object] = [float(v) for v in rng.normal(0.3, 1.5, 4000)] + [None, math.nan] * 20
    values += [float(e) for e in profile.edges[::10]]
    values = [values[i] for i in rng.permutation(len(values))]
    counter = ColumnCounter(profile, exact_limit=100)
    for chunk in np.array_split(np.array(values, dtype=object), 5):
        counter.add(pa.array(chunk.tolist(), type=pa.float64()) if as_arrow else chunk)
    counts, nulls, errors = _plain_numerical(profile.edges, values)
    assert counter.counts.tolist() == counts
    assert (counter.nulls, counter.type_errors, counter.rows) == (nulls, errors, len(values))
    assert counter.sample is None  # past the exact limit


def test_the_numerical_counter_sees_type_errors_in_object_chunks() -> None:
    profile = numerical(np.arange(100.0))
    values: list[object] = [1.5, "7", True, None, 3, math.nan, 250.0, -4]
    counter = ColumnCounter(profile)
    counter.add(np.array(values, dtype=object))
    counts, nulls, errors = _plain_numerical(profile.edges, values)
    assert counter.counts.tolist() == counts
    assert (counter.nulls, counter.type_errors, counter.out_of_bounds) == (nulls, errors, 2)


def _random_words(rng: np.random.Generator, n: int, vocabulary: int) -> list[object]:
    words: list[object] = [f"w{i}" for i in rng.integers(0, vocabulary, n)]
    for i in rng.choice(n, n // 20, replace=False):
        words[i] = None if i % 2 else math.nan
    return words


@pytest.mark.parametrize("form", ["object", "arrow", "chunked", "dictionary"])
def test_the_categorical_counter_equals_a_plain_count(form: str) -> None:
    pa = pytest.importorskip("pyarrow")
    rng = np.random.default_rng(RNG_SEED)
    profile = categorical(_random_words(rng, 3000, 20))
    values = _random_words(rng, 4000, 26)  # w20..w25 never seen in the reference
    counter = ColumnCounter(profile)
    for part in np.array_split(np.array(values, dtype=object), 4):
        if form == "object":
            counter.add(part)
            continue
        array = pa.array(part, from_pandas=True)
        if form == "chunked":
            array = pa.chunked_array([array[:100], array[100:]])
        elif form == "dictionary":
            array = array.dictionary_encode()
        counter.add(array)
    counts, nulls, errors, unseen = _plain_categorical(profile, values)
    assert counter.counts.tolist() == counts
    assert (counter.nulls, counter.type_errors, counter.unseen, counter.out_of_bounds) == (
        nulls,
        errors,
        unseen,
        unseen,
    )
    assert unseen > 0 and nulls > 0


@pytest.mark.parametrize(
    "values",
    [
        [True, False, None, True, np.bool_(True)],  # flags
        ["a", True, None, "b"],  # a flag in a text column: mixed, value by value
        ["a", b"bytes", "c"],  # bytes: pyarrow would read them all as binary
        [1, 2, None],  # numbers in a text column
        ["x", 2.5, math.nan],
    ],
)
def test_odd_categorical_chunks_count_as_the_plain_implementation(values: list[object]) -> None:
    text, flags = categorical(["a", "b", "c"]), categorical([True, False, False])
    for profile in (text, flags):
        counter = ColumnCounter(profile)
        counter.add(np.array(values, dtype=object))
        counts, nulls, errors, unseen = _plain_categorical(profile, values)
        assert counter.counts.tolist() == counts
        assert (counter.nulls, counter.type_errors, counter.unseen) == (nulls, errors, unseen)


def test_numpy_arrays_of_numbers_and_flags_in_categorical_counters() -> None:
    text, flags = categorical(["a", "b"]), categorical([True, False])
    counter = ColumnCounter(text)
    counter.add(np.array([1.0, np.nan, 3.0]))
    assert (counter.nulls, counter.type_errors, counter.present) == (1, 2, 0)
    counter = ColumnCounter(flags)
    counter.add(np.array([True, False, True]))
    assert counter.counts.tolist() == [1, 2]  # categories sorted: "False", "True"
    counter = ColumnCounter(text)
    counter.add(np.array(["a", "z", "a"]))  # a numpy text array
    assert (counter.counts.tolist(), counter.unseen) == ([2, 0], 1)


@pytest.mark.parametrize(
    "values",
    [
        ["b", "a", None, "b", math.nan, "c"],
        [True, None, False, True],
        ["a", True, "b"],  # mixed: profiled as text
        [3, 1, 3],  # numbers: profiled as their text
    ],
)
def test_a_categorical_profile_from_arrow_or_numpy_is_the_plain_one(values: list[object]) -> None:
    pa = pytest.importorskip("pyarrow")
    from_numpy = profile_column("c", np.array(values, dtype=object), "categorical")
    plain = [v for v in values if not (v is None or (isinstance(v, float) and math.isnan(v)))]
    assert isinstance(from_numpy, CategoricalProfile)
    names = sorted({str(v) for v in plain})
    assert from_numpy.categories == names
    assert from_numpy.counts == [sum(1 for v in plain if str(v) == n) for n in names]
    assert from_numpy.nulls == len(values) - len(plain)
    assert from_numpy.value_type == ("bool" if all(isinstance(v, bool) for v in plain) else "string")
    try:
        arrow = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return  # mixed: only numpy can hold it
    assert profile_column("c", arrow, "categorical") == from_numpy


def test_an_all_null_arrow_reference_column_is_refused() -> None:
    pa = pytest.importorskip("pyarrow")
    with pytest.raises(InvalidArgument, match="null in every reference row"):
        profile_column("c", pa.array([None, None], type=pa.string()), "categorical")
    with pytest.raises(InvalidArgument, match="null in every reference row"):
        profile_column("x", pa.array([None, None], type=pa.float64()), "numerical")


def test_a_large_reference_takes_sampled_edges_and_exact_counts() -> None:
    rng = np.random.default_rng(RNG_SEED)
    values = np.concatenate([rng.lognormal(0, 1, EXACT_LIMIT + 20_000), [np.nan] * 3])
    profile = numerical(values)
    kept = values[~np.isnan(values)]
    positions = np.searchsorted(profile.edges, kept, side="right")
    assert profile.counts == np.bincount(positions, minlength=len(profile.edges) + 1).tolist()
    shares = np.asarray(profile.counts) / kept.size
    assert shares.max() < 0.0115 and shares.min() > 0.0085  # about 1 % each, from a sample's quantiles
    assert (profile.minimum, profile.maximum) == (kept.min(), kept.max())
    assert profile.sample is None and profile.nulls == 3
    assert profile.end_means[1] == pytest.approx(kept[positions == len(profile.edges)].mean())
    assert numerical(values) == profile  # the sample's seed is fixed: the same reference, the same profile
