"""A deployment's one log file: every worker's output line by line, and the runtime's events.

Each line starts with a UTC timestamp and its source::

    2026-11-26T08:50:01.123Z [worker 0] model loaded in 2.41 s; ready
    2026-11-26T08:50:07.002Z [runtime] worker 0 (pid 4242) crashed: killed by signal SIGKILL

A chatty scoring script must not fill the disk: past ``max_bytes`` the file is renamed
``deployment.log.1`` (the older ones move up to ``.<backups>``, the oldest is dropped) and
a new one begun; ``tail`` reads across them, so ``get-logs --lines N`` does not come up
short right after a rotation.

A server also hands each written piece to ``mirror`` (when given): the deployment's shared
log stream, so ``get-logs`` through a server running none of its workers reads them too
(``services.endpoint_logs.WorkerLogMirror`` batches and caps what it is given).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

_BLOCK = 1 << 16
MAX_BYTES = 16 << 20  # per file; with BACKUPS, at most 64 MiB per deployment
BACKUPS = 3


def _timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


class DeploymentLog:
    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = MAX_BYTES,
        backups: int = BACKUPS,
        mirror: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path
        self.mirror = mirror
        self._max = max_bytes
        self._backups = max(1, backups)
        self._lock = threading.Lock()
        path.touch()

    @classmethod
    def existing(cls, path: Path) -> DeploymentLog | None:
        """The log of a deployment no longer running, if it has one."""
        return cls(path) if path.is_file() else None

    def write(self, source: str, text: str) -> None:
        stamp = _timestamp()
        data = "".join(f"{stamp} [{source}] {line}\n" for line in text.splitlines() or [""])
        with self._lock:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(data)
                size = f.tell()
            if size >= self._max:
                self._rotate()
        if self.mirror is not None:
            self.mirror(data)  # buffers only: never waits for the store

    def _rotate(self) -> None:
        for i in range(self._backups - 1, 0, -1):
            older = _backup(self.path, i)
            if older.exists():
                os.replace(older, _backup(self.path, i + 1))
        os.replace(self.path, _backup(self.path, 1))
        self.path.touch()

    def event(self, text: str) -> None:
        self.write("runtime", text)

    def pump(self, source: str, stream: IO[bytes]) -> threading.Thread:
        """Copy ``stream`` (a worker's stdout) into the log, line by line, until it closes."""

        def copy() -> None:
            with stream:
                for raw in stream:
                    self.write(source, raw.decode("utf-8", "replace").rstrip("\r\n"))

        thread = threading.Thread(target=copy, name=f"log-{source}", daemon=True)
        thread.start()
        return thread

    def tail(self, lines: int) -> str:
        return tail(self.path, lines)


def _backup(path: Path, n: int) -> Path:
    return path.with_name(f"{path.name}.{n}")


def tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of the log at ``path`` and, when it has fewer, of the files
    it was rotated into (``path.1``, ``path.2``, …)."""
    if lines <= 0:
        return ""
    parts: list[str] = []
    n, wanted = 0, lines
    while wanted > 0:
        current = path if n == 0 else _backup(path, n)
        if not current.is_file():
            if n == 0:
                n += 1
                continue
            break
        chunk = _tail_one(current, wanted)
        parts.append(chunk)
        wanted -= chunk.count("\n")
        n += 1
    return "".join(reversed(parts))


def _tail_one(path: Path, lines: int) -> str:
    """The last ``lines`` lines of one file, read from the end."""
    with open(path, "rb") as f:
        end = os.fstat(f.fileno()).st_size
        pos, data = end, b""
        while pos > 0 and data.count(b"\n") <= lines:
            step = min(_BLOCK, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
    text = data.decode("utf-8", "replace").splitlines()[-lines:]
    return "\n".join(text) + ("\n" if text else "")
