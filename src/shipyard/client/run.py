"""``ActiveRun``: the handle a training script logs through."""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from shipyard.client._batcher import MetricBatcher
from shipyard.client._spill import LOST_POINTS_TAG, SpillFile, leftover_files, spill_dir
from shipyard.client._sysmetrics import SystemMetricsSampler
from shipyard.client.client import Client
from shipyard.domain.registry import ModelVersion
from shipyard.domain.tracking import Run, RunStatus
from shipyard.errors import InvalidArgument, Unavailable

__all__ = ["LOST_POINTS_TAG", "ActiveRun"]

log = logging.getLogger("shipyard.client")

_SPILL_MAX_MB = 1024.0  # ~27 million points (39 bytes each): 5 minutes at 90,000 points/s
_OUTAGE_WAIT_S = 600.0

_OPEN_RUNS: weakref.WeakSet[ActiveRun] = weakref.WeakSet()
_OPEN_LOCK = threading.Lock()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise InvalidArgument(f"{name} must be a number of 0 or more, got {raw!r}")
    return value


def _as_float(key: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"metric {key!r} must be a number, got {type(value).__name__}") from None


class ActiveRun:
    """A run being logged to. Use it as a context manager: it ends FINISHED, or FAILED when
    the block raises (KILLED on Ctrl-C), after every buffered metric is acknowledged.

    Metric points the server cannot take while it is down are kept in a spill file of at
    most ``spill_max_mb`` (``SHIPYARD_SPILL_MAX_MB``, default 1024; 0: none) in
    ``SHIPYARD_SPILL_DIR`` and sent when it is back; ending the run (and :meth:`flush`) waits
    up to ``outage_wait_s`` (``SHIPYARD_OUTAGE_WAIT``, default 600) for that. Points lost
    anyway are said loudly and counted in the run's ``shipyard.lost_metric_points`` tag.
    """

    def __init__(
        self,
        client: Client,
        run: Run,
        *,
        log_system_metrics: bool = False,
        system_metrics_interval: float = 10.0,
        spill_max_mb: float | None = None,
        outage_wait_s: float | None = None,
    ) -> None:
        self.client = client
        self.id = run.id
        self.info = run
        if spill_max_mb is None:
            spill_max_mb = _env_number("SHIPYARD_SPILL_MAX_MB", _SPILL_MAX_MB)
        self._outage_wait = (
            _env_number("SHIPYARD_OUTAGE_WAIT", _OUTAGE_WAIT_S) if outage_wait_s is None else outage_wait_s
        )
        self._server = f"the Shipyard server at {client.http.url}"
        self._open_spill = self._spill_opener(int(spill_max_mb * 2**20))
        self._batcher = MetricBatcher(
            lambda payload, key: client.log_metric_batch(self.id, payload, key),
            open_spill=self._open_spill,
            server=self._server,
        )
        self._sampler: SystemMetricsSampler | None = None
        if log_system_metrics:
            self._sampler = SystemMetricsSampler(self._log_system, system_metrics_interval)
            self._sampler.start()
        self._ended = False
        with _OPEN_LOCK:
            _OPEN_RUNS.add(self)
        _mention_leftovers()

    def _spill_opener(self, max_bytes: int) -> Callable[[], SpillFile] | None:
        if max_bytes <= 0:
            return None
        header = {
            "url": self.client.http.url,
            "workspace": self.client.http.workspace,
            "run_id": self.id,
            "pid": os.getpid(),
            "created_ms": _now_ms(),
        }
        return lambda: SpillFile(spill_dir(), header, max_bytes)

    def __repr__(self) -> str:
        return f"<ActiveRun {self.id} experiment={self.info.experiment_id} name={self.info.name!r}>"

    # -- logging -------------------------------------------------------------------

    def log_param(self, key: str, value: Any) -> None:
        self.client.log_params(self.id, {key: value})

    def log_params(self, params: dict[str, Any]) -> None:
        self.client.log_params(self.id, params)

    def set_tag(self, key: str, value: Any) -> None:
        self.client.set_tags(self.id, {key: value})

    def set_tags(self, tags: dict[str, Any]) -> None:
        self.client.set_tags(self.id, tags)

    def log_metric(self, key: str, value: float, step: int = 0, timestamp: int | None = None) -> None:
        """Buffered: returns at once; the point reaches the server within ``flush_interval``."""
        self._batcher.add(key, _as_float(key, value), int(step), timestamp or _now_ms())

    def log_metrics(self, metrics: dict[str, float], step: int = 0, timestamp: int | None = None) -> None:
        floats = {k: _as_float(k, v) for k, v in metrics.items()}
        self._batcher.add_many(floats, int(step), timestamp or _now_ms())

    def _log_system(self, metrics: dict[str, float], step: int) -> None:
        self.log_metrics({k: v for k, v in metrics.items() if math.isfinite(v)}, step=step)

    def flush(self) -> None:
        """Block until every metric logged so far is stored on the server.

        While the server is down, up to ``outage_wait_s``; then ``Unavailable`` is raised
        and the points stay kept, to be sent when it is back."""
        self._batcher.flush(self._outage_wait)

    def log_artifact(self, local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        """Upload a file or a folder (recursively). ``artifact_path`` defaults to its name."""
        self.client.log_artifact(self.id, local_path, artifact_path)

    def log_text(self, text: str, artifact_file: str) -> None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(artifact_file).name
            path.write_text(text, encoding="utf-8")
            self.client.log_artifact(self.id, path, artifact_file)

    def register_model(self, name: str, artifact_path: str, **kwargs: Any) -> ModelVersion:
        return self.client.register_model(name, self.id, artifact_path, **kwargs)

    # -- ending --------------------------------------------------------------------

    def end(self, status: str | RunStatus = RunStatus.FINISHED) -> None:
        """Send every point (waiting up to ``outage_wait_s`` for a down server), then the status."""
        if self._ended:
            return
        self._ended = True
        final = str(RunStatus(status))
        try:
            if self._sampler is not None:
                self._sampler.stop()
            self._batcher.close(self._outage_wait)
        finally:
            try:
                self._finish(final)
            finally:
                with _OPEN_LOCK:
                    _OPEN_RUNS.discard(self)

    def _finish(self, status: str) -> None:
        """Tag lost points and set the status — or, with the server still down, write both
        into the spill file beside the points, for ``shipyard run replay``."""
        lost = self._batcher.lost
        leftover = self._batcher.leftover
        if leftover is None:
            try:
                if lost:
                    self.client.set_tags(self.id, {LOST_POINTS_TAG: lost})
                self.client.update_run(self.id, status=status)
            except Unavailable:
                if self._open_spill is None:
                    raise
                leftover = self._open_spill()  # just the end and the count, then
            else:
                if lost:
                    log.error(
                        "LOST %d metric points of run %s (see the messages above); the run is tagged %s=%d",
                        lost,
                        self.id,
                        LOST_POINTS_TAG,
                        lost,
                    )
                return
        points = leftover.points
        path = leftover.keep(lost, status)
        log.error(
            "run %s is not ended: %s has not answered for %g s. Its end (%s)%s%s are kept in %s;"
            " `shipyard run replay` sends them once the server is back",
            self.id,
            self._server,
            self._outage_wait,
            status,
            f", {points} metric points" if points else "",
            f" and the count of {lost} lost ones" if lost else "",
            path,
        )

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.end(RunStatus.FINISHED)
        elif issubclass(exc_type, KeyboardInterrupt):
            self.end(RunStatus.KILLED)
        else:
            self.end(RunStatus.FAILED)


@atexit.register
def _flush_at_exit() -> None:
    """Runs left open when the interpreter exits: ship their metrics, mark them FINISHED."""
    with _OPEN_LOCK:
        runs = list(_OPEN_RUNS)
    for run in runs:
        # Best effort at exit: the server may be gone and nobody is left to tell.
        with contextlib.suppress(Exception):
            run.end(RunStatus.FINISHED)


def _mention_leftovers() -> None:
    """Files an earlier process could not send: say how to send them (once per process)."""
    global _MENTIONED  # noqa: PLW0603 — once per process, not once per run
    if _MENTIONED:
        return
    _MENTIONED = True
    with contextlib.suppress(OSError):
        files = leftover_files(spill_dir())
        if files:
            log.warning(
                "%d spill file(s) of earlier runs wait in %s: `shipyard run replay` sends them",
                len(files),
                spill_dir(),
            )


_MENTIONED = False
