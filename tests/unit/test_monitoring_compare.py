"""``compare``: two Parquet files (or tables) in, the issue's JSON verdicts out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from shipyard.errors import InvalidArgument  # noqa: E402
from shipyard.services.monitoring.compare import compare  # noqa: E402


def frame(
    rows: int, *, shift: float = 0.0, seed: int = 0, colours: tuple[float, ...] = (0.5, 0.3, 0.2)
) -> Any:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "age": rng.normal(40 + shift, 10, rows),
            "income": rng.lognormal(10, 0.5, rows),
            "colour": rng.choice(np.array(["red", "green", "blue"]), rows, p=list(colours)),
            "label": rng.integers(0, 2, rows),
        }
    )


def write(table: Any, path: Path, *, row_group_size: int = 1000) -> Path:
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def by_column(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["column"]: row for row in result["columns"]}


def test_drift_is_found_on_exactly_the_shifted_columns(tmp_path: Path) -> None:
    reference = write(frame(5000, seed=1), tmp_path / "ref.parquet")
    current = write(frame(4000, seed=2, shift=8.0, colours=(0.2, 0.3, 0.5)), tmp_path / "cur.parquet")
    result = compare(reference, current, target="label", chunk_rows=700)
    json.dumps(result)  # the CLI prints it as is
    rows = by_column(result)
    assert {name: row["drifted"] for name, row in rows.items()} == {
        "age": True,
        "income": False,
        "colour": True,
        "label": False,
    }
    assert rows["age"]["metric"] == "normalized_wasserstein_distance" and rows["age"]["type"] == "numerical"
    assert rows["colour"]["metric"] == "jensen_shannon_distance" and rows["colour"]["type"] == "categorical"
    assert rows["age"]["threshold"] == 0.1
    assert result["drifted_share"] == pytest.approx(2 / 3)  # age and colour of 3 features


def test_the_same_distribution_does_not_drift_and_tables_work_too() -> None:
    result = compare(frame(5000, seed=1), frame(5000, seed=2))
    assert result["drifted_share"] == 0.0
    assert not any(row["drifted"] for row in result["columns"])


def test_chunking_does_not_change_the_answer(tmp_path: Path) -> None:
    reference = frame(3000, seed=1)
    current = write(frame(3000, seed=3, shift=1.0), tmp_path / "cur.parquet", row_group_size=333)
    assert compare(reference, current, chunk_rows=50) == compare(reference, current, chunk_rows=100_000)


def test_chosen_metrics_and_thresholds_per_column_type(tmp_path: Path) -> None:
    chosen = {
        "numerical": {"two_sample_kolmogorov_smirnov_test": 0.01, "null_value_rate": None},
        "categorical": {"pearsons_chi_squared_test": None, "out_of_bounds_rate": 0.5},
    }
    current = frame(2000, seed=2).set_column(2, "colour", pa.array(["purple"] * 2000))
    rows = compare(frame(2000, seed=1), current, metrics=chosen)["columns"]
    got = {(row["column"], row["metric"]): (row["threshold"], row["drifted"]) for row in rows}
    assert got[("age", "two_sample_kolmogorov_smirnov_test")] == (0.01, False)
    assert got[("age", "null_value_rate")] == (0.0, False)
    assert got[("colour", "out_of_bounds_rate")] == (0.5, True)
    assert got[("colour", "pearsons_chi_squared_test")] == (0.05, True)


def test_nulls_and_wrong_types_show_in_data_quality() -> None:
    reference = pa.table({"x": [1.0, 2.0, 3.0, 4.0]})
    current = pa.table({"x": pa.array(["1.5", None, "abc", "2"])})  # text where numbers were
    quality = {"numerical": {"null_value_rate": None, "data_type_error_rate": None}}
    rows = compare(reference, current, metrics=quality)["columns"]
    assert [(row["metric"], row["value"], row["drifted"]) for row in rows] == [
        ("null_value_rate", 0.25, True),
        ("data_type_error_rate", 0.75, True),
    ]


# -- bad input: each a clear message ----------------------------------------------------------


def test_different_columns_are_named(tmp_path: Path) -> None:
    reference = frame(100)
    current = frame(100).drop_columns(["income"]).append_column("city", pa.array(["x"] * 100))
    with pytest.raises(InvalidArgument, match=r"lacks 'income'; it has 'city', which the reference does not"):
        compare(reference, current)


def test_empty_windows_are_refused(tmp_path: Path) -> None:
    empty = frame(10).slice(0, 0)
    with pytest.raises(InvalidArgument, match="the reference has no rows"):
        compare(empty, frame(10))
    with pytest.raises(InvalidArgument, match="the current window has no rows"):
        compare(frame(10), write(empty, tmp_path / "empty.parquet"))


def test_all_null_columns_are_refused() -> None:
    reference = pa.table({"x": pa.array([None, None], type=pa.float64())})
    with pytest.raises(InvalidArgument, match="'x' is null in every reference row"):
        compare(reference, reference)
    current = pa.table({"x": pa.array([None, None], type=pa.float64())})
    with pytest.raises(InvalidArgument, match=r"'x' is null .* in every row of the current window"):
        compare(pa.table({"x": [1.0, 2.0]}), current)


def test_a_metric_that_does_not_fit_the_type_is_refused() -> None:
    with pytest.raises(
        InvalidArgument, match="'pearsons_chi_squared_test' does not apply to numerical columns"
    ):
        compare(frame(10), frame(10), metrics={"numerical": {"pearsons_chi_squared_test": None}})
    with pytest.raises(InvalidArgument, match="per column type 'numerical' or 'categorical', not 'text'"):
        compare(frame(10), frame(10), metrics={"text": {"jensen_shannon_distance": None}})
    with pytest.raises(InvalidArgument, match="must be a number ≥ 0"):
        compare(frame(10), frame(10), metrics={"categorical": {"jensen_shannon_distance": -1.0}})


def test_other_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="target column 'y' is not among the columns"):
        compare(frame(10), frame(10), target="y")
    with pytest.raises(InvalidArgument, match=r"reference file .*nope.parquet does not exist"):
        compare(tmp_path / "nope.parquet", frame(10))
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(InvalidArgument, match=r"current window .*bad.parquet is not a readable Parquet file"):
        compare(frame(10), tmp_path / "bad.parquet")
    with pytest.raises(InvalidArgument, match="column 'when' has type timestamp"):
        when = pa.table({"when": pa.array([0, 1], type=pa.timestamp("ms"))})
        compare(when, when)


def test_histograms_are_added_on_request_only() -> None:
    reference = frame(2000, seed=1)
    current = frame(1500, seed=2).set_column(2, "colour", pa.array(["red"] * 1000 + ["purple"] * 500))
    assert set(compare(reference, current)) == {"columns", "drifted_share"}
    result = compare(reference, current, histograms=True)
    assert {k: v for k, v in result.items() if k != "histograms"} == compare(reference, current)
    age = result["histograms"]["age"]
    assert age["kind"] == "numerical"
    assert len(age["reference"]) == len(age["current"]) == len(age["edges"]) + 1
    assert sum(age["reference"]) == 2000 and sum(age["current"]) == 1500
    assert age["minimum"] <= min(age["edges"]) and age["maximum"] >= max(age["edges"])
    colour = result["histograms"]["colour"]
    assert colour["kind"] == "categorical" and colour["categories"] == ["blue", "green", "red"]
    assert colour["current"] == [0, 0, 1000] and colour["unseen"] == 500
    assert sum(colour["reference"]) == 2000
    json.dumps(result)
