"""The audit log: append-only, hash-chained, written before the answer leaves.

Each entry holds the hash of the one before it (``domain.identity.audit_hash``), and a
one-row head keeps the last number and hash, so :meth:`AuditLog.verify` finds an entry
that was changed, removed from the middle or cut from the end. What it cannot see is a
chain rewritten from the changed entry to the head by someone who can write the database;
``audit verify`` prints the head hash so it can be kept elsewhere and compared later.

Appends are group-committed: a thread takes whatever entries are waiting and writes them
in one transaction (the head row locked, so several servers take turns), then releases
the requests that wait for them. Under load one commit carries many entries; alone, an
entry costs one small transaction.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

from shipyard.domain.identity import AuditEntry, audit_hash
from shipyard.services._clock import now_ms
from shipyard.services.ports import Database

__all__ = ["AuditLog", "Verification"]

log = logging.getLogger("shipyard.audit")

_BATCH = 500
_SCAN_PAGE = 5000


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: queue.SimpleQueue[tuple[AuditEntry, Future[int]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- writing -----------------------------------------------------------------------

    def record(
        self,
        *,
        actor: str,
        action: str,
        target: str,
        workspace: str,
        status: int,
        outcome: str,
        detail: dict[str, Any] | None = None,
    ) -> Future[int]:
        """Queue an entry; the future gives its sequence number once committed."""
        entry = AuditEntry(
            seq=0,
            ts=now_ms(),
            actor=actor[:256],
            action=action[:128],
            target=target[:2000],
            workspace=workspace[:64],
            status=status,
            outcome=outcome,
            detail=detail or {},
        )
        done: Future[int] = Future()
        self._ensure_thread()
        self._queue.put((entry, done))
        return done

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="shipyard-audit", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then end the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < _BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[tuple[AuditEntry, Future[int]]]) -> None:
        try:
            with self.db.write() as uow:
                seq, prev = uow.audit.head()
                chained: list[AuditEntry] = []
                for entry, _ in batch:
                    seq += 1
                    numbered = replace(entry, seq=seq, prev_hash=prev)
                    prev = audit_hash(numbered, prev)
                    chained.append(replace(numbered, hash=prev))
                uow.audit.append(chained)
        except Exception as exc:
            log.exception("could not write %d audit entries", len(batch))
            for _, done in batch:
                done.set_exception(exc)
            return
        for entry, (_, done) in zip(chained, batch, strict=True):
            done.set_result(entry.seq)

    # -- reading -----------------------------------------------------------------------

    def search(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: int | None = None,
        before_seq: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        with self.db.read() as uow:
            return uow.audit.search(
                actor=actor, action=action, since=since, before_seq=before_seq, limit=limit
            )

    def verify(self) -> Verification:
        """Walk the whole chain; the first entry that does not fit is named."""
        expected_seq, prev = 0, "0" * 64
        count = 0
        with self.db.read() as uow:
            head_seq, head_hash = uow.audit.stored_head()
            while True:
                page = uow.audit.scan(expected_seq, _SCAN_PAGE)
                for entry in page:
                    problem = _problem(entry, expected_seq + 1, prev)
                    if problem is not None:
                        return Verification(False, count, head_seq, head_hash, entry.seq, problem)
                    expected_seq, prev = entry.seq, entry.hash
                    count += 1
                if len(page) < _SCAN_PAGE:
                    break
        if (expected_seq, prev) != (head_seq, head_hash):
            return Verification(
                False,
                count,
                head_seq,
                head_hash,
                expected_seq + 1,
                f"the log ends at entry {expected_seq} but its head says {head_seq}:"
                f" entries after {expected_seq} were removed (or the head was changed)",
            )
        return Verification(True, count, head_seq, head_hash)


def _problem(entry: AuditEntry, seq: int, prev: str) -> str | None:
    if entry.seq != seq:
        missing = f"{seq}" if entry.seq == seq + 1 else f"{seq}-{entry.seq - 1}"
        return f"entry {missing} is missing (the log jumps from {seq - 1} to {entry.seq})"
    if entry.prev_hash != prev:
        return f"entry {entry.seq} does not follow entry {seq - 1} (its previous hash differs)"
    if audit_hash(entry, prev) != entry.hash:
        return f"entry {entry.seq} was changed after it was written (its hash does not match its fields)"
    return None
