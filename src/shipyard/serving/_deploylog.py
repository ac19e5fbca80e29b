"""A deployment's one log file: every worker's output line by line, and the runtime's events.

Each line starts with a UTC timestamp and its source::

    2026-11-26T08:50:01.123Z [worker 0] model loaded in 2.41 s; ready
    2026-11-26T08:50:07.002Z [runtime] worker 0 (pid 4242) crashed: killed by signal SIGKILL
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import IO

_BLOCK = 1 << 16


def _timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


class DeploymentLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.touch()

    @classmethod
    def existing(cls, path: Path) -> DeploymentLog | None:
        """The log of a deployment no longer running, if it has one."""
        return cls(path) if path.is_file() else None

    def write(self, source: str, text: str) -> None:
        stamp = _timestamp()
        data = "".join(f"{stamp} [{source}] {line}\n" for line in text.splitlines() or [""])
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(data)

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


def tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of ``path``, read from the end."""
    if lines <= 0:
        return ""
    if not path.is_file():
        return ""
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
