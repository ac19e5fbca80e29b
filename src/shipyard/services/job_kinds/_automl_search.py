"""An AutoML job's search: Optuna's TPE over the algorithm and that algorithm's hyperparameters.

As a sweep's (:mod:`shipyard.services.sweep_search`), the study is rebuilt from the parent's
report on every call: each trial's values as Optuna drew them are kept there, and trial *n*'s
sampler is seeded by the job's seed and *n*, so any server draws what the first would have.
An algorithm's hyperparameters are named ``<algorithm>.<param>`` (a conditional space: TPE
models each algorithm's values among the trials of that algorithm).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers import TPESampler
from optuna.study import StudyDirection
from optuna.trial import TrialState, create_trial

from shipyard.domain.automl import ALGORITHMS, Dist

__all__ = ["AutoMLSearch", "Draw", "Record"]

optuna.logging.set_verbosity(optuna.logging.WARNING)

_STATES = {"running": TrialState.RUNNING, "completed": TrialState.COMPLETE}


@dataclass(frozen=True, slots=True)
class Record:
    number: int
    internal: Mapping[str, Any]
    state: str
    score: float | None


@dataclass(frozen=True, slots=True)
class Draw:
    number: int
    algorithm: str
    params: dict[str, Any]
    internal: dict[str, Any]


def _distribution(dist: Dist) -> BaseDistribution:
    if dist.kind == "categorical":
        return CategoricalDistribution(dist.choices)
    assert dist.low is not None
    assert dist.high is not None
    if dist.kind == "int":
        return IntDistribution(int(dist.low), int(dist.high), log=dist.log)
    return FloatDistribution(float(dist.low), float(dist.high), log=dist.log)


def _seed(seed: int, number: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{number}".encode()).digest()[:4], "big")


class AutoMLSearch:
    """The candidates of a task (allowed, blocked and unavailable algorithms taken out)."""

    def __init__(self, task: str, algorithms: Sequence[str], greater_is_better: bool, seed: int) -> None:
        self.seed = seed
        self.algorithms = list(algorithms)
        self.spaces = {
            name: {f"{name}.{p}": _distribution(d) for p, d in ALGORITHMS[task][name].space.items()}
            for name in self.algorithms
        }
        self.direction = StudyDirection.MAXIMIZE if greater_is_better else StudyDirection.MINIMIZE

    def next(self, records: Sequence[Record], excluded: Collection[str] = ()) -> Draw:
        """Trial ``len(records)``. Until every algorithm has had a trial, the next untried one
        is taken (its hyperparameters drawn at random: a baseline for TPE); then TPE draws.
        ``excluded`` algorithms (found missing on the compute target) are not drawn again;
        their trials teach the study nothing and are left out of it."""
        available = tuple(a for a in self.algorithms if a not in excluded)
        if not available:
            raise ValueError("no algorithm is left to try")
        choice = CategoricalDistribution(available)
        study = optuna.create_study(direction=self.direction)
        tried = set()
        for record in sorted(records, key=lambda r: r.number):
            algorithm = str(record.internal["algorithm"])
            tried.add(algorithm)
            if algorithm in excluded:
                continue
            state = _STATES.get(record.state, TrialState.FAIL)
            score = record.score if record.score is not None and math.isfinite(record.score) else None
            if state == TrialState.COMPLETE and score is None:
                state = TrialState.FAIL
            study.add_trial(
                create_trial(
                    state=state,
                    value=score if state == TrialState.COMPLETE else None,
                    params=dict(record.internal),
                    distributions={"algorithm": choice, **{
                        k: v for k, v in self.spaces[algorithm].items() if k in record.internal
                    }},
                )
            )  # fmt: skip
        number = len(records)
        study.sampler = TPESampler(seed=_seed(self.seed, number), n_startup_trials=len(available))
        untried = [a for a in available if a not in tried]
        if untried:
            study.enqueue_trial({"algorithm": untried[0]})
        trial = study.ask()
        algorithm = str(trial.suggest_categorical("algorithm", available))
        for name, dist in self.spaces[algorithm].items():
            _suggest(trial, name, dist)
        internal = dict(trial.params)
        params = {k.split(".", 1)[1]: v for k, v in internal.items() if k != "algorithm"}
        return Draw(number, algorithm, params, internal)


def _suggest(trial: optuna.Trial, name: str, dist: BaseDistribution) -> None:
    if isinstance(dist, CategoricalDistribution):
        trial.suggest_categorical(name, dist.choices)
    elif isinstance(dist, IntDistribution):
        trial.suggest_int(name, dist.low, dist.high, log=dist.log)
    else:
        assert isinstance(dist, FloatDistribution)
        trial.suggest_float(name, dist.low, dist.high, log=dist.log)
