"""Small inline SVG charts for the monitoring report: no plotting library, no script.

Each function answers one ``<svg>`` element as text. Colours are CSS classes (``ref``,
``cur``, ``bad``, ``axis``, ``muted``) so the page's stylesheet chooses them, light or dark;
every label that comes from data is escaped here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from itertools import pairwise
from typing import Any

__all__ = ["categorical_chart", "fmt_value", "line_chart", "numerical_chart"]

_W, _H = 440, 190
_LEFT, _RIGHT, _TOP, _BOTTOM = 54, 12, 12, 34
_PLOT_W, _PLOT_H = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
# More bars than this would be slivers: the rarest categories are left out, and said so.
_MAX_CATEGORIES = 24
_LABEL_CHARS = 12


def fmt_value(value: float | None) -> str:
    """Four significant digits; ``—`` for a missing value, NaN and infinities spelt out."""
    if value is None:
        return "—"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return f"{value:.4g}"


def _svg(body: list[str], label: str, height: int = _H) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {_W} {height}" width="{_W}" height="{height}" role="img"'
        f' aria-label="{escape(label)}">' + "".join(body) + "</svg>"
    )


def _frame(y_max: float, y_label: str) -> list[str]:
    bottom = _TOP + _PLOT_H
    return [
        f'<line class="axis" x1="{_LEFT}" y1="{bottom}" x2="{_LEFT + _PLOT_W}" y2="{bottom}"/>',
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{bottom}"/>',
        f'<text class="muted" x="{_LEFT - 4}" y="{_TOP + 8}" text-anchor="end">{fmt_value(y_max)}</text>',
        f'<text class="muted" x="{_LEFT - 4}" y="{bottom}" text-anchor="end">0</text>',
        f'<text class="muted" x="4" y="{_TOP + _PLOT_H / 2:.1f}" transform="rotate(-90 10'
        f' {_TOP + _PLOT_H / 2:.1f})" text-anchor="middle">{escape(y_label)}</text>',
    ]


def _legend(x: float) -> list[str]:
    return [
        f'<rect class="ref" x="{x:.1f}" y="{_TOP}" width="10" height="10"/>',
        f'<text x="{x + 14:.1f}" y="{_TOP + 9}">reference</text>',
        f'<rect class="cur" x="{x + 84:.1f}" y="{_TOP}" width="10" height="10"/>',
        f'<text x="{x + 98:.1f}" y="{_TOP + 9}">current</text>',
    ]


def _closed_bins(histogram: Mapping[str, Any]) -> list[tuple[float, float]]:
    """Each bin's ``[low, high)``, the open end bins closed at the data's extent.

    The extent is ``minimum``/``maximum`` when the histogram has them (both sides' values);
    otherwise a tenth of the interior span beyond the outer edges.
    """
    edges = [float(edge) for edge in histogram["edges"]]
    span = (edges[-1] - edges[0]) if len(edges) > 1 else abs(edges[0]) if edges else 1.0
    span = span or 1.0
    low = histogram.get("minimum")
    high = histogram.get("maximum")
    low = float(low) if low is not None and math.isfinite(low) else (edges[0] if edges else 0.0) - span / 10
    high = (
        float(high) if high is not None and math.isfinite(high) else (edges[-1] if edges else 0.0) + span / 10
    )
    if not edges and high <= low:  # one value everywhere: give the single bar a width
        low, high = low - 0.5 * span, high + 0.5 * span
    bounds = [min(low, edges[0]) if edges else low, *edges, max(high, edges[-1]) if edges else high]
    return list(pairwise(bounds))


def _densities(counts: Sequence[float], bins: Sequence[tuple[float, float]]) -> list[float]:
    total = float(sum(counts))
    return [
        count / (total * (high - low)) if total and high > low else 0.0
        for count, (low, high) in zip(counts, bins, strict=True)
    ]


def numerical_chart(column: str, histogram: Mapping[str, Any]) -> str:
    """Reference and current densities over the reference's quantile bins, overlaid.

    Quantile bins differ in width, so each bar's height is its share divided by its width (a
    density), not its count: equal counts over unequal widths would otherwise look like a shape.
    """
    bins = _closed_bins(histogram)
    reference = _densities(histogram["reference"], bins)
    current = _densities(histogram["current"], bins)
    x0, x1 = bins[0][0], bins[-1][1]
    y_max = max([*reference, *current, 0.0]) or 1.0

    def x(value: float) -> float:
        return _LEFT + (value - x0) / (x1 - x0) * _PLOT_W

    def bars(densities: list[float], css: str) -> list[str]:
        out = []
        for density, (low, high) in zip(densities, bins, strict=True):
            if density <= 0:
                continue
            height = density / y_max * _PLOT_H
            out.append(
                f'<rect class="{css}" x="{x(low):.2f}" y="{_TOP + _PLOT_H - height:.2f}"'
                f' width="{max(x(high) - x(low), 0.5):.2f}" height="{height:.2f}"/>'
            )
        return out

    bottom = _TOP + _PLOT_H
    body = [*_frame(y_max, "density"), *bars(reference, "ref"), *bars(current, "cur")]
    body += [
        f'<text class="muted" x="{_LEFT}" y="{bottom + 14}">{fmt_value(x0)}</text>',
        f'<text class="muted" x="{_LEFT + _PLOT_W / 2:.1f}" y="{bottom + 14}" text-anchor="middle">'
        f"{fmt_value((x0 + x1) / 2)}</text>",
        f'<text class="muted" x="{_LEFT + _PLOT_W}" y="{bottom + 14}" text-anchor="end">'
        f"{fmt_value(x1)}</text>",
        f'<text class="muted" x="{_LEFT + _PLOT_W / 2:.1f}" y="{bottom + 28}" text-anchor="middle">'
        f"{escape(column)}</text>",
        *_legend(_LEFT + _PLOT_W - 150),
    ]
    return _svg(body, f"histogram of {column}: reference and current densities")


def categorical_chart(column: str, histogram: Mapping[str, Any]) -> str:
    """Each category's share of the reference and of the current window, side by side.

    Current values of a category the reference never had (``unseen``) get a bar of their
    own; past :data:`_MAX_CATEGORIES` the categories rarest on both sides are left out.
    """
    labels = [str(category) for category in histogram["categories"]]
    reference = [float(count) for count in histogram["reference"]]
    current = [float(count) for count in histogram["current"]]
    unseen = float(histogram.get("unseen") or 0)
    ref_total, cur_total = sum(reference) or 1.0, (sum(current) + unseen) or 1.0
    shares = [
        (r / ref_total, c / cur_total, label, False)
        for r, c, label in zip(reference, current, labels, strict=True)
    ]
    shares.sort(key=lambda share: -max(share[0], share[1]))
    left_out = max(len(shares) - _MAX_CATEGORIES, 0)
    shares = shares[:_MAX_CATEGORIES]
    if unseen:
        shares.append((0.0, unseen / cur_total, "(not in reference)", True))
    y_max = max([s for share in shares for s in share[:2]] + [0.0]) or 1.0
    slot = _PLOT_W / max(len(shares), 1)
    bar = slot * 0.38
    bottom = _TOP + _PLOT_H
    body = _frame(y_max, "share")
    for i, (ref_share, cur_share, label, ours) in enumerate(shares):
        left = _LEFT + i * slot + slot * 0.12
        for offset, share, css in ((0.0, ref_share, "ref"), (bar, cur_share, "cur")):
            height = share / y_max * _PLOT_H
            body.append(
                f'<rect class="{css}" x="{left + offset:.2f}" y="{bottom - height:.2f}" width="{bar:.2f}"'
                f' height="{height:.2f}"><title>{escape(label)}: {css} {share:.1%}</title></rect>'
            )
        short = label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"
        centre = _LEFT + (i + 0.5) * slot
        body.append(
            f'<text class="{"muted em" if ours else "muted"}" x="{centre:.1f}" y="{bottom + 12}"'
            f' text-anchor="end" transform="rotate(-30 {centre:.1f} {bottom + 12})">{escape(short)}'
            f"<title>{escape(label)}</title></text>"
        )
    body += _legend(_LEFT + _PLOT_W - 150)
    if left_out:
        body.append(
            f'<text class="muted" x="{_LEFT + _PLOT_W}" y="{_TOP + 26}" text-anchor="end">'
            f"{left_out} rarer categories not drawn</text>"
        )
    return _svg(body, f"categories of {column}: reference and current shares", height=_H + 20)


def line_chart(title: str, points: Sequence[tuple[int, float, bool]], threshold: float) -> str:
    """A metric over time (``(at ms, value, breached)``, oldest first) and its threshold line."""
    values = [value for _, value, _ in points if math.isfinite(value)]
    low = min([*values, threshold])
    high = max([*values, threshold])
    pad = (high - low) * 0.1 or abs(high) * 0.1 or 1.0
    low, high = low - pad, high + pad
    first, last = points[0][0], points[-1][0]

    def x(at: int) -> float:
        return _LEFT + (_PLOT_W / 2 if last == first else (at - first) / (last - first) * _PLOT_W)

    def y(value: float) -> float:
        return _TOP + (high - value) / (high - low) * _PLOT_H

    finite = [(at, value, breached) for at, value, breached in points if math.isfinite(value)]
    path = " ".join(f"{x(at):.2f},{y(value):.2f}" for at, value, _ in finite)
    bottom = _TOP + _PLOT_H
    body = [
        f'<line class="axis" x1="{_LEFT}" y1="{bottom}" x2="{_LEFT + _PLOT_W}" y2="{bottom}"/>',
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{bottom}"/>',
        f'<text class="muted" x="{_LEFT - 4}" y="{_TOP + 8}" text-anchor="end">{fmt_value(high)}</text>',
        f'<text class="muted" x="{_LEFT - 4}" y="{bottom}" text-anchor="end">{fmt_value(low)}</text>',
        f'<line class="threshold" x1="{_LEFT}" y1="{y(threshold):.2f}" x2="{_LEFT + _PLOT_W}"'
        f' y2="{y(threshold):.2f}"><title>threshold {fmt_value(threshold)}</title></line>',
        f'<polyline class="series" points="{path}"/>',
    ]
    for at, value, breached in finite:
        body.append(
            f'<circle class="{"bad" if breached else "cur"}" cx="{x(at):.2f}" cy="{y(value):.2f}" r="3">'
            f"<title>{_when(at)}: {fmt_value(value)}</title></circle>"
        )
    body += [
        f'<text class="muted" x="{_LEFT}" y="{bottom + 14}">{_when(first)}</text>',
        f'<text class="muted" x="{_LEFT + _PLOT_W}" y="{bottom + 14}" text-anchor="end">{_when(last)}</text>',
        f'<text class="muted" x="{_LEFT + _PLOT_W / 2:.1f}" y="{bottom + 28}" text-anchor="middle">'
        f"{escape(title)}</text>",
    ]
    return _svg(body, f"{title} over time, with its threshold")


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
