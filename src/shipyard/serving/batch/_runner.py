"""Mini-batches scored in parallel, retried, counted against the error threshold.

Up to ``concurrency`` mini-batches are scored at a time on threads (the model is loaded once
and shared: sklearn, XGBoost, PyTorch and pandas release the GIL in their heavy loops). Each
finished mini-batch is handed to ``deliver`` on this thread — the one writer, so the sinks
need no locks. A mini-batch whose scoring or delivery raises, or that runs past
``timeout_s``, is tried again up to ``max_retries`` times; one that still fails counts its
items (rows or files) as failed, and once those exceed ``error_threshold`` (``-1``: never)
the run stops with :class:`ThresholdExceeded`. A timed-out attempt cannot be killed — its
thread is left to finish and its result is ignored.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from shipyard.serving.batch._inputs import MiniBatch

__all__ = ["Progress", "ThresholdExceeded", "run_mini_batches"]

_PROGRESS_EVERY_S = 1.0


class ThresholdExceeded(Exception):
    """More items failed than ``error_threshold`` allows."""


@dataclass
class Progress:
    total: int
    done: int = 0
    failed: int = 0
    failed_items: int = 0
    rows: int = 0
    retries: int = 0
    started: float = field(default_factory=time.monotonic)
    failures: dict[int, str] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def line(self) -> str:
        rate = self.rows / self.seconds if self.seconds > 0 else 0.0
        return (
            f"[batch] {self.done + self.failed}/{self.total} mini-batches, {self.rows:,} rows,"
            f" {rate:,.0f} rows/s, {self.failed} failed, {self.retries} retried"
        )


@dataclass
class _Attempt:
    batch: MiniBatch
    number: int
    started: float


def run_mini_batches(
    batches: list[MiniBatch],
    score: Callable[[MiniBatch], Any],
    deliver: Callable[[MiniBatch, Any], int],
    *,
    concurrency: int,
    max_retries: int,
    timeout_s: float,
    error_threshold: int,
    say: Callable[[str], None],
    verbose: bool = False,
) -> Progress:
    """Score every mini-batch; ``deliver`` writes its frame and returns the rows written."""
    progress = Progress(total=len(batches))
    queue: deque[tuple[MiniBatch, int]] = deque((b, 1) for b in batches)
    running: dict[Future[Any], _Attempt] = {}
    last_line = time.monotonic()
    # Abandoned (timed-out) attempts keep their threads: room for them beyond `concurrency`.
    pool = ThreadPoolExecutor(max_workers=concurrency * 2 + 4, thread_name_prefix="mini-batch")
    try:
        while queue or running:
            while queue and len(running) < concurrency:
                batch, number = queue.popleft()
                running[pool.submit(score, batch)] = _Attempt(batch, number, time.monotonic())
            finished, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
            for future in finished:
                attempt = running.pop(future)
                try:
                    rows = deliver(attempt.batch, future.result())
                except Exception as exc:  # noqa: BLE001 - a scoring script may raise anything
                    _failed(attempt, f"{type(exc).__name__}: {exc}", queue, progress, max_retries, say)
                else:
                    progress.done += 1
                    progress.rows += rows
                    if verbose:
                        say(f"[batch] mini-batch {attempt.batch.id}: {rows} rows")
            now = time.monotonic()
            for future, attempt in list(running.items()):
                if now - attempt.started > timeout_s:
                    del running[future]
                    future.cancel()
                    reason = f"timed out after {timeout_s:g} s (retry_settings.timeout)"
                    _failed(attempt, reason, queue, progress, max_retries, say)
            if 0 <= error_threshold < progress.failed_items:
                raise ThresholdExceeded(
                    f"error_threshold exceeded: {progress.failed_items} failed items"
                    f" (rows or files) > {error_threshold}; {progress.failed} mini-batch(es) failed"
                    f" after retries, the last: {_last(progress)}"
                )
            if now - last_line >= _PROGRESS_EVERY_S:
                say(progress.line())
                last_line = now
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    say(progress.line())
    return progress


def _failed(
    attempt: _Attempt,
    reason: str,
    queue: deque[tuple[MiniBatch, int]],
    progress: Progress,
    max_retries: int,
    say: Callable[[str], None],
) -> None:
    batch = attempt.batch
    if attempt.number <= max_retries:
        progress.retries += 1
        say(f"[batch] mini-batch {batch.id} attempt {attempt.number} failed: {reason}; retrying")
        queue.append((batch, attempt.number + 1))
        return
    progress.failed += 1
    progress.failed_items += batch.items
    progress.failures[batch.id] = reason
    say(f"[batch] mini-batch {batch.id} failed after {attempt.number} attempt(s): {reason}")


def _last(progress: Progress) -> str:
    if not progress.failures:
        return "none"
    key = max(progress.failures)
    return f"mini-batch {key}: {progress.failures[key]}"
