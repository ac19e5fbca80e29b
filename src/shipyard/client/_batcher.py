"""Background metric batching: a training loop appends and moves on; a thread ships batches.

Points go straight into per-key columns under a lock (a fraction of a microsecond per
point), already in the wire's shape, so shipping a batch is one ``orjson.dumps``. When it holds
``batch_size`` points, or every ``flush_interval`` seconds, the list is handed to the sender
thread through a bounded queue: when the server falls behind, ``log_metric`` blocks rather
than memory growing without limit. Every batch carries an idempotency key chosen before the
first attempt, so a retry after a lost response never stores a point twice.

**Outages.** When a batch cannot reach the server (``Unavailable`` once the HTTP layer's
retries, ~3 s, are spent) it goes to a spill file (``_spill.py``) with its key, and so does
every batch after it, at once and without touching the network, for as long as the server is
down: the training loop never waits on a dead server. One replay thread probes with the
oldest kept batch (every 0.5 s doubling to 5 s, plus the HTTP retries) and, once the server
answers, sends the file in order, with the same keys, while new batches go straight to the
server again (their back-pressure too). Points are lost only when the file is full (its
bound is ``max_bytes`` of the spill) or cannot be written; they are counted in ``lost`` and
said loudly, and the run is tagged (``run.py``).

    add ─► buffer ─► queue ─► sender ─┬─► server
                                      └─► spill file ─► replayer ─► server (same keys)
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from shipyard.client._spill import SpillFile
from shipyard.errors import ShipyardError, Unavailable

__all__ = ["MetricBatcher", "encode_batch"]

log = logging.getLogger("shipyard.client")

_PROBE_MIN_S, _PROBE_MAX_S = 0.5, 5.0  # between probes of a down server (plus ~3 s of HTTP retries)
_WAITING_NOTE_S = 30.0

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
    """``open_spill`` makes the spill file when the first batch cannot be sent (None: such a
    batch is dropped and counted in ``lost``, as before issue 12); ``server`` names the
    server in messages."""

    def __init__(
        self,
        send: Sender,
        *,
        batch_size: int = 20_000,
        flush_interval: float = 1.0,
        max_pending_batches: int = 8,
        senders: int = 2,
        open_spill: Callable[[], SpillFile] | None = None,
        server: str = "the server",
    ) -> None:
        self._send = send
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._lock = threading.Lock()
        # Signalled whenever a batch is acknowledged, kept, or failed for good.
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
        self._server = server
        self._open_spill = open_spill
        self._spill: SpillFile | None = None
        self._spill_lock = threading.Lock()  # making the file and its replayer: once
        self._replayer: threading.Thread | None = None
        self._wake = threading.Event()  # a batch was kept: the replayer has work
        self._stopping = threading.Event()  # close() is done waiting: the replayer ends
        # Set (monotonic time) while the server is believed down: senders keep batches
        # without trying the network; the replayer clears it when a batch goes through.
        self._down_since: float | None = None
        self._kept_in_outage = 0
        self.lost = 0  # points that will never reach the server
        self.leftover: SpillFile | None = None  # after close(): the file still holding points
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

    @property
    def kept(self) -> int:
        """Points waiting in the spill file for the server."""
        spill = self._spill
        return 0 if spill is None else spill.points

    def flush(self, timeout: float | None = None) -> None:
        """Block until every point added so far is acknowledged by the server.

        During an outage that means until the server is back: after ``timeout`` seconds
        ``Unavailable`` is raised, and the points stay kept (nothing is lost)."""
        self._ship_buffer()
        if not self._wait_settled(timeout):
            raise Unavailable(
                f"{self._server} has not answered for {timeout:g} s: {self.kept} metric points are"
                f" kept in {self._spill_path()} and are sent when it is back"
            )
        self._raise_pending()

    def close(self, timeout: float | None = None) -> SpillFile | None:
        """Ship every point, waiting up to ``timeout`` s for kept ones to reach the server;
        stop the threads. Returns the spill file when points are still in it (the caller
        keeps or reports it), else None; also in ``leftover``, for when a refused batch's
        error is raised instead."""
        if self._closed:
            return None
        self._closed = True
        try:
            self._ship_buffer()
            self._wait_settled(timeout)
        finally:
            self._stopping.set()
            self._wake.set()
            for _ in self._threads:
                self._queue.put(None)
            for thread in [*self._threads, *([self._replayer] if self._replayer else [])]:
                thread.join(timeout=30)
        spill = self._spill
        if spill is not None:
            if spill.points:
                self.leftover = spill
            else:
                spill.discard()
        self._raise_pending()
        return self.leftover

    def _ship_buffer(self) -> None:
        with self._lock:
            pending = self._take()
        if pending is not None:
            self._queue.put(pending)

    def _wait_settled(self, timeout: float | None) -> bool:
        """Until nothing is queued, on the wire or kept; False when ``timeout`` passed first.
        Says every 30 s why it is still waiting: a silent hang at the end of a script is
        worse than a slow one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._settled:
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return self._is_settled()
                step = _WAITING_NOTE_S if left is None else min(left, _WAITING_NOTE_S)
                if self._settled.wait_for(self._is_settled, step):
                    return True
                if self._down_since is not None:
                    log.warning(
                        "waiting for %s, unreachable for %.0f s, to send %d kept metric points (in %s)",
                        self._server,
                        time.monotonic() - self._down_since,
                        self.kept,
                        self._spill_path(),
                    )

    def _is_settled(self) -> bool:
        return self._outstanding == 0 and self.kept == 0

    def _spill_path(self) -> str:
        spill = self._spill
        return "a spill file" if spill is None else str(spill.path)

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
        points = batch[1]
        try:
            payload = _encode(batch[0])
            # While the server is down and batches wait in the file, this one joins them at
            # once; with none waiting (none could be kept), only the network can tell.
            if self._down_since is None or not self.kept:
                try:
                    self._send(payload, key)
                    return
                except Unavailable as exc:
                    if self._open_spill is None:
                        raise
                    self._went_down(exc)
            self._keep(key, points, payload)
        except Unavailable as exc:  # and nowhere to keep it
            self._lose(points, str(exc))
            self._error = exc
        except ShipyardError as exc:
            # The server refused it (not an outage): surface it on the next call.
            log.error("dropping %d metric points: %s", points, exc)
            self._error = exc
        except Exception as exc:
            log.exception("metric sender failed")
            self._error = ShipyardError(f"metric sender failed: {exc}")
        finally:
            with self._settled:
                self._outstanding -= 1
                self._settled.notify_all()

    # -- outages -------------------------------------------------------------------

    def _went_down(self, exc: ShipyardError) -> None:
        with self._lock:
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
            self._kept_in_outage = 0
        log.warning(
            "%s cannot be reached (%s): metric points are kept in a local file and sent when it"
            " is back; nothing is lost unless the file fills",
            self._server,
            exc,
        )

    def _keep(self, key: str, points: int, payload: bytes) -> None:
        # Under the spill lock: the replayer removes a drained file under it too, so a batch
        # never goes into a file on its way out.
        with self._spill_lock:
            try:
                spill = self._spill_file()
                kept = spill.append(key, points, payload)
            except OSError as exc:
                self._lose(points, f"the spill file cannot be written: {exc}")
                return
        if not kept:
            self._lose(points, f"the spill file {spill.path} is full")
            return
        with self._lock:
            self._kept_in_outage += points
        self._wake.set()

    def _spill_file(self) -> SpillFile:
        """The current spill file, made (with its replayer) if there is none; under the spill lock."""
        if self._spill is None:
            assert self._open_spill is not None
            spill = self._spill = self._open_spill()
            log.warning("keeping unsent metric points in %s", spill.path)
            self._replayer = threading.Thread(
                target=self._replay, args=(spill,), name="shipyard-metrics-replay", daemon=True
            )
            self._replayer.start()
        return self._spill

    def _lose(self, points: int, why: str) -> None:
        with self._lock:
            first = self.lost == 0
            self.lost += points
        # Loud the first time; the total is said again when the run ends, and tagged.
        if first:
            log.error("LOST %d metric points: %s (%s); more may follow", points, why, self._server)

    def _replay(self, spill: SpillFile) -> None:
        """Send kept batches oldest first, with their own keys; remove the file once it is
        drained (the next outage makes a new one), or end when close() stops waiting."""
        delay = _PROBE_MIN_S
        while not self._stopping.is_set():
            self._wake.clear()
            record = spill.peek()
            if record is None:
                if self._retire(spill):
                    return
                self._wake.wait(1.0)
                continue
            try:
                self._send(record.payload, record.key)
            except Unavailable as exc:
                self._went_down(exc)
                self._stopping.wait(delay)
                delay = min(delay * 2, _PROBE_MAX_S)
                continue
            except ShipyardError as exc:
                log.error("dropping %d kept metric points: %s", record.points, exc)
                self._error = exc
            except Exception as exc:
                log.exception("metric replay failed")
                self._error = ShipyardError(f"metric replay failed: {exc}")
            delay = _PROBE_MIN_S
            self._came_back()
            with self._settled:
                spill.pop(record)
                self._settled.notify_all()

    def _retire(self, spill: SpillFile) -> bool:
        """Remove ``spill`` if nothing waits in it and the server is up; True when removed."""
        with self._spill_lock:
            if spill.points or self._down_since is not None or self._stopping.is_set():
                return False
            spill.discard()
            self._spill = None
        log.info("every kept metric point is on %s (%s removed)", self._server, spill.path)
        return True

    def _came_back(self) -> None:
        with self._lock:
            since, self._down_since = self._down_since, None
        if since is not None:
            log.warning(
                "%s answers again after %.0f s: sending the %d metric points kept meanwhile",
                self._server,
                time.monotonic() - since,
                self._kept_in_outage,
            )
