"""The on-disk layout of the environment cache, its marker file and its per-hash locks.

::

    <cache_dir>/
      <hash>/                  a finished environment; it appears only by an atomic rename
        venv/                  the virtual environment (relocatable)
        environment.json       the marker: written last, read on every cache hit
        build.log              uv's output while building
        requirements.txt       what was installed, as handed to uv
        last-used              its mtime is the last time a job asked for it
      .building/<hash>-…/      builds in progress (same filesystem, so the rename is atomic)
      .locks/<hash>.lock       flock'd by the one process building <hash>
      failed/<hash>-<time>.log build logs of failures
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MARKER = "environment.json"
LAST_USED = "last-used"
BUILD_LOG = "build.log"
MARKER_FORMAT = 1
HASH_NAME = re.compile(r"[0-9a-f]{16}")

__all__ = ["CachedEnvironment"]


@dataclass(frozen=True, slots=True)
class CachedEnvironment:
    """One finished environment in the cache, for listing and pruning."""

    hash: str
    path: Path
    size_bytes: int
    built_at: datetime
    last_used: datetime
    requirements: tuple[str, ...]
    python_version: str


@contextmanager
def locked(lock_file: Path, *, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``lock_file``; yields ``False`` if not blocking and busy.

    Each call opens its own file description, so the lock excludes threads of this process
    as well as other processes; the kernel drops it when a holder dies.
    """
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def read_marker(env_dir: Path) -> dict[str, Any] | None:
    """The marker of a finished environment, or ``None`` when there is none (or it is foreign)."""
    try:
        data = json.loads((env_dir / MARKER).read_bytes())
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != MARKER_FORMAT:
        return None
    return data


def write_marker(env_dir: Path, data: dict[str, Any]) -> None:
    """Write the marker durably; it is the last file of a build, before the rename."""
    path = env_dir / MARKER
    with open(path, "w", encoding="utf-8") as out:
        json.dump({"format": MARKER_FORMAT, **data}, out, indent=1, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())


def describe(env_dir: Path, marker: dict[str, Any]) -> CachedEnvironment:
    built_at = datetime.fromisoformat(marker["built_at"])
    try:
        last_used = datetime.fromtimestamp((env_dir / LAST_USED).stat().st_mtime, UTC)
    except FileNotFoundError:
        last_used = built_at
    return CachedEnvironment(
        hash=env_dir.name,
        path=env_dir,
        size_bytes=tree_size(env_dir),
        built_at=built_at,
        last_used=last_used,
        requirements=tuple(marker.get("requirements", ())),
        python_version=str(marker.get("python_version", "")),
    )


def venv_version(venv: Path) -> str:
    """The full Python version a venv runs, from its ``pyvenv.cfg`` (``""`` if it names none)."""
    for line in (venv / "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version_info", "version"):
            return value.strip()
    return ""


def tree_size(root: Path) -> int:
    """Bytes of the regular files under ``root`` (hard links from uv's cache count in full)."""
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except FileNotFoundError:
                continue
    return total
