"""Turn raw samples into the table: measure, Shipyard, MLflow, ratio, goal, met."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from _measure import median


@dataclass(frozen=True)
class Row:
    measure: str
    ours: str
    anchor: str
    ratio: str
    goal: str
    met: str
    samples: str


def _time(seconds: float) -> str:
    if seconds < 0.01:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def _rate(points_per_s: float) -> str:
    return f"{points_per_s:,.0f} pts/s"


def _yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def _relative(ratio: float, goal: float) -> tuple[str, str, str]:
    return f"{ratio:.1f}x", f">= {goal:g}x MLflow", _yes(ratio >= goal)


def build_rows(r: dict[str, Any]) -> list[Row]:
    ours, anchor = r["shipyard"], r["mlflow"]
    rows = []

    ours_rate = ours["ingest"]["points"] / median(ours["ingest"]["seconds"])
    anchor_rate = anchor["ingest"]["points"] / median(anchor["ingest"]["seconds"])
    ratio, goal, met = _relative(ours_rate / anchor_rate, 20)
    rows.append(
        Row(
            f"ingest: SDK {ours['ingest']['points']:,} pts (MLflow log_batch {anchor['ingest']['points']:,})",
            _rate(ours_rate),
            _rate(anchor_rate),
            ratio,
            goal,
            met,
            f"{len(ours['ingest']['seconds'])} / {len(anchor['ingest']['seconds'])}",
        )
    )
    limit_rate = ours["ingest"]["points"] / median(r["physical"])
    rows.append(
        Row(
            "└ physical limit: bare sqlite3 executemany, same rows",
            _rate(limit_rate),
            "",
            f"SDK = {ours_rate / limit_rate:.0%} of it",
            "",
            "",
            str(len(r["physical"])),
        )
    )

    def timed(name: str, key: str, goal: float) -> Row:
        a, b = ours[key]["seconds"], anchor[key]["seconds"]
        ratio, goal_text, met = _relative(median(b) / median(a), goal)
        return Row(name, _time(median(a)), _time(median(b)), ratio, goal_text, met, f"{len(a)} / {len(b)}")

    rows.append(timed(f"metric history, {ours['history']['points']:,} points", "history", 10))
    rows.append(timed(f"run search: {r['sizes']['runs']:,} runs, filter + order, page of 100", "search", 5))

    def absolute(name: str, a: list[float], b: list[float], limit: float) -> Row:
        return Row(
            name,
            _time(median(a)),
            _time(median(b)),
            f"{median(b) / median(a):.1f}x",
            f"<= {_time(limit)}",
            _yes(median(a) <= limit),
            f"{len(a)} / {len(b)}",
        )

    rows.append(absolute("fresh --home to healthy", ours["startup"], anchor["startup"], 2.0))
    rows.append(absolute("CLI --help wall time", r["help"]["shipyard"], r["help"]["mlflow"], 0.5))
    a, b = ours["log_metric"], anchor["log_metric"]
    rows.append(
        Row(
            "one log_metric call (ours: synchronous 1-point batch)",
            _time(median(a)),
            _time(median(b)),
            f"{median(b) / median(a):.1f}x",
            "",
            "",
            f"{len(a)} / {len(b)}",
        )
    )
    return rows


def _headers(mlflow_version: str) -> list[str]:
    return [
        "measure",
        "Shipyard",
        f"MLflow {mlflow_version}",
        "ratio (>1: ours better)",
        "goal",
        "met",
        "n (ours/MLflow)",
    ]


def _cells(row: Row) -> list[str]:
    return [row.measure, row.ours, row.anchor, row.ratio, row.goal, row.met, row.samples]


def render(rows: list[Row], mlflow_version: str, console: Console) -> None:
    table = Table(title="Shipyard vs MLflow tracking server (medians; same machine, same run)")
    for i, header in enumerate(_headers(mlflow_version)):
        table.add_column(header, justify="left" if i == 0 else "right", no_wrap=i != 0)
    for row in rows:
        table.add_row(*_cells(row), style="bold red" if row.met == "NO" else None)
    console.print(table)


def markdown(rows: list[Row], mlflow_version: str) -> str:
    headers = _headers(mlflow_version)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines.extend("| " + " | ".join(_cells(row)) + " |" for row in rows)
    return "\n".join(lines) + "\n"
