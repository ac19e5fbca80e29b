"""Small tables for the AutoML engine's tests: scikit-learn's bundled data sets and generated series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).frame


@pytest.fixture(scope="session")
def diabetes() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True).frame


def make_series(stores: int = 3, days: int = 90, seed: int = 0) -> pd.DataFrame:
    """Daily sales per store: a level, a trend, a weekly cycle, promotions and noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(stores):
        for t in range(days):
            promo = int(rng.random() < 0.2)
            sales = 10 + 5 * s + 0.1 * t + 3 * np.sin(2 * np.pi * t / 7) + 2 * promo
            rows.append(
                {
                    "store": f"s{s}",
                    "date": (pd.Timestamp("2024-01-01") + pd.Timedelta(days=t)).strftime("%Y-%m-%d"),
                    "promo": promo,
                    "sales": sales + rng.normal(0, 0.5),
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture
def series() -> pd.DataFrame:
    return make_series()
