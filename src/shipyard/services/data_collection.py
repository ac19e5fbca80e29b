"""Production data: what online deployments receive and answer, kept as Parquet.

The scoring router hands every sampled request's input and output here; a background thread
writes them in batches to the artifact store, one folder per hour (Hive-style, so a reader
selects a time range by path)::

    _collected/<workspace>/<endpoint>/<deployment>/<collection>/<yyyy>/<mm>/<dd>/<hh>/part-<ms>-<id>.parquet

with the columns ``request_id`` (the id every scoring response carries, which the
feedback API refers to), ``timestamp`` (ms since the epoch), ``deployment`` and ``data``
(the JSON body as sent or answered). Ground truth posted to ``/endpoints/<name>/feedback``
is kept the same way as the collection ``feedback``, once per endpoint rather than per
deployment (the deployment folder is :data:`FEEDBACK_FOLDER`; the ``deployment`` column names
the one that served the request when the router still knew it, else ``""``), with ``data``
the JSON of the ground truth and one more column, ``row``, the row of the request it is for.
Collecting never slows or fails a request: the queue is bounded, and a row that cannot be
kept is dropped — but never silently. Every dropped row is counted by endpoint, deployment,
collection and reason (:data:`DROP_REASONS`; ``/metrics`` shows the counts as
``shipyard_collected_rows_dropped_total``), and the server log says how many were dropped,
and why, once per flush rather than once per row.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.services.ports import ArtifactStore

__all__ = [
    "COLLECTED_PREFIX",
    "DROP_REASONS",
    "FEEDBACK_FOLDER",
    "CollectedRow",
    "DataCollector",
    "DropKey",
    "collected_key",
]

log = logging.getLogger("shipyard.collector")

COLLECTED_PREFIX = "_collected"

FEEDBACK_FOLDER = "_endpoint"
"""The deployment folder of feedback: ground truth often arrives when nobody remembers which
deployment served the request, and no deployment name can start with ``_``."""

DROP_REASONS = ("queue_full", "write_failed", "collection_off")
"""Why a row was dropped: requests came faster than the writer could keep up; the artifact
store refused the write; collection cannot run on this server (pyarrow is not installed)."""

DropKey = tuple[str, str, str, str]
"""(endpoint, deployment, collection, reason) of dropped rows."""


@dataclass(frozen=True, slots=True)
class CollectedRow:
    workspace: str
    endpoint: str
    deployment: str
    collection: str  # model_inputs | model_outputs | feedback
    request_id: str
    timestamp: int
    data: str
    row: int | None = None  # feedback only: the row of the request the ground truth is for


def collected_key(row: CollectedRow, part: str) -> str:
    at = dt.datetime.fromtimestamp(row.timestamp / 1000, tz=dt.UTC)
    deployment = FEEDBACK_FOLDER if row.collection == "feedback" else row.deployment
    return (
        f"{COLLECTED_PREFIX}/{row.workspace}/{row.endpoint}/{deployment}/{row.collection}/"
        f"{at:%Y/%m/%d/%H}/part-{row.timestamp}-{part}.parquet"
    )


class DataCollector:
    """Bounded, batched, off the request path. ``flush()`` writes what is queued now."""

    def __init__(self, store: ArtifactStore, *, flush_s: float = 5.0, max_rows: int = 5000) -> None:
        self.store = store
        self.flush_s = flush_s
        self.max_rows = max_rows
        self._drops: Counter[DropKey] = Counter()
        self._unreported: Counter[DropKey] = Counter()
        self._drops_lock = threading.Lock()  # rows are dropped on the event loop and the writer
        self._queue: queue.Queue[CollectedRow] = queue.Queue(maxsize=max_rows * 4)
        self._stop = threading.Event()
        self._flush_now = threading.Event()
        self._flushed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pyarrow: Any = None

    def start(self) -> None:
        try:
            import pyarrow
            import pyarrow.parquet
        except ImportError:
            log.warning("pyarrow is not installed: data collection is off (pip install 'shipyard[serving]')")
            return
        self._pyarrow = (pyarrow, pyarrow.parquet)
        self._thread = threading.Thread(target=self._run, name="shipyard-collector", daemon=True)
        self._thread.start()

    @property
    def enabled(self) -> bool:
        return self._thread is not None

    def collect(self, row: CollectedRow) -> None:
        if self._thread is None:
            if self._drop([row], "collection_off"):
                log.warning(
                    "deployment %s of endpoint %s asks for data collection, but this server cannot"
                    " collect (pip install 'shipyard[serving]'): its rows are dropped and counted",
                    row.deployment,
                    row.endpoint,
                )
            return
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            self._drop([row], "queue_full")

    def dropped(self) -> Mapping[DropKey, int]:
        """Rows dropped since start, by (endpoint, deployment, collection, reason)."""
        with self._drops_lock:
            return dict(self._drops)

    @property
    def total_dropped(self) -> int:
        with self._drops_lock:
            return sum(self._drops.values())

    def _drop(self, rows: Iterable[CollectedRow], reason: str) -> bool:
        """Count ``rows`` as dropped; True when this is the first drop of its kind."""
        first = False
        with self._drops_lock:
            for row in rows:
                key = (row.endpoint, row.deployment, row.collection, reason)
                first = first or key not in self._drops
                self._drops[key] += 1
                if reason != "collection_off":  # said once, when first seen, not every flush
                    self._unreported[key] += 1
        return first

    def _report(self) -> None:
        with self._drops_lock:
            unreported, self._unreported = self._unreported, Counter()
        for (endpoint, deployment, collection, reason), count in sorted(unreported.items()):
            log.warning(
                "dropped %d collected %s rows of deployment %s of endpoint %s (%s)",
                count,
                collection,
                deployment,
                endpoint,
                reason,
            )

    def flush(self, timeout: float = 10.0) -> None:
        """Write everything queued so far (tests, shutdown)."""
        if self._thread is None:
            return
        with self._flushed:
            self._flush_now.set()
            self._flushed.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._flush_now.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            self._flush_now.wait(self.flush_s)
            stopping = self._stop.is_set()
            asked = self._flush_now.is_set()
            self._flush_now.clear()
            rows = self._drain()
            if rows:
                self._write(rows)
            self._report()
            if asked:
                with self._flushed:
                    self._flushed.notify_all()
            if stopping:
                return

    def _drain(self) -> list[CollectedRow]:
        rows: list[CollectedRow] = []
        while len(rows) < self.max_rows * 4:
            try:
                rows.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return rows

    def _write(self, rows: list[CollectedRow]) -> None:
        groups: dict[str, list[CollectedRow]] = defaultdict(list)
        for row in rows:
            groups[collected_key(row, "x").rsplit("/", 1)[0]].append(row)
        for folder, group in groups.items():
            try:
                self._write_part(folder, group)
            except Exception:  # one folder's failure must not take the others' rows with it
                log.exception("writing %d collected rows to %s failed; they are dropped", len(group), folder)
                self._drop(group, "write_failed")

    def _write_part(self, folder: str, group: list[CollectedRow]) -> None:
        pa, pq = self._pyarrow
        columns = {
            "request_id": pa.array([r.request_id for r in group], pa.string()),
            "timestamp": pa.array([r.timestamp for r in group], pa.int64()),
            "deployment": pa.array([r.deployment for r in group], pa.string()),
            "data": pa.array([r.data for r in group], pa.string()),
        }
        if group[0].collection == "feedback":  # a folder holds one collection
            columns["row"] = pa.array([r.row or 0 for r in group], pa.int64())
        table = pa.table(columns)
        key = f"{folder}/part-{group[0].timestamp}-{uuid.uuid4().hex[:8]}.parquet"
        with self.store.staging_file() as (staged, handle):
            pq.write_table(table, handle)
            handle.flush()
            handle.close()
            self.store.put(key, staged)
