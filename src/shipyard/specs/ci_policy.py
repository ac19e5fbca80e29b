"""The evaluation gate of ``shipyard ci compare``: a ``policy.yml`` and the verdict it gives.

A policy maps metric names to rules with the meaning of MLflow's ``MetricThreshold`` and
``validate_evaluation_results``, so a gate written for ``mlflow.evaluate`` carries over::

    metrics:
      val_acc: {greater_is_better: true, threshold: 0.75, min_relative_change: 0.01}
      val_loss: {greater_is_better: false, min_absolute_change: 0.005}

- ``threshold``: the candidate's value must be >= it (greater is better) or <= it.
- ``min_absolute_change`` (> 0): candidate >= baseline + change, or <= baseline - change.
- ``min_relative_change`` (in [0, 1]): (candidate - baseline) / |baseline| >= change, or
  (baseline - candidate) / |baseline| >= change; a baseline of 0 falls back to "strictly
  better by 1e-10", as MLflow does.
- ``greater_is_better`` is required, as in MLflow: a bound without a direction could be a floor
  or a ceiling.

Unlike MLflow, which stops at the first broken rule of a metric when the candidate lacks it,
:func:`evaluate` reports every rule: a metric missing on the candidate fails each of its rules,
one missing on the baseline fails each change rule, and a NaN value fails the rules that read
it (MLflow's comparisons would let a NaN relative change pass silently).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StrictBool, model_validator

from shipyard.specs._base import SpecModel, StrictModel
from shipyard.specs._yaml import load_spec

__all__ = ["CiPolicy", "MetricRule", "RuleCheck", "Verdict", "evaluate", "load_policy"]

RuleName = Literal["threshold", "min_absolute_change", "min_relative_change"]

# MLflow's fallback margin when the baseline is 0 and a relative change cannot be computed.
_ZERO_BASELINE_MARGIN = 1e-10

_Number = Annotated[float, Field(allow_inf_nan=False)]


class MetricRule(StrictModel):
    """One metric's rules; at least one of threshold, min_absolute_change, min_relative_change."""

    greater_is_better: StrictBool | None = None
    threshold: _Number | None = None
    min_absolute_change: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    min_relative_change: Annotated[float, Field(ge=0, le=1)] | None = None

    @model_validator(mode="after")
    def _complete(self) -> MetricRule:
        if self.threshold is None and self.min_absolute_change is None and self.min_relative_change is None:
            raise ValueError(
                "no rule: give at least one of threshold, min_absolute_change, min_relative_change"
            )
        if self.greater_is_better is None:
            raise ValueError(
                "greater_is_better is required (true or false): it says whether the bounds are"
                " floors or ceilings and which way a change must go"
            )
        return self

    @property
    def changes(self) -> bool:
        """Whether a rule compares with the baseline (so the baseline must have the metric)."""
        return self.min_absolute_change is not None or self.min_relative_change is not None


class CiPolicy(SpecModel):
    spec_kind: ClassVar[str] = "policy"

    metrics: dict[str, MetricRule]

    @model_validator(mode="after")
    def _some(self) -> CiPolicy:
        if not self.metrics:
            raise ValueError("names no metric: map at least one metric name to its rules")
        return self


def load_policy(path: Path) -> CiPolicy:
    """Read and check a policy file; any problem is an ``InvalidSpec`` naming the file and line."""
    return load_spec(path, CiPolicy)


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """One rule of one metric, checked: ``expected`` says what the rule asked, in words."""

    metric: str
    rule: RuleName
    passed: bool
    expected: str
    reason: str = ""
    """Why it failed when it could not even be compared (a missing or NaN value)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    checks: list[RuleCheck]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[RuleCheck]:
        return [check for check in self.checks if not check.passed]


def evaluate(policy: CiPolicy, candidate: dict[str, float], baseline: dict[str, float]) -> Verdict:
    """Every rule of every metric checked, in the policy's order; nothing stops at a failure."""
    checks: list[RuleCheck] = []
    for metric, rule in policy.metrics.items():
        checks += _check_metric(metric, rule, candidate.get(metric), baseline.get(metric))
    return Verdict(checks)


def _check_metric(metric: str, rule: MetricRule, value: float | None, base: float | None) -> list[RuleCheck]:
    better = bool(rule.greater_is_better)
    out: list[RuleCheck] = []
    if rule.threshold is not None:
        expected = f"{'>=' if better else '<='} {rule.threshold:g}"
        problem = _unreadable(value, "candidate")
        passed = value is not None and not problem and _at_least(value, rule.threshold, better)
        out.append(RuleCheck(metric, "threshold", passed, expected, problem))
    changes: list[tuple[RuleName, float | None]] = [
        ("min_absolute_change", rule.min_absolute_change),
        ("min_relative_change", rule.min_relative_change),
    ]
    for name, amount in changes:
        if amount is None:
            continue
        problem = _unreadable(value, "candidate") or _unreadable(base, "baseline")
        passed = (
            value is not None
            and base is not None
            and not problem
            and _changed_enough(name, value, base, amount, better)
        )
        out.append(RuleCheck(metric, name, passed, _change_words(name, amount, better), problem))
    return out


def _unreadable(value: float | None, side: str) -> str:
    """Why ``value`` cannot be compared ("missing on the baseline"), or "" when it can."""
    if value is None:
        return f"missing on the {side}"
    if math.isnan(value):
        return f"NaN on the {side}"
    return ""


def _at_least(value: float, bound: float, better: bool) -> bool:
    """``value`` is at least as good as ``bound``: >= when greater is better, else <=."""
    return value >= bound if better else value <= bound


def _changed_enough(name: RuleName, value: float, base: float, amount: float, better: bool) -> bool:
    if name == "min_absolute_change":
        return _at_least(value, base + amount if better else base - amount, better)
    if base == 0:  # no relative change from 0: MLflow asks for strictly better instead
        margin = _ZERO_BASELINE_MARGIN
        return _at_least(value, base + margin if better else base - margin, better)
    relative = (value - base) / abs(base) if better else (base - value) / abs(base)
    return relative >= amount


def _change_words(name: str, amount: float, better: bool) -> str:
    direction = "above" if better else "below"
    if name == "min_absolute_change":
        return f"at least {amount:g} {direction} the baseline"
    return f"at least {amount * 100:g}% {direction} the baseline"
