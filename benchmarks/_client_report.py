"""The table of ``mlflow_client.py``: measure, Shipyard, MLflow server, ratio, goal, met.

A measure the server does not serve yet shows ``unsupported`` (``error`` if it failed
otherwise) instead of a number; its goal then reads as not met.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from _measure import median
from _report import _time

GOAL = 5.0  # every issue-3 goal is a factor of 5 over MLflow's server
HEALTH_GOAL = 1.5  # issue 11: a small call costs at most 1.5 health-check round trips


@dataclass(frozen=True)
class Row:
    measure: str
    ours: str
    anchor: str
    ratio: str
    goal: str
    met: str
    samples: str


def _failed(result: dict[str, Any]) -> str | None:
    if "unsupported" in result:
        return "unsupported"
    if "error" in result:
        return "error"
    return None


def _cell(result: dict[str, Any], show: str) -> str:
    return _failed(result) or show


def _row(name: str, ours: dict[str, Any], anchor: dict[str, Any], *, rate: float | None, goal: str) -> Row:
    """``rate``: items per call for a throughput row (ratio ours ÷ MLflow's); None for a
    time row (ratio MLflow's time ÷ ours)."""

    def show(result: dict[str, Any]) -> str:
        if _failed(result):
            return ""
        seconds = median(result["seconds"])
        return f"{rate / seconds:,.0f} metrics/s" if rate else _time(seconds)

    both = not _failed(ours) and not _failed(anchor)
    ratio = median(anchor["seconds"]) / median(ours["seconds"]) if both else None
    if ratio is None:
        met = "NO (unsupported)" if _failed(ours) == "unsupported" else "NO" if _failed(ours) else ""
    else:
        met = "yes" if ratio >= GOAL else "NO"
    n = f"{len(ours.get('seconds', []))} / {len(anchor.get('seconds', []))}"
    return Row(
        name,
        _cell(ours, show(ours)),
        _cell(anchor, show(anchor)),
        f"{ratio:.1f}x" if ratio is not None else "",
        goal,
        met,
        n,
    )


def _http_row(ours: dict[str, Any], anchor: dict[str, Any]) -> Row:
    a, b = median(ours["http_seconds"]), median(anchor["http_seconds"])
    return Row(
        "└ of it in http_request (server, transfer)",
        _time(a),
        _time(b),
        f"{b / a:.1f}x",
        "",
        "",
        "",
    )


def client_ceilings(results: dict[str, Any]) -> list[str]:
    """The client's own time per call (total - HTTP) is the same code on both sides: MLflow's
    total divided by it is the best ratio any server could reach with this client."""
    ours, anchor = results["shipyard"], results["mlflow"]
    lines = []
    for key, name in (
        ("log_batch", "log_batch"),
        ("log_metric", "log_metric"),
        ("get_run", "get_run"),
        ("search", "search_runs"),
        ("history", "get_metric_history"),
    ):
        measured = [r for r in (ours[key], anchor[key]) if not _failed(r)]
        if not measured or _failed(anchor[key]):
            continue
        own = min(
            median([t - h for t, h in zip(r["seconds"], r["http_seconds"], strict=True)]) for r in measured
        )
        ceiling = median(anchor[key]["seconds"]) / own
        lines.append(
            f"{name}: the client's own work {_time(own)} a call; best reachable ratio {ceiling:.1f}x"
        )
    return lines


def build_rows(results: dict[str, Any]) -> list[Row]:
    ours, anchor, sizes = results["shipyard"], results["mlflow"], results["sizes"]
    batch = ours["log_batch"].get("metrics_per_call") or anchor["log_batch"].get("metrics_per_call", 1000)
    main = [
        _row(
            f"log_batch of {batch:,} metrics (throughput)",
            ours["log_batch"],
            anchor["log_batch"],
            rate=batch,
            goal=">= 5x MLflow's",
        ),
        _row(
            "one log_metric call (latency)",
            ours["log_metric"],
            anchor["log_metric"],
            rate=None,
            goal="<= 1/5 of MLflow's",
        ),
        _row(
            "get_run (10 params, 10 metrics)",
            ours["get_run"],
            anchor["get_run"],
            rate=None,
            goal=">= 5x MLflow's",
        ),
        _row(
            f"search_runs: {sizes['runs']:,} runs, filter + order, 100/page",
            ours["search"],
            anchor["search"],
            rate=None,
            goal=">= 5x MLflow's",
        ),
        _row(
            f"get_metric_history: {sizes['history_points']:,} points",
            ours["history"],
            anchor["history"],
            rate=None,
            goal=">= 5x MLflow's",
        ),
    ]
    keys = ["log_batch", "log_metric", "get_run", "search", "history"]
    rows = []
    for row, key in zip(main, keys, strict=True):
        rows.append(row)
        if not _failed(ours[key]) and not _failed(anchor[key]):
            rows.append(_http_row(ours[key], anchor[key]))
    return rows


HEADERS = [
    "measure",
    "Shipyard",
    "MLflow server",
    "ratio (>1: Shipyard better)",
    "goal",
    "met",
    "n (Shipyard/MLflow)",
]


def _cells(row: Row) -> list[str]:
    return [row.measure, row.ours, row.anchor, row.ratio, row.goal, row.met, row.samples]


def render(rows: list[Row], title: str, console: Console) -> None:
    table = Table(title=title)
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if i == 0 else "right", no_wrap=i != 0)
    for row in rows:
        table.add_row(*_cells(row), style="bold red" if row.met.startswith("NO") else None)
    console.print(table)


def markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "|".join("---" for _ in HEADERS) + "|"]
    lines.extend("| " + " | ".join(_cells(row)) + " |" for row in rows)
    return "\n".join(lines) + "\n"


def notes(results: dict[str, Any]) -> list[str]:
    """Checks and context printed under the table."""
    ours, anchor, machine = results["shipyard"], results["mlflow"], results["machine"]
    lines = [
        "search page equals the expected first page:"
        f" Shipyard {ours['search'].get('matches_expected', _failed(ours['search']))},"
        f" MLflow {anchor['search'].get('matches_expected', _failed(anchor['search']))}",
        "history holds every step and value:"
        f" Shipyard {ours['history'].get('complete', _failed(ours['history']))},"
        f" MLflow {anchor['history'].get('complete', _failed(anchor['history']))}",
        "SQL-cloned run equals one logged through the API:"
        f" Shipyard {ours['populate']['clone_equals_api_run']},"
        f" MLflow {anchor['populate']['clone_equals_api_run']}",
    ]
    for side, result in (("Shipyard", ours), ("MLflow", anchor)):
        for measure in ("log_batch", "log_metric", "get_run", "search", "history"):
            reason = result[measure].get("unsupported") or result[measure].get("error")
            if reason:
                lines.append(f"{side} {measure}: {reason}")
    lines.extend(client_ceilings(results))
    lines.extend(floors(results))
    lines.append(
        f"client {anchor['client']} (the same for both servers); {results['date']}, {machine['cpus']} cores,"
        f" {machine['platform']}; load average {machine['load_average_before'][0]:.1f} before /"
        f" {machine['load_average_after'][0]:.1f} after; whole run {results['wall_seconds'] / 60:.1f} min"
    )
    return lines


# -- small calls against the health check (issue 11) -------------------------------------

SMALL_HEADERS = [
    "call",
    "Shipyard client",
    "÷ health",
    "Shipyard raw",
    "÷ health",
    "MLflow client",
    "÷ health",
    "MLflow raw",
    "÷ health",
    "goal",
    "met",
]


def _ms(result: dict[str, Any]) -> float:
    return float(median(result["seconds"]))


def small_rows(results: dict[str, Any]) -> list[list[str]]:
    """Each small call beside its server's health check, through the client and raw."""
    ours, anchor, runs = results["shipyard"], results["mlflow"], results["sizes"]["runs"]
    if _failed(ours["health"]) or _failed(anchor["health"]):
        return []
    rows = []
    for key, name, judged in (
        ("health", "health check", False),
        ("log_metric", "log_metric", True),
        ("get_run", "get_run", True),
        ("search", f"search_runs ({runs:,})", False),
        ("bare", "bare ASGI app", False),
    ):
        cells, ratios = [name], []
        for side in (ours, anchor):
            for prefix, health in (("", "health"), ("raw_", "raw_health")):
                seconds, base = _ms(side[prefix + key]), _ms(side[health])
                cells += [_time(seconds), f"{seconds / base:.2f}x"]
                if side is ours:
                    ratios.append(seconds / base)
        met = ("yes" if max(ratios) <= HEALTH_GOAL else "NO") if judged else ""
        rows.append([*cells, f"<= {HEALTH_GOAL}x" if judged else "", met])
    return rows


def render_small(rows: list[list[str]], console: Console) -> None:
    if not rows:
        return
    table = Table(
        title="Small calls beside the health check (Shipyard /healthz, MLflow /health) on the same"
        " connection, in turns; raw = one keep-alive http.client connection; search_runs returns"
        " 100 runs (not a small call)"
    )
    for i, header in enumerate(SMALL_HEADERS):
        table.add_column(header, justify="left" if i == 0 else "right", no_wrap=i != 0)
    for row in rows:
        table.add_row(*row, style="bold red" if row[-1] == "NO" else None)
    console.print(table)


def markdown_small(rows: list[list[str]]) -> str:
    if not rows:
        return ""
    lines = ["| " + " | ".join(SMALL_HEADERS) + " |", "|" + "|".join("---" for _ in SMALL_HEADERS) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines) + "\n"


def floors(results: dict[str, Any]) -> list[str]:
    """What no server can beat with this client: its own work per call plus one HTTP round
    trip to an app that answers at once. MLflow's time over that floor bounds the ratio."""
    ours, anchor = results["shipyard"], results["mlflow"]
    if _failed(ours["bare"]) or _failed(anchor["bare"]):
        return []
    bare = min(_ms(ours["bare"]), _ms(anchor["bare"]))
    lines = [
        f"a client round trip to the bare ASGI app: {_time(bare)} (raw HTTP {_time(_ms(ours['raw_bare']))})"
    ]
    for key, name in (("log_metric", "log_metric"), ("get_run", "get_run"), ("search", "search_runs")):
        if _failed(ours[key]) or _failed(anchor[key]):
            continue
        own = min(
            median([t - h for t, h in zip(r["seconds"], r["http_seconds"], strict=True)])
            for r in (ours[key], anchor[key])
        )
        floor = own + bare
        lines.append(
            f"{name}: floor {_time(floor)} (client's own work {_time(own)} + the bare round trip):"
            f" no server can be more than {_ms(anchor[key]) / floor:.1f}x MLflow's {_time(_ms(anchor[key]))}"
            f" with this client; Shipyard's {_time(_ms(ours[key]))} is"
            f" {_ms(ours[key]) / floor:.2f}x the floor"
        )
    return lines
