"""Finding and killing a local job's process tree.

A job's supervisor leads its own session and process group, so ``killpg`` reaches every
process that stayed in the group — also the orphans of a command that already exited. A
process that left the group (``setsid``, a daemonising library) is still found among the
supervisor's descendants while its parent lives. A process whose pid was reused is told
apart by its creation time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

import psutil

_SAME_PROCESS_S = 0.5  # create times read twice can differ by a clock tick


def same_process(pid: int, create_time: float) -> psutil.Process | None:
    """The live process ``pid`` if it is still the one created at ``create_time``."""
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - create_time) > _SAME_PROCESS_S:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return proc


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def tree(pgid: int, create_time: float) -> list[psutil.Process]:
    """The supervisor ``pgid`` (if alive), its descendants, and its group's other members
    (none of them older than the supervisor: the group id cannot have been reused)."""
    found: dict[int, psutil.Process] = {}
    leader = same_process(pgid, create_time)
    if leader is not None:
        found[leader.pid] = leader
        with contextlib.suppress(psutil.Error):
            found.update({p.pid: p for p in leader.children(recursive=True)})
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.create_time() >= create_time - _SAME_PROCESS_S:
                found.setdefault(proc.pid, proc)
        except (OSError, psutil.Error):
            continue
    return [p for p in found.values() if _alive(p)]


def _signal_all(procs: list[psutil.Process], pgid: int, sig: signal.Signals) -> None:
    if procs:
        # Only while members live: the group id is then still ours, never a reused one.
        with contextlib.suppress(OSError):
            os.killpg(pgid, sig)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)


def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    alive = [p for p in procs if _alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [p for p in alive if _alive(p)]
    return alive


def kill_tree(pgid: int, create_time: float, grace_s: float) -> None:
    """SIGTERM the whole tree, SIGKILL what still lives after ``grace_s``; return once it is gone."""
    procs = tree(pgid, create_time)
    _signal_all(procs, pgid, signal.SIGTERM)
    alive = _wait_gone(procs, grace_s)
    # A child born during the grace period is in the group or under the supervisor too.
    leftovers = list(({p.pid: p for p in alive} | {p.pid: p for p in tree(pgid, create_time)}).values())
    if leftovers:
        _signal_all(leftovers, pgid, signal.SIGKILL)
        _wait_gone(leftovers, 10.0)
