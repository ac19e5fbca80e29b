"""Which runtime owns which worker processes, told by file locks, so that a server started
after one that was killed never serves beside the dead one's workers.

Each :class:`~shipyard.serving.local.LocalProcessRuntime` claims a folder of its own::

    <state_dir>/owners/<nonce>/runtime.lock   locked by the runtime for as long as it lives
    <state_dir>/owners/<nonce>/<pid>.lock     locked by each worker it started, while it lives
    <state_dir>/owners/<nonce>/sockets        the folder its workers' sockets are in

A lock is released by the kernel when its process dies, however it dies, so a lock that can
be taken proves its holder is gone — unlike a pid, which the system may have handed to an
unrelated process since. A new runtime reaps the folders whose runtime lock it can take:
each worker lock still held belongs to an orphan, which is killed (its process group) and
waited for until its lock is free. Orphans also stop by themselves (the runtime's pipe, see
``worker.py``); the reaping is what makes "never two workers for one instance" hold even
when a server restarts faster than an orphan stops.

POSIX only, like the UNIX sockets the workers serve on.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import shutil
import signal
import time
from pathlib import Path

__all__ = ["RuntimeOwner", "hold_worker_lock", "reap_dead_owners"]

log = logging.getLogger(__name__)

_RUNTIME_LOCK = "runtime.lock"
_SOCKETS_NOTE = "sockets"
_NEW_PREFIX = ".new-"
_ABANDONED_NEW_S = 60.0  # a ".new-" folder this old was left by a runtime that died claiming it
_ORPHAN_KILL_WAIT_S = 10.0  # SIGKILL'd process groups are gone in milliseconds; this is a safety bound


def _open_lock(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class RuntimeOwner:
    """The folder a live runtime owns; its lock is held until :meth:`release`. ``nonce``
    names it (and goes into the runtime's socket names)."""

    def __init__(self, root: Path, sockets: Path) -> None:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Claimed under a name the reaper skips, renamed once locked: a reaper never sees this
        # runtime's folder without its lock held.
        while True:
            self.nonce = secrets.token_hex(3)  # short: it is part of every socket path (107 bytes)
            staging = root / f"{_NEW_PREFIX}{self.nonce}"
            if not (root / self.nonce).exists():
                with contextlib.suppress(FileExistsError):
                    staging.mkdir(mode=0o700)
                    break
        self._fd = _open_lock(staging / _RUNTIME_LOCK)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        (staging / _SOCKETS_NOTE).write_text(str(sockets), encoding="utf-8")
        self.folder = root / self.nonce
        staging.rename(self.folder)

    def release(self) -> None:
        """Once every worker is stopped: nothing is left to reap."""
        shutil.rmtree(self.folder, ignore_errors=True)
        os.close(self._fd)


def hold_worker_lock(owner_folder: Path) -> int:
    """In a worker: lock ``<pid>.lock`` in its runtime's folder until the process ends.

    Taken before the worker looks at its parent pipe (see ``worker.py``): a reaper that ran
    before this lock existed ran after the runtime died, so the pipe is already at EOF and
    the worker stops before it serves."""
    fd = _open_lock(owner_folder / f"{os.getpid()}.lock")
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def reap_dead_owners(root: Path, own_nonce: str) -> list[int]:
    """Kill the workers of every runtime under ``root`` that died without stopping them,
    wait until they are gone, remove what they left; the pids killed."""
    if not root.is_dir():
        return []
    killed: list[int] = []
    for folder in sorted(root.iterdir()):
        if folder.name == own_nonce or not folder.is_dir():
            continue
        if folder.name.startswith(_NEW_PREFIX):
            with contextlib.suppress(OSError):
                if time.time() - folder.stat().st_mtime > _ABANDONED_NEW_S:
                    shutil.rmtree(folder, ignore_errors=True)
            continue
        killed += _reap(folder)
    return killed


def _reap(folder: Path) -> list[int]:
    try:
        fd = _open_lock(folder / _RUNTIME_LOCK)
    except OSError:  # removed by its runtime (a clean stop) or another reaper meanwhile
        return []
    try:
        if not _try_lock(fd):
            return []  # a live runtime: another server on this state folder
        killed = _live_workers(folder)
        for pid in killed:
            _kill_and_wait(folder, pid)
        _remove_sockets(folder)
        shutil.rmtree(folder, ignore_errors=True)
        return killed
    finally:
        os.close(fd)


def _live_workers(folder: Path) -> list[int]:
    pids = []
    for lock in folder.glob("*.lock"):
        if lock.name == _RUNTIME_LOCK or not lock.stem.isdigit():
            continue
        fd = _open_lock(lock)
        try:
            if not _try_lock(fd):
                pids.append(int(lock.stem))
        finally:
            os.close(fd)
    return pids


def _kill_and_wait(folder: Path, pid: int) -> None:
    """SIGKILL the orphan's process group (it leads one) and wait for its lock."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    fd = _open_lock(folder / f"{pid}.lock")
    try:
        deadline = time.monotonic() + _ORPHAN_KILL_WAIT_S
        while not _try_lock(fd):
            if time.monotonic() > deadline:
                log.warning("worker %d of a previous server still holds its lock after SIGKILL", pid)
                return
            time.sleep(0.01)
    finally:
        os.close(fd)
    log.warning("killed worker %d, left running by a server that did not stop it", pid)


def _remove_sockets(folder: Path) -> None:
    """The sockets its workers bound (``<digest>-<nonce>-<n>.sock``): nothing answers on them."""
    try:
        sockets = Path((folder / _SOCKETS_NOTE).read_text(encoding="utf-8"))
    except OSError:
        return
    for path in sockets.glob(f"*-{folder.name}-*"):
        with contextlib.suppress(OSError):
            path.unlink()
    if sockets.name.startswith("shipyard-sock-"):  # a private folder in /tmp made for that runtime
        with contextlib.suppress(OSError):
            sockets.rmdir()
