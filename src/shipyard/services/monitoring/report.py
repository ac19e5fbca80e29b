"""A monitor run's report as one self-contained HTML page, and ``monitor compare``'s as one.

The page carries everything it shows: inline CSS (light or dark, as the reader's system
prefers) and inline SVG charts drawn by :mod:`._charts` — no script, no font, no URL to
fetch — so it can be attached to a mail, archived as an artifact, or opened offline. Every
string that comes from data (monitor, column and category names, notes, errors) is escaped.

:func:`render_report` takes the MonitorReport shape every monitor run produces::

    {"monitor", "run_id", "job", "generated_at", "window": {"start", "end"} | None, "target",
     "signals": [SignalResult...], "history": [{"at", "run_id", "values": {key: value}}...]}

where a history key is ``<signal>/<metric>`` or ``<signal>/<metric>/<column>``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from shipyard.services.monitoring._charts import categorical_chart, fmt_value, line_chart, numerical_chart
from shipyard.specs.monitor_metrics import direction_of

__all__ = ["compare_report", "render_report"]

_STYLE = """
:root { color-scheme: light dark; --bg: #fff; --fg: #1d1f23; --muted: #667; --line: #d5d8de;
  --ref: #3b6fd4; --cur: #e08a1e; --bad: #c62828; --bad-bg: #fdecea; --ok: #2e7d32; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #16181c; --fg: #e6e8eb; --muted: #9aa1ab; --line: #363a42;
    --ref: #6f9cf0; --cur: #f2a444; --bad: #ff6b6b; --bad-bg: #3a1d1f; --ok: #66bb6a; } }
body { background: var(--bg); color: var(--fg); margin: 2rem auto; max-width: 72rem; padding: 0 1rem;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
h1, h2, h3 { line-height: 1.2; } h2 { margin-top: 2.5rem; border-bottom: 1px solid var(--line); }
dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; }
dt { color: var(--muted); } dd { margin: 0; }
table { border-collapse: collapse; margin: .8rem 0; } th { text-align: left; color: var(--muted); }
th, td { padding: .25rem .7rem; border-bottom: 1px solid var(--line); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.breached td { background: var(--bad-bg); } tr.breached td.verdict { color: var(--bad); font-weight: 600; }
.badge { font-size: .8rem; padding: .1rem .5rem; border-radius: .8rem; border: 1px solid;
  margin-left: .5rem; }
.badge.bad { color: var(--bad); } .badge.ok { color: var(--ok); }
.error { color: var(--bad); } .charts { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; } figcaption { font-weight: 600; margin-bottom: .2rem; }
svg.chart { font-size: 10px; fill: var(--fg); overflow: visible; }
svg .axis { stroke: var(--muted); } svg .muted { fill: var(--muted); } svg .em { font-style: italic; }
svg .ref { fill: var(--ref); fill-opacity: .45; } svg .cur { fill: var(--cur); fill-opacity: .55; }
svg .bad { fill: var(--bad); } svg .series { fill: none; stroke: var(--cur); stroke-width: 1.5; }
svg .threshold { stroke: var(--bad); stroke-dasharray: 5 4; }
"""


def render_report(report: Mapping[str, Any]) -> str:
    """The whole page for one MonitorReport: summary, then each signal (breached first)."""
    signals = sorted(report.get("signals", []), key=lambda signal: not signal.get("breached"))
    monitor = str(report.get("monitor", ""))
    parts = [
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>Monitor {escape(monitor)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n",
        f"<h1>Monitor {escape(monitor)}</h1>\n",
        _summary(report, signals),
    ]
    history = report.get("history") or []
    parts += [_signal(signal, history, report.get("generated_at")) for signal in signals]
    parts.append("</body>\n</html>\n")
    return "".join(parts)


def compare_report(result: Mapping[str, Any], *, reference: str, current: str) -> Mapping[str, Any]:
    """``compare(histograms=True)``'s answer as a MonitorReport: one data_drift signal."""
    rows = [
        {
            "column": row["column"],
            "type": row["type"],
            "metric": row["metric"],
            "value": row["value"],
            "threshold": row["threshold"],
            "breach_when": direction_of(row["metric"]),
            "breached": row["drifted"],
        }
        for row in result["columns"]
    ]
    signal = {
        "name": "data_drift",
        "type": "data_drift",
        "breached": any(row["breached"] for row in rows),
        "rows": rows,
        "histograms": result.get("histograms", {}),
        "notes": [
            f"reference: {reference}",
            f"current: {current}",
            f"drifted share of the features: {result['drifted_share']:.0%}",
        ],
        "error": None,
    }
    return {
        "monitor": "compare",
        "run_id": None,
        "job": None,
        "generated_at": time.time_ns() // 1_000_000,
        "window": None,
        "target": None,
        "signals": [signal],
        "history": [],
    }


def _when(ms: int | None) -> str:
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _summary(report: Mapping[str, Any], signals: Sequence[Mapping[str, Any]]) -> str:
    window = report.get("window")
    facts = [
        ("target", escape(str(report["target"])) if report.get("target") else "—"),
        ("window", f"{_when(window['start'])} → {_when(window['end'])}" if window else "—"),
        ("run", escape(str(report["run_id"])) if report.get("run_id") else "—"),
        ("job", escape(str(report["job"])) if report.get("job") else "—"),
        ("generated", _when(report.get("generated_at"))),
    ]
    breached = [signal for signal in signals if signal.get("breached")]
    failed = [signal for signal in signals if signal.get("error")]
    verdict = (
        f'<p class="error">Breached: {", ".join(_link(signal) for signal in breached)}</p>'
        if breached
        else "<p>No signal breached its thresholds.</p>"
    )
    if failed:
        verdict += f'<p class="error">Not computed: {", ".join(_link(signal) for signal in failed)}</p>'
    rows = "".join(
        f'<tr class="{"breached" if signal.get("breached") else ""}"><td>{_link(signal)}</td>'
        f"<td>{escape(str(signal.get('type', '')))}</td>"
        f'<td class="num">{sum(bool(row.get("breached")) for row in signal.get("rows", []))}'
        f" of {len(signal.get('rows', []))}</td>"
        f'<td class="verdict">{_verdict(signal)}</td></tr>'
        for signal in signals
    )
    return (
        "<section>\n<dl>"
        + "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
        + f"</dl>\n{verdict}\n<table><thead><tr><th>signal</th><th>type</th><th>rows breached</th>"
        f"<th>verdict</th></tr></thead><tbody>{rows}</tbody></table>\n</section>\n"
    )


def _anchor(signal: Mapping[str, Any]) -> str:
    return "signal-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in str(signal.get("name", "")))


def _link(signal: Mapping[str, Any]) -> str:
    return f'<a href="#{escape(_anchor(signal))}">{escape(str(signal.get("name", "")))}</a>'


def _verdict(signal: Mapping[str, Any]) -> str:
    if signal.get("error"):
        return "not computed"
    return "breached" if signal.get("breached") else "ok"


def _signal(signal: Mapping[str, Any], history: Sequence[Mapping[str, Any]], now: int | None) -> str:
    name = str(signal.get("name", ""))
    badge = (
        '<span class="badge bad">breached</span>'
        if signal.get("breached")
        else '<span class="badge ok">ok</span>'
        if not signal.get("error")
        else ""
    )
    parts = [
        f'<section id="{escape(_anchor(signal))}">\n<h2>{escape(name)}{badge}</h2>\n',
        f"<p>{escape(str(signal.get('type', '')))}</p>\n",
    ]
    if signal.get("error"):
        parts.append(f'<p class="error">Not computed: {escape(str(signal["error"]))}</p>\n')
    notes = signal.get("notes") or []
    if notes:
        parts.append("<ul>" + "".join(f"<li>{escape(str(note))}</li>" for note in notes) + "</ul>\n")
    rows = signal.get("rows") or []
    if rows:
        parts.append(_rows_table(rows))
    charts = list(_histogram_figures(signal.get("histograms") or {}, rows))
    if charts:
        parts.append('<h3>Distributions</h3>\n<div class="charts">' + "".join(charts) + "</div>\n")
    trends = list(_history_figures(name, rows, history, now))
    if trends:
        parts.append('<h3>Over time</h3>\n<div class="charts">' + "".join(trends) + "</div>\n")
    parts.append("</section>\n")
    return "".join(parts)


def _rows_table(rows: Sequence[Mapping[str, Any]]) -> str:
    body = "".join(
        f'<tr class="{"breached" if row.get("breached") else ""}">'
        f"<td>{escape(str(row['column'])) if row.get('column') is not None else '—'}</td>"
        f"<td>{escape(str(row.get('type', '')))}</td><td>{escape(str(row.get('metric', '')))}</td>"
        f'<td class="num">{fmt_value(row.get("value"))}</td>'
        f'<td class="num">{fmt_value(row.get("threshold"))}</td>'
        f"<td>breaches {escape(str(row.get('breach_when', '')))}</td>"
        f'<td class="verdict">{"breached" if row.get("breached") else "ok"}</td></tr>'
        for row in rows
    )
    return (
        "<table><thead><tr><th>column</th><th>type</th><th>metric</th><th>value</th>"
        f"<th>threshold</th><th>when</th><th>verdict</th></tr></thead><tbody>{body}</tbody></table>\n"
    )


def _histogram_figures(histograms: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> Iterator[str]:
    breached = {row.get("column") for row in rows if row.get("breached")}
    # Breached columns first, each group in the order the signal gave them.
    for column in sorted(histograms, key=lambda name: name not in breached):
        histogram = histograms[column]
        kind = histogram.get("kind")
        chart = (
            numerical_chart(column, histogram)
            if kind == "numerical"
            else categorical_chart(column, histogram)
        )
        verdict = " — breached" if column in breached else ""
        yield f"<figure><figcaption>{escape(column)}{verdict}</figcaption>{chart}</figure>"


def _history_figures(
    signal: str, rows: Sequence[Mapping[str, Any]], history: Sequence[Mapping[str, Any]], now: int | None
) -> Iterator[str]:
    """One line per row that earlier runs also measured; this run is the last point."""
    for row in rows:
        column = row.get("column")
        key = f"{signal}/{row['metric']}" + (f"/{column}" if column is not None else "")
        earlier = [
            (int(entry["at"]), float(entry["values"][key]))
            for entry in history
            if entry.get("values", {}).get(key) is not None
        ]
        if not earlier:
            continue
        threshold = float(row["threshold"])
        below = row.get("breach_when", direction_of(str(row["metric"]))) == "below"
        points = [(at, value, value < threshold if below else value > threshold) for at, value in earlier]
        if row.get("value") is not None and now is not None:
            points.append((int(now), float(row["value"]), bool(row.get("breached"))))
        title = key.split("/", 1)[1]
        chart = line_chart(title, points, threshold)
        yield f"<figure><figcaption>{escape(title)}</figcaption>{chart}</figure>"
