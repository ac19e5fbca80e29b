"""NPMI of two trace filters: the values MLflow's own implementation gives for the same
counts (its module is the reference; the mlflow client ships it)."""

from __future__ import annotations

import math

import pytest
from mlflow.store.analytics.trace_correlation import calculate_npmi_from_counts

from shipyard.domain.trace_correlation import correlation


@pytest.mark.parametrize(
    ("joint", "first", "second", "total"),
    [
        (10, 20, 15, 100),
        (0, 5, 5, 10),
        (5, 5, 5, 5),
        (3, 3, 10, 10),
        (0, 0, 5, 10),
        (1, 2, 2, 0),
        (4, 4, 4, 100),
    ],
)
def test_same_values_as_mlflow(joint: int, first: int, second: int, total: int) -> None:
    ours = correlation(joint, first, second, total)
    theirs = calculate_npmi_from_counts(joint, first, second, total)
    for got, want in ((ours.npmi, theirs.npmi), (ours.npmi_smoothed, theirs.npmi_smoothed)):
        assert (math.isnan(got) and want is not None and math.isnan(want)) or got == pytest.approx(want)
    assert (ours.joint_count, ours.filter1_count, ours.filter2_count, ours.total_count) == (
        joint,
        first,
        second,
        total,
    )
