"""A deployment's preparation log: what bringing it up says line by line — the model
download, the environment build with uv's output, each worker starting and its probes —
read by byte offset while a client follows it (``progress``) and by its last lines
(``get-logs``).

A server keeps it as data (:class:`StreamPreparationLogs`): a log stream in the artifact
store (``<workspace>/_logs/deployments/<endpoint>/<deployment>/<created at>``, see
:mod:`shipyard.services.log_streams`), so ``progress`` and ``get-logs`` answer the same from
every server behind a load balancer, the log outlives the server that wrote it, and backups
keep it. Every server that brings the deployment up appends to it (a restart's "applying
revision … again" included). Each line is published before the next step, so a client that
sees the deployment Succeeded or Failed has every line written before it.

A scoring replica (``shipyard serve``) never writes to the database: it keeps what its own
preparation says in a file, ``deploy.log`` beside its revisions (:class:`FilePreparationLogs`).

The workers' output (``deployment.log`` on each serving server's disk) is shared the same way
(:class:`WorkerLogs`): one stream per deployment, ``<preparation stream>/workers``, which every
server running its workers appends to, each line prefixed by the server's label. Lines are
batched (a chunk at most every second, or at 64 KiB) and the stream stops growing at a cap
(``deployment_log_max_mib``, plus one line saying so); past it the output is only in each
server's own file.
"""

from __future__ import annotations

import logging
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from shipyard.services.log_streams import LogStreams, deployment_log_stream
from shipyard.services.ports import Database
from shipyard.services.serving_ports import DeploymentKey, Instance, InstanceState

__all__ = [
    "PROGRESS_BYTES",
    "FilePreparationLogs",
    "PreparationLogs",
    "StreamPreparationLogs",
    "WorkerLogs",
    "instance_line",
    "read_from",
    "shared_worker_logs",
    "tail",
    "tree",
]

log = logging.getLogger(__name__)

_PREPARE_LOG = "deploy.log"
_WORKERS = "/workers"
_WORKER_FLUSH_S = 1.0
_WORKER_FLUSH_BYTES = 1 << 16
_UNSENT_MAX = 4 << 20  # what a server keeps for the stream while the database is away
_TAIL_WINDOW = 1 << 16


class PreparationLogs(ABC):
    """Where deployments' preparation logs are kept."""

    @abstractmethod
    def say(self, key: DeploymentKey, line: str) -> None:
        """Append one line (nothing when the deployment is gone)."""

    @abstractmethod
    def read_from(self, key: DeploymentKey, offset: int) -> tuple[str, int]:
        """As :func:`read_from`."""

    @abstractmethod
    def tail(self, key: DeploymentKey, lines: int) -> str:
        """The last ``lines`` lines."""


class FilePreparationLogs(PreparationLogs):
    """``deploy.log`` in each deployment's folder under ``deployments_dir``."""

    def __init__(self, deployments_dir: Path) -> None:
        self.deployments_dir = deployments_dir
        self._lock = threading.Lock()

    def _path(self, key: DeploymentKey) -> Path:
        return self.deployments_dir / key.workspace / key.endpoint / key.deployment / _PREPARE_LOG

    def say(self, key: DeploymentKey, line: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, path.open("a", encoding="utf-8") as out:
            out.write(line.rstrip("\n") + "\n")

    def read_from(self, key: DeploymentKey, offset: int) -> tuple[str, int]:
        return read_from(self._path(key), offset)

    def tail(self, key: DeploymentKey, lines: int) -> str:
        return tail(self._path(key), lines)


class StreamPreparationLogs(PreparationLogs):
    """Each deployment's log as a stream in the artifact store, indexed in the database."""

    def __init__(self, db: Database, streams: LogStreams, *, suffix: str = "") -> None:
        self.db = db
        self.streams = streams
        self.suffix = suffix  # "/workers": the workers' output (WorkerLogs)

    def stream(self, key: DeploymentKey) -> str | None:
        # Looked up each time rather than cached: another server may have deleted the
        # deployment and made a namesake (a new log) since this one last wrote.
        with self.db.read() as uow:
            found = uow.deployments.get(key.workspace, key.endpoint, key.deployment)
        if found is None:
            return None
        stream = deployment_log_stream(key.workspace, key.endpoint, key.deployment, found.created_at)
        return stream + self.suffix

    def say(self, key: DeploymentKey, line: str) -> None:
        stream = self.stream(key)
        if stream is not None:
            self.streams.append(stream, (line.rstrip("\n") + "\n").encode("utf-8"))

    def read_from(self, key: DeploymentKey, offset: int) -> tuple[str, int]:
        stream = self.stream(key)
        if stream is None:
            return "", 0
        end = self.streams.size(stream)
        if offset < 0 or offset > end:
            return "", end if offset < 0 else 0
        data = self._read(stream, offset, min(end, offset + PROGRESS_BYTES))
        cut = data.rfind(b"\n") + 1
        return data[:cut].decode("utf-8", errors="replace"), offset + cut

    def _read(self, stream: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)``: a read returns a bounded number of chunks, and here each
        line is one."""
        out = bytearray()
        while start + len(out) < end:
            data = self.streams.read(stream, start + len(out), end - start - len(out))
            if not data:
                break
            out += data
        return bytes(out)

    def tail(self, key: DeploymentKey, lines: int) -> str:
        stream = self.stream(key)
        if stream is None or lines <= 0:
            return ""
        end = self.streams.size(stream)
        window = _TAIL_WINDOW
        while True:  # read back from the end until the window holds enough lines
            start = max(0, end - window)
            data = self._read(stream, start, end)
            if start == 0 or data.count(b"\n") > lines:
                break
            window *= 4
        kept = data.decode("utf-8", errors="replace").splitlines()[-lines:]
        return "".join(f"{line}\n" for line in kept)


PROGRESS_BYTES = 1 << 16
"""At most this much of the log per progress answer (the rest comes with the next)."""


def shared_worker_logs(db: Database, streams: LogStreams) -> StreamPreparationLogs:
    """The deployments' workers' output as shared by the serving servers, to read."""
    return StreamPreparationLogs(db, streams, suffix=_WORKERS)


class WorkerLogs:
    """The workers' output of every deployment as a shared stream (see the module docstring).

    :meth:`mirror` gives the runtime, per deployment, where to hand each piece of its log;
    a thread of its own publishes what came at most every second (sooner at 64 KiB), so a
    chatty worker costs one object a second, not one per line. Up to ``cap_bytes`` per
    deployment are kept; 0 keeps nothing.
    """

    def __init__(self, db: Database, streams: LogStreams, label: str, cap_bytes: int) -> None:
        self.reader = shared_worker_logs(db, streams)
        self.streams = streams
        self.label = label
        self.cap = cap_bytes
        self._pending: dict[DeploymentKey, bytearray] = {}
        self._lock = threading.Lock()
        self._due = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shipyard-worker-logs", daemon=True)
        self._thread.start()

    def mirror(self, key: DeploymentKey) -> Callable[[str], None]:
        return lambda text: self.add(key, text)

    def add(self, key: DeploymentKey, text: str) -> None:
        if self.cap <= 0 or not text:
            return
        data = "".join(f"[{self.label}] {line}\n" for line in text.splitlines()).encode("utf-8", "replace")
        with self._lock:
            pending = self._pending.setdefault(key, bytearray())
            if len(pending) + len(data) > _UNSENT_MAX:
                return  # the store is away long enough: the server's own file still has it
            pending += data
            full = len(pending) >= _WORKER_FLUSH_BYTES
        if full:
            self._due.set()

    def tail(self, key: DeploymentKey, lines: int) -> str:
        return self.reader.tail(key, lines)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for key, data in pending.items():
            try:
                self._publish(key, bytes(data))
            except Exception:  # the database or the store is away: try again later
                log.warning("could not share the workers' log of %s; trying again", key, exc_info=True)
                with self._lock:
                    later = self._pending.setdefault(key, bytearray())
                    if len(later) + len(data) <= _UNSENT_MAX:
                        later[:0] = data

    def _publish(self, key: DeploymentKey, data: bytes) -> None:
        stream = self.reader.stream(key)
        if stream is None:
            return  # deleted meanwhile
        room = self.cap - self.streams.size(stream)
        if room <= 0:
            return  # full: another server (or this one) already said so
        if len(data) > room:
            note = (
                f"[{self.label}] [shipyard] the workers' output past {self.cap / (1 << 20):g} MiB"
                " is kept only in each serving server's deployment.log\n"
            ).encode()
            kept = data[:room]  # whole lines up to the cap, then the note (a line past it)
            data = kept[: kept.rfind(b"\n") + 1] + note
        self.streams.append(stream, data)

    def _run(self) -> None:
        while not self._closing.is_set():
            self._due.wait(_WORKER_FLUSH_S)
            self._due.clear()
            self.flush()

    def close(self) -> None:
        """Publish what is left (after the runtime said its last lines)."""
        self._closing.set()
        self._due.set()
        self._thread.join()
        self.flush()


def instance_line(instance: Instance, seconds: float) -> str:
    """One worker's new state in words, ``seconds`` after its revision started coming up."""
    who = f"workers: {instance.index}" + (f" (pid {instance.pid})" if instance.pid else "")
    if instance.state is InstanceState.READY:
        return f"{who}: ready after {seconds:.1f} s (its readiness probe passes)"
    what = instance.message or str(instance.state.value).lower()
    return f"{who}: {str(instance.state.value).lower()}: {what}"


def tree(root: Path) -> tuple[int, int]:
    """Files and bytes under ``root``."""
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def read_from(path: Path, offset: int) -> tuple[str, int]:
    """Whole lines of ``path`` from byte ``offset`` (at most :data:`PROGRESS_BYTES`), and the
    offset after them. ``offset`` -1: nothing, and the offset of the end (to follow from);
    past the end (the log was begun anew by a create): nothing, and 0."""
    try:
        with path.open("rb") as f:
            end = os.fstat(f.fileno()).st_size
            if offset < 0 or offset > end:
                return "", end if offset < 0 else 0
            f.seek(offset)
            data = f.read(PROGRESS_BYTES)
    except FileNotFoundError:
        return "", 0
    cut = data.rfind(b"\n") + 1  # a line still being written comes whole next time
    return data[:cut].decode("utf-8", errors="replace"), offset + cut


def tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    kept = text.splitlines()[-lines:] if lines > 0 else []
    return "".join(f"{line}\n" for line in kept)
