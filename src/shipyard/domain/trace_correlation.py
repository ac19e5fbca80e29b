"""How two trace filters go together: normalised pointwise mutual information (NPMI) from
four counts, as MLflow's ``calculate_trace_filter_correlation`` defines it (its UI's
insights): -1 never together, 0 independent, 1 always together; NaN when a filter matches
nothing. The smoothed value adds Jeffreys' prior (0.5) to each cell of the 2-by-2 table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Correlation", "correlation"]

_JEFFREYS = 0.5


@dataclass(frozen=True, slots=True)
class Correlation:
    npmi: float
    npmi_smoothed: float
    filter1_count: int
    filter2_count: int
    joint_count: int
    total_count: int


def _npmi(n11: float, n10: float, n01: float, n00: float, smoothing: float) -> float:
    a, b, c, d = (n + smoothing for n in (n11, n10, n01, n00))
    total, first, second = a + b + c + d, a + b, a + c
    if first <= 0 or second <= 0 or a <= 0:
        return math.nan
    if n10 == 0 and n01 == 0 and n00 == 0:
        return 1.0
    pmi = math.log(a) + math.log(total) - math.log(first) - math.log(second)
    return max(-1.0, min(1.0, pmi / -(math.log(a) - math.log(total))))


def correlation(joint: int, first: int, second: int, total: int) -> Correlation:
    cells = (joint, first - joint, second - joint, total - first - second + joint)
    if total <= 0 or first == 0 or second == 0 or min(cells) < 0:
        npmi = smoothed = math.nan
    else:
        npmi = -1.0 if joint == 0 else _npmi(*cells, smoothing=0)
        smoothed = _npmi(*cells, smoothing=_JEFFREYS)
    return Correlation(npmi, smoothed, first, second, joint, total)
