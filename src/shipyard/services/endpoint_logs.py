"""A deployment's preparation log (``deploy.log`` beside its revisions): what bringing it up
says line by line — the model download, the environment build with uv's output, each worker
starting and its probes — read by byte offset while a client follows it (``progress``) and
by its last lines (``get-logs``)."""

from __future__ import annotations

import os
from pathlib import Path

from shipyard.services.serving_ports import Instance, InstanceState

__all__ = ["PROGRESS_BYTES", "instance_line", "read_from", "tail", "tree"]

PROGRESS_BYTES = 1 << 16
"""At most this much of the log per progress answer (the rest comes with the next)."""


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
