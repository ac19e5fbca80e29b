"""Two runs side by side: what ``shipyard ci compare`` and the model card both show.

Pure data in, text out: a :class:`Side` per run (its metrics' latest values, git commit,
runtime), the cells of each side's row and of the delta row (absolute and relative). The
policy verdict and the renderings of the CI report stay with the CLI (``cli/_ci_report.py``);
the model card (``domain/model_card.py``) renders these rows its own way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shipyard.domain.tracking import Run

__all__ = [
    "COMMIT_TAG",
    "DASH",
    "Side",
    "delta",
    "fmt_delta",
    "fmt_runtime",
    "fmt_value",
    "metric_rows",
    "side_from_run",
]

COMMIT_TAG = "mlflow.source.git.commit"
DASH = "—"  # a value one side does not have


@dataclass(frozen=True, slots=True)
class Side:
    """One run of the comparison, reduced to what the report shows."""

    category: str  # "candidate" or "baseline"
    ref: str  # as the user named it: a run id, a job name, model:NAME@ALIAS
    run_id: str
    experiment_id: str
    commit: str | None
    metrics: dict[str, float]
    runtime_s: float | None  # None while the run has not ended
    url: str  # the run's page in the studio

    @property
    def sha(self) -> str:
        return self.commit[:7] if self.commit else DASH


def side_from_run(category: str, ref: str, run: Run, server_url: str) -> Side:
    runtime = None if run.end_time is None else (run.end_time - run.start_time) / 1000
    return Side(
        category=category,
        ref=ref,
        run_id=run.id,
        experiment_id=run.experiment_id,
        commit=run.tags.get(COMMIT_TAG) or run.tags.get("shipyard.source.git.commit") or None,
        metrics={key: summary.value for key, summary in run.metrics.items()},
        runtime_s=runtime,
        url=f"{server_url.rstrip('/')}/studio/experiments/{run.experiment_id}/runs/{run.id}",
    )


def fmt_value(value: float | None) -> str:
    """Six significant digits, as the other tables of the CLI; "—" for a missing value."""
    if value is None:
        return DASH
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return f"{value:.6g}"


def fmt_runtime(seconds: float | None) -> str:
    return DASH if seconds is None else f"{seconds:.3f}"


def delta(new: float | None, old: float | None) -> tuple[float, float | None] | None:
    """(candidate - baseline, that change relative to |baseline|); None when one is missing."""
    if new is None or old is None or math.isnan(new) or math.isnan(old):
        return None
    change = new - old
    return change, (change / abs(old) if old != 0 else None)


def fmt_delta(found: tuple[float, float | None] | None, digits: str = ".6g") -> str:
    if found is None:
        return DASH
    change, relative = found
    text = format(change, "+" + digits)
    return text if relative is None else f"{text} ({relative:+.2%})"


def metric_rows(candidate: Side, baseline: Side, metrics: list[str]) -> list[list[str]]:
    """The candidate's, the baseline's and the delta's row (Category, Run ID, SHA, the
    metrics, Runtime), as text."""
    out = [
        [side.category, side.run_id, side.sha]
        + [fmt_value(side.metrics.get(name)) for name in metrics]
        + [fmt_runtime(side.runtime_s)]
        for side in (candidate, baseline)
    ]
    deltas = [fmt_delta(delta(candidate.metrics.get(n), baseline.metrics.get(n))) for n in metrics]
    runtime = fmt_delta(delta(candidate.runtime_s, baseline.runtime_s), ".3f")
    out.append(["delta", "", "", *deltas, runtime])
    return out
