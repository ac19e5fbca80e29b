"""An AutoML job's state as its ``report`` keeps it: the trials (the leaderboard), the final
``finish`` step and why the search stopped. ``job show`` prints ``summary`` and ``leaderboard``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from shipyard.services.job_kinds._automl_search import Record

__all__ = ["AutoMLState", "AutoMLTrial"]

FINAL = frozenset({"completed", "failed", "canceled", "unavailable"})


@dataclass
class AutoMLTrial:
    step: str
    number: int
    algorithm: str
    params: dict[str, Any]
    internal: dict[str, Any]
    state: str = "running"
    score: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    duration_s: float | None = None
    message: str | None = None

    @property
    def final(self) -> bool:
        return self.state in FINAL


@dataclass
class AutoMLState:
    started_at: int
    primary_metric: str
    greater_is_better: bool
    trials: list[AutoMLTrial] = field(default_factory=list)
    stopped: str | None = None  # why the search drew no more trials
    finish: str = "pending"  # pending → running → completed | failed
    leaderboard_snapshot: str | None = None
    model: dict[str, Any] | None = None  # {"name", "version"} once registered
    message: str | None = None
    unavailable: list[str] = field(default_factory=list)  # algorithms missing where trials run
    final: dict[str, Any] = field(default_factory=dict)  # the finish run's model, test scores, importance

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> AutoMLState | None:
        if "trials" not in report:
            return None
        data = {k: v for k, v in report.items() if k in cls.__dataclass_fields__}
        data["trials"] = [AutoMLTrial(**t) for t in report["trials"]]
        return cls(**data)

    def records(self) -> list[Record]:
        return [Record(t.number, t.internal, t.state, t.score) for t in self.trials]

    def running(self) -> list[AutoMLTrial]:
        return [t for t in self.trials if not t.final]

    def ranked(self) -> list[AutoMLTrial]:
        """Completed trials with a score, best first (ties: the earlier trial)."""
        scored = [t for t in self.trials if t.state == "completed" and t.score is not None]
        sign = -1.0 if self.greater_is_better else 1.0
        return sorted(scored, key=lambda t: (sign * float(t.score or 0.0), t.number))

    def best(self) -> AutoMLTrial | None:
        ranked = self.ranked()
        return ranked[0] if ranked else None

    def leaderboard(self) -> list[dict[str, Any]]:
        """Every trial as the engine's ``Trial`` row: ranked ones first, then the rest in order."""
        ranked = self.ranked()
        rest = [t for t in self.trials if t not in ranked]
        best = ranked[0] if ranked else None
        rows = []
        for trial in [*ranked, *rest]:
            rows.append(
                {
                    "trial": trial.number,
                    "step": trial.step,
                    "algorithm": trial.algorithm,
                    "params": trial.params,
                    "score": trial.score,
                    "metrics": trial.metrics,
                    "status": trial.state.capitalize(),  # as the engine and job statuses write it
                    "duration_s": trial.duration_s or 0.0,
                    "best": trial is best,
                    **({"message": trial.message} if trial.message else {}),
                }
            )
        return rows

    def counts(self) -> str:
        parts = [
            f"{n} {state}"
            for state in ("completed", "failed", "unavailable", "canceled", "running")
            if (n := sum(t.state == state for t in self.trials))
        ]
        return f"{len(self.trials)} trials: " + (", ".join(parts) or "none yet")

    def to_report(self) -> dict[str, Any]:
        report = asdict(self)
        best = self.best()
        lines = []
        if best is not None:
            lines.append(f"best: {best.step} {best.algorithm}, {self.primary_metric} = {best.score:.6g}")
        lines.append(self.counts())
        if self.stopped:
            lines.append(f"search stopped: {self.stopped}")
        if self.model:
            lines.append(f"model registered: {self.model['name']}:{self.model['version']}")
        if self.final.get("chosen_model"):
            lines.append(f"final model: {self.final['chosen_model']}")
        tested = self.final.get("test_metrics") or {}
        if self.primary_metric in tested:
            lines.append(f"test data: {self.primary_metric} = {tested[self.primary_metric]:.6g}")
        if self.message:
            lines.append(self.message)
        report["summary"] = lines
        report["leaderboard"] = self.leaderboard()
        report["children"] = {
            t.step: (
                f"{'BEST ' if t is best else ''}{t.algorithm}: "
                + (f"{self.primary_metric} = {t.score:.6g}" if t.score is not None else t.message or t.state)
            )
            for t in self.trials
        }
        return report
