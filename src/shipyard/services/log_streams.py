"""Logs as data: appended in chunks through the artifact store, readable from any server.

A job's log (its preparation lines, then its process's output) is written by the one
server holding the job, read by any server (``job stream`` against whichever the load
balancer picks), kept in backups with the other artifacts, and survives the server that
wrote it. Each log is a *stream* named like an artifact prefix
(``<workspace>/_logs/jobs/<name>``); a writer buffers what it is given and publishes it as
an object ``<stream>/<offset>.log`` plus a row ``(stream, offset, size, key)`` in the
database, so a reader sees only whole chunks that were committed, in order, without
listing the store::

    writer = logs.writer(job_log_stream("default", "calm_rudder_3kx9q2fw"))
    writer.append(b"[shipyard] job ... on compute 'local'\n")
    writer.flush_if_due()          # at most every FLUSH_S, or at FLUSH_BYTES
    logs.read(stream, offset=0)    # any server

A writer that dies between the object and the row leaves an object no record points to
(``shipyard gc`` removes it); the next writer (an adopting server) starts at the end the
rows say. Two writers racing for one offset cannot both win: the row is unique.
"""

from __future__ import annotations

import threading
import time

from shipyard.errors import AlreadyExists, Conflict
from shipyard.services._clock import now_ms
from shipyard.services.job_ports import LogChunkRef
from shipyard.services.ports import ArtifactStore, Database

__all__ = ["FLUSH_BYTES", "FLUSH_S", "LogStreams", "LogWriter", "job_log_stream"]

FLUSH_S = 0.25
"""The longest a written line waits before any server can read it. A job's log follower
polls every 0.1 s; a quarter second keeps a chatty job to four objects a second."""
FLUSH_BYTES = 1 << 20
_READ_CHUNKS = 16
_MAX_OFFSET = 2**63


def job_log_stream(workspace: str, name: str) -> str:
    return f"{workspace}/_logs/jobs/{name}"


class LogStreams:
    def __init__(self, db: Database, store: ArtifactStore) -> None:
        self.db = db
        self.store = store

    def writer(self, stream: str) -> LogWriter:
        """A writer that appends after what the stream holds already."""
        return LogWriter(self, stream, self.size(stream))

    def size(self, stream: str) -> int:
        with self.db.read() as uow:
            return uow.log_chunks.size(stream)

    def read(self, stream: str, offset: int, limit: int = 1 << 20) -> bytes:
        """Up to ``limit`` committed bytes from ``offset`` (empty past the end)."""
        if offset >= _MAX_OFFSET:
            return b""  # no log is that long, and the database's integers stop there
        with self.db.read() as uow:
            chunks = uow.log_chunks.from_offset(stream, offset, _READ_CHUNKS)
        out = bytearray()
        for chunk in chunks:
            if chunk.offset > offset + len(out) or len(out) >= limit:
                break  # a gap cannot happen (offsets are contiguous); stop rather than skip
            with self.store.get(chunk.key) as handle:
                data = handle.read()
            start = offset + len(out) - chunk.offset
            out += data[start : start + limit - len(out)]
        return bytes(out)

    def publish(self, stream: str, offset: int, data: bytes) -> None:
        key = f"{stream}/{offset:016d}.log"
        with self.store.staging_file() as (path, handle):
            handle.write(data)
            handle.flush()
            self.store.put(key, path)
        with self.db.write() as uow:
            uow.log_chunks.add(stream, LogChunkRef(offset, len(data), key), now_ms())


class LogWriter:
    """Appends to one stream; thread-safe (a job's preparation and its watch both write)."""

    def __init__(self, streams: LogStreams, stream: str, committed: int) -> None:
        self.streams = streams
        self.stream = stream
        self._committed = committed
        self._pending = bytearray()
        self._since = 0.0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """The log's length with what is still buffered."""
        with self._lock:
            return self._committed + len(self._pending)

    def append(self, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            if not self._pending:
                self._since = time.monotonic()
            self._pending += data
            full = len(self._pending) >= FLUSH_BYTES
        if full:
            self.flush()

    def flush_if_due(self) -> None:
        with self._lock:
            due = bool(self._pending) and time.monotonic() - self._since >= FLUSH_S
        if due:
            self.flush()

    def flush(self) -> None:
        """Publish what is buffered (before a status that ends the job: a follower stops
        reading once the job has ended and nothing more comes)."""
        with self._lock:
            if not self._pending:
                return
            data, offset = bytes(self._pending), self._committed
            try:
                self.streams.publish(self.stream, offset, data)
            except AlreadyExists:
                raise Conflict(
                    f"log {self.stream} was written by another server from offset {offset}:"
                    " this one no longer holds it"
                ) from None
            self._committed += len(data)
            del self._pending[:]
