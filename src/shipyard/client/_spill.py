"""Metric batches the server could not take, kept in a local file until it can.

One file per run and process, in :func:`spill_dir`, made when the first batch cannot be
sent and removed once every batch in it is acknowledged. Each batch keeps the idempotency
key it was first sent with, so a batch the server stored but whose answer was lost is
acknowledged again, not stored twice, when it is replayed. The format is lines of text,
each record's payload after its line::

    shipyard-spill 1 {"url": …, "workspace": …, "run_id": …, "pid": …, "created_ms": …}
    B <idempotency key> <points> <bytes>      a batch: the body of POST …/metrics follows
    L <points>                                points lost (the file was full): tag the run
    E <status>                                the run's end, which could not be sent either

Only ``B`` records are written while the process runs; ``L`` and ``E`` are added when it
ends with the server still unreachable, so that ``shipyard run replay`` can finish the job.
A record cut short (the process killed while writing it) ends the file.

The process holds a lock on its file while it lives (where ``fcntl`` exists), so a replay
never sends a file a live process is still sending.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; a replay is idempotent anyway
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from shipyard.client.client import Client

__all__ = [
    "LOST_POINTS_TAG",
    "LeftOver",
    "Replayed",
    "SpillFile",
    "leftover_files",
    "read_leftover",
    "replay",
    "spill_dir",
]

# Set on a run some of whose metric points never reached the server, to how many.
LOST_POINTS_TAG = "shipyard.lost_metric_points"

_MAGIC = b"shipyard-spill 1 "
_LINE_MAX = 256  # a record line is ~60 bytes: a longer one is not ours


def spill_dir() -> Path:
    """``$SHIPYARD_SPILL_DIR``, else ``$XDG_STATE_HOME/shipyard/spill`` (``~/.local/state/…``)."""
    given = os.environ.get("SHIPYARD_SPILL_DIR")
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "shipyard" / "spill"


@dataclass(frozen=True, slots=True)
class Record:
    key: str
    points: int
    payload: bytes
    end: int  # file offset just past it


class SpillFile:
    """An append-only file of batches with a read position; thread-safe.

    ``max_bytes`` bounds the file: :meth:`append` refuses a batch that would pass it. Once
    every batch is read and acknowledged (:meth:`pop`) the file is cut back to its header,
    so the bound is on what is waiting, not on what an outage has seen in all.
    """

    def __init__(self, folder: Path, header: dict[str, Any], max_bytes: int) -> None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{header.get('run_id', 'run')}-{os.getpid()}-{time.time_ns() // 1_000_000}.spill"
        self.path = folder / name
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        if fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(self._fd, _MAGIC + orjson.dumps(header) + b"\n")
        self._start = self._read = self._size = os.fstat(self._fd).st_size
        self._max = max_bytes
        self._lock = threading.Lock()
        self.points = 0  # waiting in the file
        self._closed = False

    def append(self, key: str, points: int, payload: bytes) -> bool:
        """Write one batch; False when it would pass ``max_bytes`` (nothing written)."""
        record = b"B %s %d %d\n" % (key.encode(), points, len(payload)) + payload
        with self._lock:
            if self._size + len(record) > self._max:
                return False
            os.write(self._fd, record)  # O_APPEND: one write, at the end
            self._size += len(record)
            self.points += points
        return True

    def peek(self) -> Record | None:
        """The oldest batch not yet acknowledged, or None."""
        with self._lock:
            if self._closed or self._read >= self._size:
                return None
            return _read_batch(self._fd, self._read)

    def pop(self, record: Record) -> None:
        """``record`` (from :meth:`peek`) is acknowledged: move past it."""
        with self._lock:
            if self._closed:  # kept or discarded meanwhile: the file is what it is
                return
            self._read = record.end
            self.points -= record.points
            if self._read >= self._size:  # drained: start over, the bound counts from here
                os.ftruncate(self._fd, self._start)
                self._read = self._size = self._start

    def keep(self, lost: int, status: str | None) -> Path:
        """The process ends with this file unsent: note what a replay must also do, close it."""
        tail = (b"L %d\n" % lost if lost else b"") + (b"E %s\n" % status.encode() if status else b"")
        with self._lock:
            if tail:
                os.write(self._fd, tail)
            os.fsync(self._fd)
            self._close_locked()
        return self.path

    def discard(self) -> None:
        """Every batch is acknowledged: the file goes."""
        with self._lock:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self._close_locked()

    def _close_locked(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._fd)  # and the lock with it


def _read_batch(fd: int, offset: int) -> Record | None:
    line = os.pread(fd, _LINE_MAX, offset)
    newline = line.find(b"\n")
    if newline < 0 or not line.startswith(b"B "):
        return None
    parts = line[:newline].split()
    if len(parts) != 4:
        return None
    key, points, size = parts[1].decode(), int(parts[2]), int(parts[3])
    start = offset + newline + 1
    payload = os.pread(fd, size, start)
    if len(payload) < size:
        return None  # cut short by a kill: what follows was never acknowledged to anyone
    return Record(key, points, payload, start + size)


@dataclass
class LeftOver:
    """What a process left in a spill file it could not send (see :func:`read_leftover`)."""

    path: Path
    header: dict[str, Any]
    batches: list[Record] = field(default_factory=list)
    lost: int = 0
    status: str | None = None

    @property
    def points(self) -> int:
        return sum(b.points for b in self.batches)


def read_leftover(path: Path) -> LeftOver | None:
    """Parse a spill file whose process is gone; None while a live process holds it.

    Raises ``ValueError`` for a file that is not a spill file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return None
        head = os.pread(fd, 4096, 0)
        newline = head.find(b"\n")
        if not head.startswith(_MAGIC) or newline < 0:
            raise ValueError(f"{path} is not a Shipyard spill file")
        left = LeftOver(path, orjson.loads(head[len(_MAGIC) : newline]))
        offset, size = newline + 1, os.fstat(fd).st_size
        while offset < size:
            line = os.pread(fd, _LINE_MAX, offset)
            if line.startswith(b"B "):
                record = _read_batch(fd, offset)
                if record is None:
                    break
                left.batches.append(record)
                offset = record.end
                continue
            newline = line.find(b"\n")
            if newline < 0:
                break
            kind, _, value = line[:newline].decode().partition(" ")
            if kind == "L":
                left.lost += int(value)
            elif kind == "E":
                left.status = value
            offset += newline + 1
        return left
    finally:
        os.close(fd)


def leftover_files(folder: Path) -> list[Path]:
    """Spill files in ``folder`` that no live process holds, oldest first."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.spill"), key=lambda p: p.stat().st_mtime):
        fd = os.open(path, os.O_RDONLY)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
            found.append(path)
        finally:
            os.close(fd)
    return found


@dataclass(frozen=True, slots=True)
class Replayed:
    """What :func:`replay` did with one file."""

    run_id: str
    sent: int  # points the server stored now
    duplicate: int  # points it already had (their batch's answer was lost)
    lost: int
    status: str | None  # the run's end, set now
    error: str = ""  # why the file was kept: the rest is for a later replay


def replay(client: Client, left: LeftOver) -> Replayed:
    """Send what ``left`` holds with the batches' own keys, tag the lost count, end the run;
    remove the file when all of it went through."""
    run_id = str(left.header.get("run_id", ""))
    sent = duplicate = 0
    try:
        for batch in left.batches:
            answer = client.log_metric_batch(run_id, batch.payload, batch.key)
            if answer.get("duplicate"):
                duplicate += batch.points
            else:
                sent += batch.points
        if left.lost:
            client.set_tags(run_id, {LOST_POINTS_TAG: left.lost})
        if left.status:
            client.update_run(run_id, status=left.status)
    except Exception as exc:  # noqa: BLE001 — reported per file; the file stays for another try
        return Replayed(run_id, sent, duplicate, left.lost, None, f"{type(exc).__name__}: {exc}")
    with contextlib.suppress(FileNotFoundError):
        left.path.unlink()
    return Replayed(run_id, sent, duplicate, left.lost, left.status)
