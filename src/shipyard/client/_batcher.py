"""Background metric batching: a training loop appends and moves on; a thread ships batches.

Points go into a list under a lock (a fraction of a microsecond per point). When it holds
``batch_size`` points, or every ``flush_interval`` seconds, the list is handed to the sender
thread through a bounded queue: when the server falls behind, ``log_metric`` blocks rather
than memory growing without limit. Every batch carries an idempotency key chosen before the
first attempt, so a retry after a lost response never stores a point twice.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from shipyard.errors import ShipyardError

__all__ = ["MetricBatcher", "encode_batch"]

log = logging.getLogger("shipyard.client")

Point = tuple[str, float, int, int]  # (key, value, step, timestamp ms)
Sender = Callable[[bytes, str], Any]


def _json_float(value: float) -> float | str:
    if value - value == 0:
        return value
    return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")


def encode_batch(points: list[Point]) -> bytes:
    """Group points by key into the columnar wire format of ``POST …/metrics``."""
    series: dict[str, tuple[list[int], list[float | str], list[int]]] = {}
    for key, value, step, ts in points:
        columns = series.get(key)
        if columns is None:
            columns = series[key] = ([], [], [])
        columns[0].append(step)
        columns[1].append(value if value - value == 0 else _json_float(value))
        columns[2].append(ts)
    return orjson.dumps(
        {
            "metrics": [
                {"key": key, "steps": steps, "values": values, "timestamps": stamps}
                for key, (steps, values, stamps) in series.items()
            ]
        }
    )


class MetricBatcher:
    def __init__(
        self,
        send: Sender,
        *,
        batch_size: int = 20_000,
        flush_interval: float = 1.0,
        max_pending_batches: int = 8,
    ) -> None:
        self._send = send
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._lock = threading.Lock()
        self._buffer: list[Point] = []
        self._queue: queue.Queue[list[Point] | None] = queue.Queue(maxsize=max_pending_batches)
        self._error: ShipyardError | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="shipyard-metrics", daemon=True)
        self._thread.start()

    # -- producer side -------------------------------------------------------------

    def add(self, point: Point) -> None:
        self._raise_pending()
        with self._lock:
            self._buffer.append(point)
            if len(self._buffer) < self._batch_size:
                return
            full, self._buffer = self._buffer, []
        self._queue.put(full)  # blocks when the server is behind: bounded memory

    def add_many(self, points: list[Point]) -> None:
        self._raise_pending()
        with self._lock:
            self._buffer.extend(points)
            if len(self._buffer) < self._batch_size:
                return
            full, self._buffer = self._buffer, []
        self._queue.put(full)

    def flush(self) -> None:
        """Block until every point added so far is acknowledged by the server."""
        with self._lock:
            pending, self._buffer = self._buffer, []
        if pending:
            self._queue.put(pending)
        self._queue.join()
        self._raise_pending()

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._queue.put(None)
            self._thread.join(timeout=30)

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    # -- sender thread -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                batch = self._queue.get(timeout=self._flush_interval)
            except queue.Empty:
                with self._lock:
                    batch, self._buffer = self._buffer, []
                if batch:
                    self._ship(batch)
                continue
            try:
                if batch is None:
                    return
                self._ship(batch)
            finally:
                self._queue.task_done()

    def _ship(self, batch: list[Point]) -> None:
        key = uuid.uuid4().hex
        payload = encode_batch(batch)
        try:
            self._send(payload, key)
        except ShipyardError as exc:
            # Retries already happened in the HTTP layer; surface it on the next call.
            log.error("dropping %d metric points: %s", len(batch), exc)
            self._error = exc
        except Exception as exc:
            log.exception("metric sender failed")
            self._error = ShipyardError(f"metric sender failed: {exc}")
