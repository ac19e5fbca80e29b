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

A deployment's preparation log is a stream too
(``<workspace>/_logs/deployments/<endpoint>/<deployment>/<created at>``), appended to by
every server that brings the deployment up: :meth:`LogStreams.append` gives each chunk a key
of its own and lets only the row race for the end.

A writer that dies between the object and the row leaves an object no record points to
(``shipyard gc`` removes it); the next writer (an adopting server) starts at the end the
rows say. Two writers racing for one offset cannot both win: the row is unique.
"""

from __future__ import annotations

import random
import secrets
import threading
import time

from shipyard.errors import AlreadyExists, Conflict
from shipyard.services._clock import now_ms
from shipyard.services.job_ports import LogChunkRef
from shipyard.services.ports import ArtifactStore, Database

__all__ = ["FLUSH_BYTES", "FLUSH_S", "LogStreams", "LogWriter", "deployment_log_stream", "job_log_stream"]

FLUSH_S = 0.25
"""The longest a written line waits before any server can read it. A job's log follower
polls every 0.1 s; a quarter second keeps a chatty job to four objects a second."""
FLUSH_BYTES = 1 << 20
_READ_CHUNKS = 16
_MAX_OFFSET = 2**63
_APPEND_TRIES = 50


def job_log_stream(workspace: str, name: str) -> str:
    return f"{workspace}/_logs/jobs/{name}"


def deployment_log_stream(workspace: str, endpoint: str, name: str, created_at: int) -> str:
    """A deployment's preparation log; ``created_at`` tells a namesake made after a delete
    from the one before it, so each has a log of its own."""
    return f"{workspace}/_logs/deployments/{endpoint}/{name}/{created_at}"


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

    def append(self, stream: str, data: bytes) -> None:
        """Publish ``data`` at the end of a log other servers may append to as well (a
        deployment's, which every server bringing it up writes). The object gets a key of
        its own, written once; only the row races for the end, and a lost race is tried
        again at the new end (on SQLite, whose writers take turns, it never is lost)."""
        key = f"{stream}/{now_ms():013d}-{secrets.token_hex(4)}.log"
        self._put(key, data)
        for attempt in range(_APPEND_TRIES):
            try:
                with self.db.write() as uow:
                    offset = uow.log_chunks.size(stream)
                    uow.log_chunks.add(stream, LogChunkRef(offset, len(data), key), now_ms())
                return
            except AlreadyExists:
                if attempt == _APPEND_TRIES - 1:
                    raise
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # noqa: S311 - jitter, not a secret

    def publish(self, stream: str, offset: int, data: bytes) -> None:
        """Store ``data`` as the chunk at ``offset``; AlreadyExists when another writer got there first."""
        key = f"{stream}/{offset:016d}.log"
        self._put(key, data)
        with self.db.write() as uow:
            uow.log_chunks.add(stream, LogChunkRef(offset, len(data), key), now_ms())

    def _put(self, key: str, data: bytes) -> None:
        with self.store.staging_file() as (path, handle):
            handle.write(data)
            handle.flush()
            self.store.put(key, path)


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
