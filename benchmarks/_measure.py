"""Timing helpers shared by both sides. Standard library only (the anchor's venv imports it)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def time_calls(fn: Callable[[int], Any], repeat: int, warmup: int = 0) -> list[float]:
    """Call ``fn(i)`` ``warmup`` times untimed, then ``repeat`` times; seconds per timed call."""
    for i in range(warmup):
        fn(-1 - i)
    samples = []
    for i in range(repeat):
        start = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - start)
    return samples


def markdown_table(rows: list[tuple[str, ...]]) -> list[str]:
    """A Markdown table of ``rows`` (the first is the header), columns padded to line up."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return lines


def say(message: str) -> None:
    """Progress goes to stderr, so the anchor's stdout stays pure JSON."""
    print(f"  {message}", file=sys.stderr, flush=True)


def run_header(sizes: Any, quick: bool) -> dict[str, Any]:
    """What every results file starts with: when, on what machine, at which sizes."""
    return {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_before": os.getloadavg(),
        },
        "sizes": sizes.__dict__,
        "quick": quick,
    }
