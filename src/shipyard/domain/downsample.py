"""Server-side down-sampling of metric series for charts.

Min/max per bucket over equal step ranges (the M4 idea, minus first/last): a chart drawn
from the result shows every spike the full series has, at a fraction of the points.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["downsample"]

Point = tuple[int, int, float]  # (step, timestamp, value)


def _rank(point: Point) -> float:
    value = point[2]
    return value if value == value else 0.0  # NaN points are kept by position only


def downsample(points: Sequence[Point], max_points: int) -> list[Point]:
    """At most ``max_points`` points (≥ 2 when the input has 2), in step order."""
    if len(points) <= max_points:
        return list(points)
    if max_points < 2:
        return [points[-1]]
    buckets = max(1, max_points // 2)
    first, last = points[0][0], points[-1][0]
    span = max(1, last - first + 1)
    out: list[Point] = []
    start = 0
    for b in range(buckets):
        upper = first + (span * (b + 1)) // buckets
        end = start
        while end < len(points) and (points[end][0] < upper or b == buckets - 1):
            end += 1
        chunk = points[start:end]
        start = end
        if not chunk:
            continue
        lo = min(range(len(chunk)), key=lambda i: _rank(chunk[i]))
        hi = max(range(len(chunk)), key=lambda i: _rank(chunk[i]))
        for i in sorted({lo, hi}):
            out.append(chunk[i])
    return out
