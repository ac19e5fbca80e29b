"""Background metric batching: a training loop appends and moves on; a thread ships batches.

Points go straight into per-key columns under a lock (a fraction of a microsecond per
point), already in the wire's shape, so shipping a batch is one ``orjson.dumps``. When it holds
``batch_size`` points, or every ``flush_interval`` seconds, the list is handed to the sender
thread through a bounded queue: when the server falls behind, ``log_metric`` blocks rather
than memory growing without limit. Every batch carries an idempotency key chosen before the
first attempt, so a retry after a lost response never stores a point twice.
"""

from __future__ import annotations

import logging
import math
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


class _Columns:
    """One key's pending points, already in the wire's columnar shape."""

    __slots__ = ("steps", "timestamps", "values")

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.values: list[float] = []
        self.timestamps: list[int] = []


Buffer = dict[str, _Columns]


def _json_float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")


def _encode(buffer: Buffer) -> bytes:
    metrics = []
    for key, cols in buffer.items():
        values: list[float] | list[float | str] = cols.values
        # One C-level pass in the common case; only a series holding NaN/inf is rewritten
        # (orjson would write NaN as null, which the server rightly refuses).
        if not all(map(math.isfinite, cols.values)):
            values = [_json_float(v) for v in cols.values]
        metrics.append({"key": key, "steps": cols.steps, "values": values, "timestamps": cols.timestamps})
    return orjson.dumps({"metrics": metrics})


def encode_batch(points: list[Point]) -> bytes:
    """Encode (key, value, step, timestamp) points as the body of ``POST …/metrics``."""
    buffer: Buffer = {}
    for key, value, step, ts in points:
        cols = buffer.get(key)
        if cols is None:
            cols = buffer[key] = _Columns()
        cols.steps.append(step)
        cols.values.append(value)
        cols.timestamps.append(ts)
    return _encode(buffer)


class MetricBatcher:
    def __init__(
        self,
        send: Sender,
        *,
        batch_size: int = 20_000,
        flush_interval: float = 1.0,
        max_pending_batches: int = 8,
        senders: int = 2,
    ) -> None:
        self._send = send
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._lock = threading.Lock()
        # Signalled whenever a batch is acknowledged (or failed for good).
        self._settled = threading.Condition(self._lock)
        self._buffer: Buffer = {}
        self._pending = 0
        # Batches taken from the buffer and not yet settled, wherever they are (queue or wire):
        # flush() waits for this to reach zero, which queue.join() alone cannot see for a
        # batch the idle timer ships.
        self._outstanding = 0
        self._queue: queue.Queue[tuple[Buffer, int] | None] = queue.Queue(maxsize=max_pending_batches)
        self._error: ShipyardError | None = None
        self._closed = False
        # Two senders keep a batch in flight while the server stores the previous one, so
        # its JSON parsing overlaps the insert; stored points do not depend on arrival order.
        self._threads = [
            threading.Thread(target=self._run, name=f"shipyard-metrics-{i}", daemon=True)
            for i in range(max(1, senders))
        ]
        for thread in self._threads:
            thread.start()

    # -- producer side -------------------------------------------------------------

    def add(self, key: str, value: float, step: int, timestamp: int) -> None:
        self._raise_pending()
        with self._lock:
            cols = self._buffer.get(key)
            if cols is None:
                cols = self._buffer[key] = _Columns()
            cols.steps.append(step)
            cols.values.append(value)
            cols.timestamps.append(timestamp)
            self._pending += 1
            full = self._take() if self._pending >= self._batch_size else None
        if full is not None:
            self._queue.put(full)  # blocks when the server is behind: bounded memory

    def add_many(self, metrics: dict[str, float], step: int, timestamp: int) -> None:
        """Several keys at one step: one lock round-trip for all of them."""
        self._raise_pending()
        with self._lock:
            buffer = self._buffer
            for key, value in metrics.items():
                cols = buffer.get(key)
                if cols is None:
                    cols = buffer[key] = _Columns()
                cols.steps.append(step)
                cols.values.append(value)
                cols.timestamps.append(timestamp)
            self._pending += len(metrics)
            full = self._take() if self._pending >= self._batch_size else None
        if full is not None:
            self._queue.put(full)

    def _take(self) -> tuple[Buffer, int] | None:
        """Detach the buffer as one batch (caller holds the lock); None when it is empty."""
        if not self._pending:
            return None
        taken = (self._buffer, self._pending)
        self._buffer, self._pending = {}, 0
        self._outstanding += 1
        return taken

    def flush(self) -> None:
        """Block until every point added so far is acknowledged by the server."""
        with self._lock:
            pending = self._take()
        if pending is not None:
            self._queue.put(pending)
        with self._settled:
            self._settled.wait_for(lambda: self._outstanding == 0)
        self._raise_pending()

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            for _ in self._threads:
                self._queue.put(None)
            for thread in self._threads:
                thread.join(timeout=30)

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    # -- sender threads ------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                batch = self._queue.get(timeout=self._flush_interval)
            except queue.Empty:
                with self._lock:
                    batch = self._take()
                if batch is not None:
                    self._ship(batch)
                continue
            if batch is None:
                return
            self._ship(batch)

    def _ship(self, batch: tuple[Buffer, int]) -> None:
        key = uuid.uuid4().hex
        try:
            self._send(_encode(batch[0]), key)
        except ShipyardError as exc:
            # Retries already happened in the HTTP layer; surface it on the next call.
            log.error("dropping %d metric points: %s", batch[1], exc)
            self._error = exc
        except Exception as exc:
            log.exception("metric sender failed")
            self._error = ShipyardError(f"metric sender failed: {exc}")
        finally:
            with self._settled:
                self._outstanding -= 1
                self._settled.notify_all()
