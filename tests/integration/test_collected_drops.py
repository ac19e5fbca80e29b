"""Collected scoring data is never lost silently: each dropped row is counted by endpoint,
deployment, collection and reason, shown in /metrics and said in the server log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.server.scoring_metrics import ScoringMetrics
from shipyard.services.data_collection import CollectedRow, DataCollector
from shipyard.stores.artifacts.local import LocalArtifactStore


def _row(endpoint: str = "ep", deployment: str = "blue", i: int = 0) -> CollectedRow:
    return CollectedRow("default", endpoint, deployment, "model_inputs", f"id{i}", 1_700_000_000_000, "{}")


class _RefusingStore(LocalArtifactStore):
    """Refuses every write under one endpoint's folder, as a full or unreachable bucket would."""

    def put(self, key: str, staged: Path) -> None:
        if "/broken/" in key:
            raise OSError("the bucket refused the write")
        super().put(key, staged)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[DataCollector]:
    made = DataCollector(_RefusingStore(tmp_path / "artifacts"), flush_s=60, max_rows=1)
    made.start()
    yield made
    made.stop()


def test_a_full_queue_drops_rows_and_counts_them(collector: DataCollector) -> None:
    for i in range(10):  # the queue holds 4 rows (max_rows * 4); the writer waits for its flush
        collector.collect(_row(i=i))
    assert collector.dropped() == {("ep", "blue", "model_inputs", "queue_full"): 6}
    assert collector.total_dropped == 6


def test_dropped_rows_are_shown_in_metrics(collector: DataCollector) -> None:
    metrics = ScoringMetrics()
    metrics.count_dropped_rows(collector.dropped)
    for i in range(6):
        collector.collect(_row(i=i))
    text = metrics.render().decode()
    line = (
        'shipyard_collected_rows_dropped_total{collection="model_inputs",deployment="blue",'
        'endpoint="ep",reason="queue_full"} 2.0'
    )
    assert line in text, text


def test_a_refused_write_drops_only_its_own_rows_and_the_log_says_so(
    collector: DataCollector, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    collector.collect(_row("broken", i=1))
    collector.collect(_row("ep", i=2))
    with caplog.at_level(logging.WARNING, logger="shipyard.collector"):
        collector.flush()
    assert collector.dropped() == {("broken", "blue", "model_inputs", "write_failed"): 1}
    written = list((tmp_path / "artifacts" / "_collected" / "default").rglob("*.parquet"))
    assert [p.relative_to(tmp_path / "artifacts").parts[2] for p in written] == ["ep"]
    messages = [r.getMessage() for r in caplog.records]
    assert any("the bucket refused" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)
    assert (
        "dropped 1 collected model_inputs rows of deployment blue of endpoint broken (write_failed)"
        in messages
    )
    # Said once: a later flush with nothing new dropped says nothing more.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="shipyard.collector"):
        collector.flush()
    assert caplog.records == []


def test_a_server_that_cannot_collect_counts_every_row_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    off = DataCollector(LocalArtifactStore(tmp_path / "artifacts"))  # never started: no writer
    with caplog.at_level(logging.WARNING, logger="shipyard.collector"):
        for i in range(3):
            off.collect(_row(i=i))
    assert off.dropped() == {("ep", "blue", "model_inputs", "collection_off"): 3}
    [warning] = caplog.records
    assert "asks for data collection, but this server cannot collect" in warning.getMessage()
