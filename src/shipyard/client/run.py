"""``ActiveRun``: the handle a training script logs through."""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import threading
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any

from shipyard.client._batcher import MetricBatcher
from shipyard.client._sysmetrics import SystemMetricsSampler
from shipyard.client.client import Client
from shipyard.domain.registry import ModelVersion
from shipyard.domain.tracking import Run, RunStatus
from shipyard.errors import InvalidArgument

__all__ = ["ActiveRun"]

_OPEN_RUNS: weakref.WeakSet[ActiveRun] = weakref.WeakSet()
_OPEN_LOCK = threading.Lock()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _as_float(key: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"metric {key!r} must be a number, got {type(value).__name__}") from None


class ActiveRun:
    """A run being logged to. Use it as a context manager: it ends FINISHED, or FAILED when
    the block raises (KILLED on Ctrl-C), after every buffered metric is acknowledged."""

    def __init__(
        self,
        client: Client,
        run: Run,
        *,
        log_system_metrics: bool = False,
        system_metrics_interval: float = 10.0,
    ) -> None:
        self.client = client
        self.id = run.id
        self.info = run
        self._batcher = MetricBatcher(lambda payload, key: client.log_metric_batch(self.id, payload, key))
        self._sampler: SystemMetricsSampler | None = None
        if log_system_metrics:
            self._sampler = SystemMetricsSampler(self._log_system, system_metrics_interval)
            self._sampler.start()
        self._ended = False
        with _OPEN_LOCK:
            _OPEN_RUNS.add(self)

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
        """Block until every metric logged so far is stored on the server."""
        self._batcher.flush()

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
        if self._ended:
            return
        self._ended = True
        try:
            if self._sampler is not None:
                self._sampler.stop()
            self._batcher.close()
        finally:
            self.client.update_run(self.id, status=str(RunStatus(status)))
            with _OPEN_LOCK:
                _OPEN_RUNS.discard(self)

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
