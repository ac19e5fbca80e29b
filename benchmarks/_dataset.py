"""The data both servers are given, generated the same way on both sides.

Standard library only: ``_mlflow_side.py`` imports this module inside the anchor's venv.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

N_KEYS = 10
METRIC_KEYS = [f"m{i}" for i in range(N_KEYS)]
PARAM_KEYS = [f"p{i}" for i in range(10)]
BASE_TS = 1_700_000_000_000  # ms; a fixed clock so both databases hold identical rows
SEED = 20_240_601

# The run search: one metric and one param in the filter, ordered by another metric.
SEARCH_FILTER = "metrics.m0 > 0.5 AND params.p0 = 'v3'"
SEARCH_ORDER = ["metrics.m1 DESC"]
SEARCH_PAGE = 100


def metric_value(key_index: int, step: int) -> float:
    """A loss-like curve per key: what a training loop logs."""
    return (key_index + 1) / (step + 1)


@dataclass(frozen=True, slots=True)
class SearchRun:
    name: str
    start_time: int
    params: dict[str, str]
    metrics: dict[str, float]


def search_runs(n: int) -> Iterator[SearchRun]:
    """``n`` runs with 10 params (10 distinct values each) and 10 metrics uniform in [0, 1)."""
    rng = random.Random(SEED)
    for i in range(n):
        params = {key: f"v{rng.randrange(10)}" for key in PARAM_KEYS}
        metrics = {key: rng.random() for key in METRIC_KEYS}
        yield SearchRun(f"run-{i:05d}", BASE_TS + i * 1000, params, metrics)


def expected_search(n: int) -> list[str]:
    """The first page of the benchmark's search, computed here, to check both servers' answers."""
    hits = [r for r in search_runs(n) if r.metrics["m0"] > 0.5 and r.params["p0"] == "v3"]
    hits.sort(key=lambda r: r.metrics["m1"], reverse=True)
    return [r.name for r in hits[:SEARCH_PAGE]]
