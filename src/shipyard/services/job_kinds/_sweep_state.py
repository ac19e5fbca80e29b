"""A sweep's state as its ``report`` keeps it: the trials (parameters, state, metric values)
and the best one. Every server rebuilds Optuna's study from it (:mod:`..sweep_search`), so it
holds what sampling needs — each trial's parameters as Optuna drew them — beside what
``job show`` prints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from shipyard.services.sweep_search import ParamValue, TrialOutcome, TrialRecord

__all__ = ["MAX_KEPT_VALUES", "SweepState", "Trial"]


def _params(params: Mapping[str, ParamValue]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


#: Values of a trial's primary metric kept in the report for early termination (a pruner
#: compares trials step by step); a trial logging more is judged on its first ones.
MAX_KEPT_VALUES = 1000

FINAL: frozenset[TrialOutcome] = frozenset({"completed", "stopped", "failed", "canceled"})


@dataclass
class Trial:
    """One trial: child job ``<sweep>-<step>``."""

    step: str
    number: int
    params: dict[str, ParamValue]
    internal: dict[str, ParamValue]
    state: TrialOutcome = "running"
    value: float | None = None  # its last logged value of the primary metric
    logged: int = 0  # how many values it logged
    values: list[float] = field(default_factory=list)  # the first MAX_KEPT_VALUES (early termination)
    checked: int = 0  # how many values the early termination rule has seen
    stopped_by: str | None = None  # the rule that stopped it, at which step, with the numbers
    message: str | None = None  # why it failed or was canceled

    @property
    def final(self) -> bool:
        return self.state in FINAL

    def record(self) -> TrialRecord:
        return TrialRecord(self.number, self.internal, self.state, self.values, self.value)


@dataclass
class SweepState:
    seed: int
    started_at: int
    primary_metric: str
    goal: str
    trials: list[Trial] = field(default_factory=list)
    best: dict[str, Any] | None = None
    summary: str = ""
    warning: str | None = None
    timed_out: bool = False

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> SweepState | None:
        if "trials" not in report:
            return None
        data = dict(report)
        trials = [Trial(**t) for t in data.pop("trials")]
        data.pop("children", None)  # derived by to_report, for job show
        data["summary"] = str(data.pop("summary_text", "") or "")
        return cls(**data, trials=trials)

    def to_report(self) -> dict[str, Any]:
        """The state, plus what ``job show`` prints: ``summary`` lines (the best trial with
        its parameters first) and a note per trial under ``children``."""
        report = asdict(self)
        report["summary_text"] = report.pop("summary")
        best = self.best_trial()
        lines = []
        if best is not None:
            lines.append(
                f"best: {best.step}, {self.primary_metric} = {best.value:.6g} ({_params(best.params)})"
            )
        lines.append(self.counts())
        if self.warning:
            lines.append(self.warning)
        report["summary"] = lines
        report["children"] = {t.step: self._note(t, best) for t in self.trials}
        return report

    def _note(self, trial: Trial, best: Trial | None) -> str:
        params = _params(trial.params)
        if trial is best:
            return f"BEST {self.primary_metric} = {trial.value:.6g}; {params}"
        if trial.state == "stopped":
            return f"{trial.stopped_by}; {params}"
        if trial.state in ("failed", "canceled"):
            return f"{trial.state}: {trial.message or 'see its log'}; {params}"
        if trial.value is not None:
            return f"{self.primary_metric} = {trial.value:.6g}; {params}"
        return f"{trial.state}; {params}"

    def running(self) -> list[Trial]:
        return [t for t in self.trials if not t.final]

    def records(self) -> list[TrialRecord]:
        return [t.record() for t in self.trials]

    def best_trial(self) -> Trial | None:
        """The completed trial with the best final value of the primary metric."""
        scored = [t for t in self.trials if t.state == "completed" and t.value is not None]
        if not scored:
            return None
        pick = max if self.goal == "maximize" else min
        return pick(scored, key=lambda t: (t.value, -t.number))

    def counts(self) -> str:
        kinds = [
            ("completed", "completed"),
            ("stopped", "stopped early"),
            ("failed", "failed"),
            ("canceled", "canceled"),
            ("running", "running"),
        ]
        parts = [
            f"{n} {label}" for state, label in kinds if (n := sum(t.state == state for t in self.trials))
        ]
        return f"{len(self.trials)} trials: " + (", ".join(parts) or "none yet")
