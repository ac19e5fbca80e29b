"""Featurisation: what each column is taken for, and the transformer that encodes it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard.automl.featurize import build_preprocessor, describe, plan_columns
from shipyard.domain.automl import FeaturizationSettings
from shipyard.errors import InvalidArgument


def _mixed(rows: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "row_id": np.arange(rows),
            "customer": [f"c{i:04d}" for i in range(rows)],
            "age": rng.integers(18, 80, rows).astype(float),
            "plan": rng.choice(["basic", "pro", "team"], rows),
            "city": [f"city{i % 35}" for i in range(rows)],
            "signed_up": pd.date_range("2023-01-01", periods=rows, freq="D").strftime("%Y-%m-%d"),
            "note": [f"called about the {w} plan twice" for w in rng.choice(["pro", "basic"], rows)],
            "country": ["NL"] * rows,
            "active": rng.choice([True, False], rows),
        }
    )
    frame.loc[[1, 5], "age"] = np.nan
    frame.loc[[2, 7], "plan"] = None
    frame.loc[3, "signed_up"] = None
    return frame


def _kinds(frame: pd.DataFrame, settings: FeaturizationSettings | None = None) -> dict[str, str]:
    plans = plan_columns(frame, settings or FeaturizationSettings())
    return {p.name: p.kind if p.kind != "categorical" else p.encoder for p in plans}


def test_auto_mode_infers_each_columns_kind() -> None:
    assert _kinds(_mixed()) == {
        "row_id": "dropped",
        "customer": "dropped",
        "age": "numeric",
        "plan": "OneHotEncoder",
        "city": "LabelEncoder",  # 35 distinct values: past the one-hot limit
        "signed_up": "datetime",
        "note": "text",
        "country": "dropped",
        "active": "OneHotEncoder",
    }


def test_integers_named_as_ids_are_dropped_other_distinct_integers_kept() -> None:
    rng = np.random.default_rng(0)
    numbers = rng.choice(1_000_000, 40, replace=False)
    names = ["customer_id", "CustomerID", "orderId", "id", "income", "paid", "valid"]
    frame = pd.DataFrame({name: numbers for name in names})
    assert _kinds(frame) == {
        "customer_id": "dropped",
        "CustomerID": "dropped",
        "orderId": "dropped",
        "id": "dropped",
        "income": "numeric",
        "paid": "numeric",
        "valid": "numeric",
    }


def test_the_preprocessor_fills_missing_values_and_expands_dates() -> None:
    frame = _mixed()
    plans = plan_columns(frame, FeaturizationSettings())
    out = build_preprocessor(plans).fit(frame).transform(frame)
    assert out.shape[0] == len(frame)
    assert not np.isnan(out).any()
    described = describe(plans, FeaturizationSettings())
    by_name = {c["name"]: c for c in described["columns"]}
    assert by_name["age"]["imputer"] == "mean"
    assert "id-like" in by_name["customer"]["reason"]
    assert "constant" in by_name["country"]["reason"]
    # Unseen categories at prediction time are not an error.
    new = frame.head(3).assign(plan="enterprise", city="elsewhere")
    assert build_preprocessor(plans).fit(frame).transform(new).shape[0] == 3


def test_custom_mode_honours_declared_types_imputers_and_blocked_transformers() -> None:
    settings = FeaturizationSettings(
        mode="custom",
        blocked_transformers=("OneHotEncoder", "TfIdf"),
        column_types={"age": "categorical", "row_id": "numeric"},
        imputers={"row_id": "median"},
    )
    plans = {p.name: p for p in plan_columns(_mixed(), settings)}
    assert plans["age"].encoder == "LabelEncoder"  # categorical, one-hot blocked
    assert plans["plan"].encoder == "LabelEncoder"
    assert (plans["row_id"].kind, plans["row_id"].imputer) == ("numeric", "median")
    assert plans["note"].kind == "dropped"
    # Azure's behaviour: overrides count in custom mode only.
    auto = {
        p.name: p for p in plan_columns(_mixed(), FeaturizationSettings(column_types={"age": "categorical"}))
    }
    assert auto["age"].kind == "numeric"


def test_off_mode_drops_nothing_and_codes_text() -> None:
    kinds = _kinds(_mixed(), FeaturizationSettings(mode="off"))
    assert "dropped" not in kinds.values()
    assert kinds["plan"] == "LabelEncoder"
    assert kinds["age"] == "numeric"


def test_a_table_with_nothing_usable_is_refused() -> None:
    frame = pd.DataFrame({"same": [1] * 30, "id": [f"x{i}" for i in range(30)]})
    with pytest.raises(InvalidArgument, match="no usable feature column") as caught:
        plan_columns(frame, FeaturizationSettings())
    assert caught.value.code == "INVALID_ARGUMENT"
    assert "same: constant" in caught.value.message
