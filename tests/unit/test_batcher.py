"""The SDK's metric batcher with a fake sender: flush waits for every batch, wherever it is."""

from __future__ import annotations

import threading
import time

import orjson

from shipyard.client._batcher import MetricBatcher, encode_batch


def test_flush_waits_for_a_batch_the_idle_timer_is_shipping() -> None:
    acknowledged: list[int] = []
    started = threading.Event()

    def slow_send(payload: bytes, key: str) -> None:
        started.set()
        time.sleep(0.3)
        acknowledged.append(len(orjson.loads(payload)["metrics"][0]["steps"]))

    batcher = MetricBatcher(slow_send, flush_interval=0.01)
    batcher.add("loss", 1.0, 0, 1)
    assert started.wait(2)  # the idle timer took the point and is on the wire
    batcher.flush()
    assert acknowledged == [1]
    batcher.close()


def test_every_point_is_shipped_once_across_senders() -> None:
    seen: list[tuple[str, int]] = []
    lock = threading.Lock()

    def send(payload: bytes, key: str) -> None:
        body = orjson.loads(payload)
        with lock:
            for series in body["metrics"]:
                seen.extend((series["key"], step) for step in series["steps"])

    batcher = MetricBatcher(send, batch_size=1000, senders=3)
    for step in range(20_000):
        batcher.add_many({"a": 1.0, "b": 2.0}, step, 1)
    batcher.close()
    assert sorted(seen) == sorted([(k, s) for s in range(20_000) for k in ("a", "b")])


def test_non_finite_values_travel_as_names() -> None:
    body = orjson.loads(
        encode_batch([("x", float("nan"), 0, 1), ("x", float("inf"), 1, 1), ("x", 2.0, 2, 1)])
    )
    assert body["metrics"][0]["values"] == ["NaN", "Infinity", 2.0]
