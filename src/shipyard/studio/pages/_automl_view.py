"""An AutoML job on its studio page: the leaderboard (trials ranked by the primary metric, the
best marked, each a link to its child job), the scores drawn as bars, the model the finish step
chose and registered, its test scores, its most important features, and the featurization asked
for — all read from the job's ``report`` and ``spec`` as the API answers them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shipyard.domain.jobs import Job

__all__ = ["AutoMLView", "Bar", "automl_view"]

_BAR_W = 260  # the widest bar, px


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    width: int  # px, relative to the widest of its chart


@dataclass(frozen=True, slots=True)
class AutoMLView:
    task: str
    target: str
    metric: str
    greater_is_better: bool
    rows: list[dict[str, Any]]
    jobs: dict[str, str]  # trial step → child job name
    best: dict[str, Any] | None
    score_bars: list[Bar]
    importance: list[Bar]
    model: dict[str, Any] | None
    chosen_model: str | None
    test_metrics: dict[str, float]
    stopped: str | None
    featurization: dict[str, Any] = field(default_factory=dict)  # what the file asked for
    columns: list[dict[str, str]] = field(default_factory=list)  # what the engine chose, per column


def _bars(pairs: Sequence[tuple[str, float]]) -> list[Bar]:
    """Bars scaled to the largest magnitude (a metric such as r2 can be negative: its size shows)."""
    top = max((abs(v) for _, v in pairs), default=0.0)
    return [
        Bar(label, value, max(1, round(_BAR_W * abs(value) / top)) if top else 1) for label, value in pairs
    ]


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def automl_view(spec: Mapping[str, Any], report: Mapping[str, Any], children: Sequence[Job]) -> AutoMLView:
    settings: Mapping[str, Any] = spec.get("settings") or {}
    raw = report.get("leaderboard")
    rows = [dict(r) for r in raw if isinstance(r, Mapping)] if isinstance(raw, list) else []
    best = next((r for r in rows if r.get("best")), None)
    scored = [
        (f"{r.get('step')} {r.get('algorithm')}", s)
        for r in rows
        if (s := _number(r.get("score"))) is not None
    ]
    final: Mapping[str, Any] = report.get("final") or {}
    importance = _mapping(final.get("importance"))
    tested = _mapping(final.get("test_metrics"))
    model = report.get("model")
    featurization = settings.get("featurization")
    raw_chosen = final.get("featurization")
    chosen: list[Any] = raw_chosen if isinstance(raw_chosen, list) else []
    return AutoMLView(
        task=str(settings.get("task") or "?"),
        target=str(settings.get("target_column_name") or "?"),
        metric=str(report.get("primary_metric") or settings.get("primary_metric") or "score"),
        greater_is_better=bool(report.get("greater_is_better", True)),
        rows=rows,
        jobs={c.step: c.name for c in children if c.step},
        best=best,
        score_bars=_bars(scored),
        importance=_bars(
            [(str(k), v) for k, raw_v in importance.items() if (v := _number(raw_v)) is not None]
        ),
        model=dict(model) if isinstance(model, Mapping) else None,
        chosen_model=str(final["chosen_model"]) if final.get("chosen_model") else None,
        test_metrics={str(k): v for k, raw_v in tested.items() if (v := _number(raw_v)) is not None},
        stopped=str(report["stopped"]) if report.get("stopped") else None,
        featurization=dict(featurization) if isinstance(featurization, Mapping) else {},
        columns=[{str(k): str(v) for k, v in c.items()} for c in chosen if isinstance(c, Mapping)],
    )
