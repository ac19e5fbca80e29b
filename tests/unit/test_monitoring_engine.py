"""The monitor engine over in-memory sources: which signals breach, on which columns, with
which windows — the logic a monitor job runs, without a server. The sources are a test
double of the server's stores (tables in memory); tests/e2e/test_monitor_loop.py runs the same
engine over a real server's collected data."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from shipyard.errors import InvalidArgument
from shipyard.services.monitoring.engine import metric_key, run_monitor
from shipyard.services.monitoring.sources import Collection, MonitorSources, Reference
from shipyard.specs._yaml import validate_spec
from shipyard.specs.monitor import MonitorSpec

HOUR = 3_600_000
NOW = 1_800_000_000_000


def _reference(rows: int = 4000, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "age": rng.normal(40, 10, rows),
            "income": rng.lognormal(10, 0.5, rows),
            "city": rng.choice(["paris", "lyon", "nice"], rows, p=[0.5, 0.3, 0.2]),
            "label": rng.integers(0, 2, rows),
        }
    )


def _production(
    rows: int, *, shift_age: float = 0.0, cities: list[float] | None = None, seed: int = 2
) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "request_id": [f"r{i}" for i in range(rows)],
            "row": np.zeros(rows, dtype=np.int64),
            "timestamp": np.full(rows, NOW - HOUR, dtype=np.int64),
            "age": rng.normal(40 + shift_age, 10, rows),
            "income": rng.lognormal(10, 0.5, rows),
            "city": rng.choice(["paris", "lyon", "nice"], rows, p=cities or [0.5, 0.3, 0.2]),
        }
    )


class Sources(MonitorSources):
    def __init__(
        self, inputs: pa.Table, outputs: pa.Table | None = None, feedback: pa.Table | None = None
    ) -> None:
        self.inputs = inputs
        self.outputs = outputs
        self.feedback = feedback
        self.windows: list[tuple[str, int, int]] = []
        self.profiles: dict[str, Mapping[str, object]] = {}
        self.reference_reads = 0

    def training_data(self, endpoint: str, deployment: str) -> Reference:
        self.reference_reads += 1
        return Reference(_reference(), "credit-train:1", "credit-train:1")

    def asset(self, reference: str) -> Reference:
        if reference != "azureml:ref:1":
            raise InvalidArgument(f"no data asset {reference!r}")
        return Reference(_reference(seed=9), "ref:1", "ref:1")

    def collected(
        self, endpoint: str, deployment: str, collection: Collection, start_ms: int, end_ms: int
    ) -> Iterator[pa.RecordBatch]:
        self.windows.append((collection, start_ms, end_ms))
        table = {"model_inputs": self.inputs, "model_outputs": self.outputs, "feedback": self.feedback}[
            collection
        ]
        return iter(table.to_batches(max_chunksize=1000) if table is not None else [])

    def sql(self, connection: str, query: str, start_ms: int, end_ms: int) -> Iterator[pa.RecordBatch]:
        raise AssertionError("not used here")

    def system(
        self, endpoint: str, deployment: str, start_ms: int, end_ms: int
    ) -> Mapping[str, float | None]:
        return {"request_rate": 12.0, "latency_p99_ms": 250.0, "error_rate": 0.0, "cpu_percent": None}

    def secret(self, name: str) -> str:
        return "s3cret"

    def stored_profile(self, key: str) -> Mapping[str, object] | None:
        return self.profiles.get(key)

    def store_profile(self, key: str, profile: Mapping[str, object]) -> None:
        self.profiles[key] = profile


def _spec(signals: dict[str, Any], task: str = "classification") -> MonitorSpec:
    return validate_spec(
        {
            "name": "credit",
            "trigger": {"type": "recurrence", "frequency": "day", "interval": 1},
            "create_monitor": {
                "monitoring_target": {"ml_task": task, "endpoint_deployment_id": "azureml:credit:blue"},
                "monitoring_signals": signals,
            },
        },
        MonitorSpec,
    )


def _rows(result: dict[str, Any]) -> dict[tuple[str | None, str], dict[str, Any]]:
    return {(r["column"], r["metric"]): r for r in result["rows"]}


def test_drift_on_exactly_the_shifted_feature_and_the_profile_is_kept() -> None:
    sources = Sources(_production(3000, shift_age=8.0))
    spec = _spec({"drift": {"type": "data_drift"}})
    run = run_monitor("credit", spec, sources, now_ms=NOW)
    (drift,) = run.report["signals"]
    assert drift["error"] is None and drift["breached"] and run.breached == ["drift"]
    rows = _rows(drift)
    # the target (label) is in the reference, not in what the model is sent: not a feature
    assert {c for c, _ in rows} == {"age", "income", "city"}
    assert rows[("age", "normalized_wasserstein_distance")]["breached"]
    assert not rows[("income", "normalized_wasserstein_distance")]["breached"]
    assert not rows[("city", "jensen_shannon_distance")]["breached"]
    assert drift["drifted_share"] == pytest.approx(1 / 3)
    assert set(drift["histograms"]) == {"age", "income", "city"}
    assert run.metrics[metric_key("drift", "normalized_wasserstein_distance", "age")] > 0.1
    assert run.metrics["drift/breached"] == 1.0
    # the default window: the week before the run
    assert sources.windows == [("model_inputs", NOW - 7 * 24 * HOUR, NOW)]
    # a second run reads the stored profile, and its window starts where the first ended
    assert list(sources.profiles) == ["credit-train:1"]
    again = run_monitor("credit", spec, Sources(_production(3000)), now_ms=NOW + HOUR, previous_ms=NOW)
    assert not again.breached


def test_thresholds_features_and_an_explicit_reference() -> None:
    sources = Sources(_production(3000, cities=[0.2, 0.3, 0.5]))
    spec = _spec(
        {
            "cities": {
                "type": "data_drift",
                "features": ["city"],
                "reference_data": {"input_data": {"path": "azureml:ref:1"}},
                "metric_thresholds": {"categorical": {"population_stability_index": 0.2}},
            }
        }
    )
    run = run_monitor("credit", spec, sources, now_ms=NOW)
    (signal,) = run.report["signals"]
    assert [(r["column"], r["metric"]) for r in signal["rows"]] == [("city", "population_stability_index")]
    assert signal["breached"] and signal["rows"][0]["threshold"] == 0.2
    assert run.report["reference"] == "ref:1"


def test_one_signal_without_data_does_not_hide_the_others() -> None:
    sources = Sources(_production(2000, shift_age=10.0), outputs=None)
    spec = _spec(
        {
            "drift": {"type": "data_drift"},
            "answers": {
                "type": "prediction_drift",
                "reference_data": {
                    "input_data": {"path": "azureml:ref:1"},
                    "data_column_names": {"target_column": "label"},
                },
            },
        }
    )
    run = run_monitor("credit", spec, sources, now_ms=NOW)
    drift, answers = run.report["signals"]
    assert drift["breached"] and drift["error"] is None
    assert answers["error"] is not None and "no production data" in answers["error"]
    assert "answers/breached" not in run.metrics


def test_prediction_drift_and_model_performance_join_feedback() -> None:
    rows = 1000
    outputs = pa.table(
        {
            "request_id": [f"r{i}" for i in range(rows)],
            "row": np.zeros(rows, dtype=np.int64),
            "timestamp": np.full(rows, NOW - HOUR, dtype=np.int64),
            "prediction": np.ones(rows, dtype=np.int64),  # the model now answers 1 to everyone
        }
    )
    feedback = pa.table(
        {
            "request_id": [f"r{i}" for i in range(rows)] + ["unknown"],
            "row": np.zeros(rows + 1, dtype=np.int64),
            "timestamp": np.full(rows + 1, NOW - HOUR, dtype=np.int64),
            "ground_truth": [i % 2 for i in range(rows)] + [1],
        }
    )
    sources = Sources(_production(rows), outputs=outputs, feedback=feedback)
    spec = _spec(
        {
            "answers": {
                "type": "prediction_drift",
                "reference_data": {
                    "input_data": {"path": "azureml:ref:1"},
                    "data_column_names": {"target_column": "label"},
                },
            },
            "quality": {
                "type": "model_performance",
                "metric_thresholds": {"classification": {"accuracy": 0.8}},
            },
        }
    )
    run = run_monitor("credit", spec, sources, now_ms=NOW)
    answers, quality = run.report["signals"]
    assert answers["breached"] and answers["rows"][0]["column"] == "label"
    assert quality["rows"][0]["metric"] == "accuracy"
    assert quality["rows"][0]["value"] == pytest.approx(0.5) and quality["breached"]
    assert any("1 feedback row" in note for note in quality["notes"])


def test_system_signal_thresholds() -> None:
    spec = _spec({"ops": {"type": "system", "metric_thresholds": {"latency_p99_ms": 200, "request_rate": 1}}})
    run = run_monitor("credit", spec, Sources(_production(10)), now_ms=NOW)
    (ops,) = run.report["signals"]
    rows = {r["metric"]: r for r in ops["rows"]}
    assert rows["latency_p99_ms"]["breached"] and not rows["request_rate"]["breached"]
    assert run.breached == ["ops"]


def test_bad_feature_names_and_columns_say_which() -> None:
    spec = _spec({"drift": {"type": "data_drift", "features": ["age", "height"]}})
    run = run_monitor("credit", spec, Sources(_production(100)), now_ms=NOW)
    assert "'height'" in run.report["signals"][0]["error"]
    extra = _production(100).append_column("shoe_size", pa.array(np.ones(100)))
    run = run_monitor("credit", _spec({"drift": {"type": "data_drift"}}), Sources(extra), now_ms=NOW)
    assert "'shoe_size'" in run.report["signals"][0]["error"]
    assert run.breached == []


def test_top_n_features_by_importance() -> None:
    rng = np.random.default_rng(3)
    age = rng.normal(40, 10, 4000)
    table = pa.table({"age": age, "noise": rng.normal(0, 1, 4000), "label": (age > 40).astype(np.int64)})

    class Ranked(Sources):
        def training_data(self, endpoint: str, deployment: str) -> Reference:
            return Reference(table, "t", "t")

    production = pa.table({"age": rng.normal(40, 10, 500), "noise": rng.normal(5, 1, 500)})
    spec = _spec({"drift": {"type": "data_drift", "features": {"top_n_feature_importance": 1}}})
    run = run_monitor("credit", spec, Ranked(production), now_ms=NOW)
    assert [r["column"] for r in run.report["signals"][0]["rows"]] == ["age"]
