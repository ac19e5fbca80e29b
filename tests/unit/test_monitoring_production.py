"""Reading collected production data back: real Parquet written by the real DataCollector
into a real local artifact store, every body format the workers accept, bad rows counted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from shipyard.errors import InvalidArgument
from shipyard.services.data_collection import CollectedRow, DataCollector
from shipyard.services.monitoring.production import (
    ReadStats,
    collected_batches,
    collected_table,
    hour_prefixes,
    window_of,
)
from shipyard.stores.artifacts.local import LocalArtifactStore

HOUR = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00Z
COLS = ["a", "b"]


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts")


@pytest.fixture
def collector(store: LocalArtifactStore) -> Iterator[DataCollector]:
    made = DataCollector(store, flush_s=60)
    made.start()
    yield made
    made.stop()


def put(
    collector: DataCollector,
    collection: str,
    request_id: str,
    at: int,
    data: Any,
    *,
    deployment: str = "blue",
    row: int | None = None,
) -> None:
    text = data.decode() if isinstance(data, bytes) else json.dumps(data)  # bytes: sent as is
    collector.collect(CollectedRow("default", "credit", deployment, collection, request_id, at, text, row))


def read(
    store: LocalArtifactStore, collection: Any, start: int = T0, end: int = T0 + 48 * HOUR, **kw: Any
) -> pa.Table:
    return collected_table(store, "default", "credit", "blue", collection, start, end, **kw)


def test_every_input_format_becomes_one_row_per_instance(
    store: LocalArtifactStore, collector: DataCollector
) -> None:
    bodies = {
        "split-azure": {"input_data": {"columns": COLS, "index": [0, 1], "data": [[1, "x"], [2, "y"]]}},
        "split-mlflow": {"dataframe_split": {"columns": COLS, "data": [[3, "z"]]}},
        "records-mlflow": {"dataframe_records": [{"a": 4, "b": "w"}, {"a": 5, "b": "v"}]},
        "records-azure": {"input_data": [{"a": 6, "b": "u"}]},
        "columns": {"inputs": {"a": [7, 8], "b": ["t", "s"]}},
        "instances-records": {"instances": [{"a": 9, "b": "r"}]},
    }
    for i, (request_id, body) in enumerate(bodies.items()):
        put(collector, "model_inputs", request_id, T0 + i, body)
    collector.flush()
    table = read(store, "model_inputs")
    assert table.column_names == ["request_id", "timestamp", "row", "a", "b"]
    assert table.schema.field("a").type == pa.float64() and table.schema.field("b").type == pa.string()
    got = sorted(
        zip(
            table["request_id"].to_pylist(),
            table["row"].to_pylist(),
            table["a"].to_pylist(),
            table["b"].to_pylist(),
            strict=True,
        )
    )
    assert got == [
        ("columns", 0, 7.0, "t"),
        ("columns", 1, 8.0, "s"),
        ("instances-records", 0, 9.0, "r"),
        ("records-azure", 0, 6.0, "u"),
        ("records-mlflow", 0, 4.0, "w"),
        ("records-mlflow", 1, 5.0, "v"),
        ("split-azure", 0, 1.0, "x"),
        ("split-azure", 1, 2.0, "y"),
        ("split-mlflow", 0, 3.0, "z"),
    ]


def test_rows_without_column_names_take_the_given_names_or_their_positions(
    store: LocalArtifactStore, collector: DataCollector
) -> None:
    put(collector, "model_inputs", "r1", T0, {"input_data": [[1.5, 2.5]]})
    put(collector, "model_inputs", "r2", T0 + 1, {"instances": [[3.5, 4.5]]})
    collector.flush()
    assert read(store, "model_inputs").column_names == ["request_id", "timestamp", "row", "0", "1"]
    named = read(store, "model_inputs", columns=["x1", "x2"])
    assert named["x2"].to_pylist() == [2.5, 4.5]


def test_outputs_azure_list_mlflow_predictions_records_and_probabilities(
    store: LocalArtifactStore, collector: DataCollector
) -> None:
    put(collector, "model_outputs", "list", T0, [0, 1])
    put(collector, "model_outputs", "mlflow", T0 + 1, {"predictions": [2]})
    collector.flush()
    table = read(store, "model_outputs")
    assert table.column_names == ["request_id", "timestamp", "row", "prediction"]
    assert sorted(
        zip(
            table["request_id"].to_pylist(),
            table["row"].to_pylist(),
            table["prediction"].to_pylist(),
            strict=True,
        )
    ) == [
        ("list", 0, 0.0),
        ("list", 1, 1.0),
        ("mlflow", 0, 2.0),
    ]
    put(
        collector,
        "model_outputs",
        "records",
        T0 + 2 * HOUR,
        {"predictions": [{"label": "yes", "score": 0.9}]},
    )
    put(collector, "model_outputs", "proba", T0 + 2 * HOUR + 1, [[0.2, 0.8]])
    collector.flush()
    later = read(store, "model_outputs", T0 + 2 * HOUR)
    rows = {r["request_id"]: r for r in later.to_pylist()}
    assert rows["records"]["label"] == "yes" and rows["records"]["score"] == 0.9
    assert rows["proba"]["prediction_0"] == 0.2 and rows["proba"]["prediction_1"] == 0.8


def test_only_the_window_is_read_and_only_its_hour_folders_are_listed(
    store: LocalArtifactStore, collector: DataCollector
) -> None:
    for hour in range(5):
        put(collector, "model_outputs", f"h{hour}", T0 + hour * HOUR + 10, [hour])
    collector.flush()
    table = read(store, "model_outputs", T0 + HOUR + 10, T0 + 3 * HOUR + 10)  # [start, end)
    assert sorted(table["request_id"].to_pylist()) == ["h1", "h2"]
    prefixes = hour_prefixes("f", T0 + 23 * HOUR, T0 + 49 * HOUR)
    assert prefixes == ["f/2026/01/01/23/", "f/2026/01/02/", "f/2026/01/03/00/"]
    assert window_of(T0 + 10 * HOUR, 2 * HOUR, HOUR) == (T0 + 7 * HOUR, T0 + 9 * HOUR)


def test_unreadable_requests_are_counted_not_fatal(
    store: LocalArtifactStore, collector: DataCollector
) -> None:
    put(collector, "model_inputs", "ok", T0, {"dataframe_records": [{"a": 1}]})
    put(collector, "model_inputs", "broken", T0 + 1, b"{not json")
    put(collector, "model_inputs", "two-formats", T0 + 2, {"inputs": [[1]], "instances": [[1]]})
    put(collector, "model_inputs", "ragged", T0 + 3, {"inputs": {"a": [1, 2], "b": [1]}})
    collector.flush()
    stats = ReadStats()
    table = read(store, "model_inputs", stats=stats)
    assert table["request_id"].to_pylist() == ["ok"]
    assert stats.requests == 4 and stats.bad_requests == 3 and stats.rows == 1
    assert any("not valid JSON" in e for e in stats.bad_examples)
    assert stats.notes()[0].startswith("3 collected request(s) could not be read")


def test_a_column_keeps_its_type_across_batches_and_mixed_values_are_reported(
    store: LocalArtifactStore, collector: DataCollector
) -> None:
    put(collector, "model_inputs", "r1", T0, {"dataframe_records": [{"a": 1, "b": "x"}]})
    put(collector, "model_inputs", "r2", T0 + HOUR, {"dataframe_records": [{"a": "2.5", "b": 7}]})
    put(
        collector,
        "model_inputs",
        "r3",
        T0 + 2 * HOUR,
        {"dataframe_records": [{"a": "n/a", "b": None, "c": 1}]},
    )
    collector.flush()
    stats = ReadStats()
    batches = list(
        collected_batches(store, "default", "credit", "blue", "model_inputs", T0, T0 + 3 * HOUR, stats=stats)
    )
    assert {b.schema.field("a").type for b in batches} == {pa.float64()}
    assert {b.schema.field("b").type for b in batches} == {pa.string()}
    table = read(store, "model_inputs", T0, T0 + 3 * HOUR)
    by_id = {r["request_id"]: r for r in table.to_pylist()}
    assert by_id["r2"]["a"] == 2.5 and by_id["r2"]["b"] == "7"
    assert by_id["r3"]["a"] is None and by_id["r1"]["c"] is None and by_id["r3"]["c"] == 1.0
    assert stats.mixed == {"a": 2, "b": 1} and stats.types == {"a": "double", "b": "string", "c": "double"}
    assert "column 'a' mixes types: 2 value(s) did not fit double" in stats.notes()


def test_feedback_is_kept_per_endpoint_and_read_with_its_row(
    store: LocalArtifactStore, collector: DataCollector
) -> None:
    put(collector, "feedback", "r1", T0, "no", deployment="blue", row=0)
    put(collector, "feedback", "r1", T0 + 1, "yes", deployment="", row=3)
    put(collector, "feedback", "r2", T0 + 2, True, deployment="green", row=0)
    collector.flush()
    assert list((store.root / "_collected/default/credit/_endpoint/feedback").rglob("*.parquet"))
    table = read(store, "feedback")  # blue's and the unknown deployment's, not green's
    assert table.column_names == ["request_id", "timestamp", "row", "deployment", "ground_truth"]
    assert sorted(
        zip(
            table["request_id"].to_pylist(),
            table["row"].to_pylist(),
            table["ground_truth"].to_pylist(),
            strict=True,
        )
    ) == [("r1", 0, "no"), ("r1", 3, "yes")]
    everything = collected_table(store, "default", "credit", "", "feedback", T0, T0 + HOUR)
    assert everything.num_rows == 3


def test_bad_arguments_and_empty_windows(store: LocalArtifactStore) -> None:
    with pytest.raises(InvalidArgument, match="unknown collection"):
        read(store, "inputs")
    with pytest.raises(InvalidArgument, match="is empty"):
        read(store, "model_inputs", T0, T0)
    with pytest.raises(InvalidArgument, match="positive size"):
        window_of(T0, 0)
    empty = read(store, "model_inputs")
    assert empty.num_rows == 0 and empty.column_names == ["request_id", "timestamp", "row"]
