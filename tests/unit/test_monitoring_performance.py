"""Model performance from predictions joined with feedback, checked against scikit-learn.

Predictions and feedback are written as real Parquet by the real DataCollector and read back
with production.py, as a monitor run does."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from sklearn import metrics as sk  # type: ignore[import-untyped]  # no stubs

from shipyard.errors import InvalidArgument
from shipyard.services.data_collection import CollectedRow, DataCollector
from shipyard.services.monitoring.performance import performance
from shipyard.services.monitoring.production import collected_batches
from shipyard.stores.artifacts.local import LocalArtifactStore

T0 = 1_767_225_600_000
END = T0 + 3_600_000


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts")


@pytest.fixture
def collector(store: LocalArtifactStore) -> Iterator[DataCollector]:
    made = DataCollector(store, flush_s=60)
    made.start()
    yield made
    made.stop()


def collect(collector: DataCollector, predicted: list[Any], truth: list[Any], per_request: int = 3) -> None:
    """Predictions in requests of ``per_request`` rows; ground truth for each row by (id, row)."""
    for start in range(0, len(predicted), per_request):
        request_id = f"req-{start}"
        answer = json.dumps({"predictions": predicted[start : start + per_request]})
        collector.collect(
            CollectedRow("default", "credit", "blue", "model_outputs", request_id, T0 + start, answer)
        )
        for row, value in enumerate(truth[start : start + per_request]):
            collector.collect(
                CollectedRow(
                    "default", "credit", "blue", "feedback", request_id, T0 + 1000, json.dumps(value), row
                )
            )
    collector.flush()


def batches(store: LocalArtifactStore, collection: Any) -> Iterator[pa.RecordBatch]:
    return collected_batches(store, "default", "credit", "blue", collection, T0, END)


def test_binary_classification_matches_sklearn(store: LocalArtifactStore, collector: DataCollector) -> None:
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 2, 200).tolist()
    predicted = [t if rng.random() < 0.8 else 1 - t for t in truth]
    collect(collector, predicted, truth)
    result = performance("classification", batches(store, "model_outputs"), batches(store, "feedback"))
    assert result.joined == 200 and result.unknown_feedback == 0 and result.unmatched_predictions == 0
    assert result.positive_label == 1.0
    assert result.metrics["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted))
    assert result.metrics["precision"] == pytest.approx(sk.precision_score(truth, predicted))
    assert result.metrics["recall"] == pytest.approx(sk.recall_score(truth, predicted))
    assert result.metrics["f1_score"] == pytest.approx(sk.f1_score(truth, predicted))


def test_multiclass_text_labels_are_macro_averaged_like_sklearn(
    store: LocalArtifactStore, collector: DataCollector
) -> None:
    rng = np.random.default_rng(3)
    labels = ["cat", "dog", "fox", "owl"]
    truth = [labels[i] for i in rng.integers(0, 4, 150)]
    predicted = [t if rng.random() < 0.6 else labels[int(rng.integers(0, 3))] for t in truth]  # owl rarely
    collect(collector, predicted, truth, per_request=5)
    result = performance("classification", batches(store, "model_outputs"), batches(store, "feedback"))
    assert result.positive_label is None and result.labels == labels
    for name, fn in (
        ("precision", sk.precision_score),
        ("recall", sk.recall_score),
        ("f1_score", sk.f1_score),
    ):
        assert result.metrics[name] == pytest.approx(fn(truth, predicted, average="macro", zero_division=0))
    assert result.metrics["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted))


def test_boolean_labels_take_true_as_the_positive_class(
    store: LocalArtifactStore, collector: DataCollector
) -> None:
    truth = [True, False, True, True, False, False]
    predicted = [True, True, False, True, False, False]
    collect(collector, predicted, truth)
    result = performance("classification", batches(store, "model_outputs"), batches(store, "feedback"))
    assert result.positive_label == 1.0
    assert result.metrics["precision"] == pytest.approx(sk.precision_score(truth, predicted))
    assert result.metrics["recall"] == pytest.approx(sk.recall_score(truth, predicted))


def test_regression_matches_sklearn(store: LocalArtifactStore, collector: DataCollector) -> None:
    rng = np.random.default_rng(11)
    truth = rng.normal(100, 15, 120).round(3).tolist()
    predicted = (np.asarray(truth) + rng.normal(0, 5, 120)).round(3).tolist()
    collect(collector, predicted, truth, per_request=4)
    result = performance("regression", batches(store, "model_outputs"), batches(store, "feedback"))
    assert result.metrics["mae"] == pytest.approx(sk.mean_absolute_error(truth, predicted))
    assert result.metrics["mse"] == pytest.approx(sk.mean_squared_error(truth, predicted))
    assert result.metrics["rmse"] == pytest.approx(math.sqrt(sk.mean_squared_error(truth, predicted)))


def test_unknown_request_ids_and_unanswered_predictions_are_counted(
    store: LocalArtifactStore, collector: DataCollector
) -> None:
    collect(collector, [1, 0, 1], [1, 0, 0])
    for request_id, row in (("never-seen", 0), ("req-0", 7)):
        collector.collect(CollectedRow("default", "credit", "", "feedback", request_id, T0 + 5, "1", row))
    answer = json.dumps([1, 1])
    collector.collect(
        CollectedRow("default", "credit", "blue", "model_outputs", "no-feedback", T0 + 9, answer)
    )
    collector.flush()
    result = performance("classification", batches(store, "model_outputs"), batches(store, "feedback"))
    assert result.joined == 3 and result.unknown_feedback == 2 and result.unmatched_predictions == 2
    assert result.notes == ["2 feedback row(s) name request ids that were not collected in the window"]
    assert result.metrics["accuracy"] == pytest.approx(2 / 3)


def test_the_latest_feedback_for_a_row_wins(store: LocalArtifactStore, collector: DataCollector) -> None:
    collect(collector, [1], [0])
    collector.collect(CollectedRow("default", "credit", "blue", "feedback", "req-0", T0 + 2000, "1", 0))
    collector.flush()
    result = performance("classification", batches(store, "model_outputs"), batches(store, "feedback"))
    assert result.joined == 1 and result.metrics["accuracy"] == 1.0


def test_no_feedback_joined_is_a_clear_error(store: LocalArtifactStore, collector: DataCollector) -> None:
    collector.collect(CollectedRow("default", "credit", "blue", "model_outputs", "r", T0, "[1]"))
    collector.flush()
    with pytest.raises(InvalidArgument, match="no feedback joined in the window"):
        performance("classification", batches(store, "model_outputs"), batches(store, "feedback"))


def test_bad_arguments(store: LocalArtifactStore, collector: DataCollector) -> None:
    collect(collector, ["a", "b"], ["a", "c"])
    with pytest.raises(InvalidArgument, match="regression needs numbers"):
        performance("regression", batches(store, "model_outputs"), batches(store, "feedback"))
    with pytest.raises(InvalidArgument, match="unknown task"):
        performance("ranking", [], [])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="no column 'score'"):
        performance(
            "classification",
            batches(store, "model_outputs"),
            batches(store, "feedback"),
            prediction_column="score",
        )
