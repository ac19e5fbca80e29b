"""A sweep's search and early stopping, done by Optuna on a study rebuilt from Shipyard's records.

Shipyard keeps no Optuna storage: a sweep's trials are child jobs, and what Optuna needs of
each — its parameters as Optuna drew them, its state, its primary metric's values — is in the
sweep's ``report`` and its trials' runs. :class:`SweepStudy` puts those back into an in-memory
study on every call (``add_trial(create_trial(...))``, running trials included), asks it for
the next trials and asks its pruner about the running ones. So any server can take a sweep
over after a restart or a failover and draw exactly what the first one would have:

* every trial's sampler is seeded from the sweep's seed and the trial's number, so trial *n*
  does not depend on how many samplers came before it in this process;
* a Sobol sequence is indexed by the trial's number (Optuna counts its points in the study's
  storage, which a rebuilt study would restart at 0);
* a grid is shuffled by the sweep's seed and trial *n* takes grid point *n* (GridSampler's
  own rule while the grid lasts).

Azure ML's search space maps onto Optuna's distributions, with two kinds Optuna has not:
``normal``/``lognormal`` are drawn as a uniform ``u`` in (0, 1) that Optuna samples (and TPE
models), turned into ``mu + sigma * Φ⁻¹(u)`` by the normal distribution's inverse CDF; the
``q`` variants round the drawn value to ``round(value / q) * q`` as Azure ML does.

Early termination: ``median_stopping`` is Optuna's MedianPruner and ``truncation_selection``
its PercentilePruner (both compare with the *completed* trials at the same step);
``bandit``, which Optuna lacks, is :class:`BanditPruner`. A step is one logged value of the
primary metric (the n-th value is step n), as Azure ML counts its intervals.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.pruners import BasePruner, MedianPruner, PercentilePruner
from optuna.samplers import BaseSampler, GridSampler, QMCSampler, RandomSampler, TPESampler
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState, create_trial

from shipyard.specs.sweep import (
    BanditPolicy,
    Choice,
    EarlyTermination,
    GridSampling,
    LogNormal,
    LogUniform,
    MedianStoppingPolicy,
    Normal,
    QLogNormal,
    QLogUniform,
    QNormal,
    QUniform,
    Randint,
    RandomSampling,
    SearchSpaceEntry,
    SweepJobSpec,
    TruncationSelectionPolicy,
    Uniform,
)

__all__ = [
    "BanditPruner",
    "ParamValue",
    "Suggestion",
    "SweepSearch",
    "SweepStudy",
    "TrialOutcome",
    "TrialRecord",
    "value_text",
]

# A rebuilt study says "A new study created in memory" at INFO on every call.
optuna.logging.set_verbosity(optuna.logging.WARNING)

ParamValue = bool | int | float | str
TrialOutcome = Literal["running", "completed", "stopped", "failed", "canceled"]

# Normal draws are u in (0, 1) mapped through the inverse CDF, which is infinite at 0 and 1.
_U_EPS = 1e-9

_OPTUNA_STATE: dict[str, TrialState] = {
    "running": TrialState.RUNNING,
    "completed": TrialState.COMPLETE,
    "stopped": TrialState.PRUNED,
    "failed": TrialState.FAIL,
    "canceled": TrialState.FAIL,
}


@dataclass(frozen=True, slots=True)
class TrialRecord:
    """What Optuna needs of one trial: its number, its parameters as Optuna drew them
    (``internal``), its state and primary metric values (``values[i]`` is step i + 1)."""

    number: int
    internal: Mapping[str, ParamValue]
    state: TrialOutcome
    values: Sequence[float] = ()
    value: float | None = None  # a completed trial's result: its last value


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A new trial: ``internal`` for Optuna, ``params`` as the trial's command gets them."""

    number: int
    internal: dict[str, ParamValue]
    params: dict[str, ParamValue]


def value_text(value: ParamValue) -> str:
    """A parameter as the trial's command and environment get it (``True``, ``0.01``, ``rbf``)."""
    return str(value)


class SweepSearch:
    """A sweep's search space, sampler and pruner (from its file) and its seed."""

    def __init__(self, spec: SweepJobSpec, seed: int) -> None:
        self.spec = spec
        self.seed = seed
        algorithm = spec.sampling_algorithm
        self._base = algorithm.base if isinstance(algorithm, RandomSampling) else math.e
        self.distributions: dict[str, BaseDistribution] = {
            name: _distribution(entry, self._base) for name, entry in spec.search_space.items()
        }
        self.direction = (
            StudyDirection.MAXIMIZE if spec.objective.goal == "maximize" else StudyDirection.MINIMIZE
        )

    @property
    def grid_size(self) -> int | None:
        """How many trials a grid has (the sweep ends after them); None for other samplers."""
        if not isinstance(self.spec.sampling_algorithm, GridSampling):
            return None
        return math.prod(len(e.values) for e in self.spec.search_space.values() if isinstance(e, Choice))

    def params(self, internal: Mapping[str, ParamValue]) -> dict[str, ParamValue]:
        """Optuna's values as the trial gets them (a normal's u mapped, q-rounded, ...)."""
        return {
            name: _external(self.spec.search_space[name], internal[name], self._base)
            for name in self.spec.search_space
        }

    def sampler(self, number: int) -> BaseSampler:
        """The sampler that draws trial ``number`` (see the module's docstring)."""
        algorithm = self.spec.sampling_algorithm
        if isinstance(algorithm, GridSampling):
            grid = {
                name: list(entry.values)
                for name, entry in self.spec.search_space.items()
                if isinstance(entry, Choice)
            }
            return GridSampler(grid, seed=self.seed)
        if isinstance(algorithm, RandomSampling):
            if algorithm.rule == "sobol":
                return _SobolPoint(self.distributions, seed=self.seed, index=number)
            return RandomSampler(seed=_trial_seed(self.seed, number))
        return TPESampler(seed=_trial_seed(self.seed, number))

    def pruner(self) -> BasePruner | None:
        return _pruner(self.spec.early_termination)

    def study(self, trials: Sequence[TrialRecord]) -> SweepStudy:
        return SweepStudy(self, trials)


class SweepStudy:
    """An in-memory Optuna study holding ``trials`` (numbered 0, 1, ... in order)."""

    def __init__(self, search: SweepSearch, trials: Sequence[TrialRecord]) -> None:
        self._search = search
        self._pruner = search.pruner()
        self.study = optuna.create_study(direction=search.direction, pruner=self._pruner)
        for expected, record in enumerate(sorted(trials, key=lambda t: t.number)):
            if record.number != expected:
                raise ValueError(f"trial numbers must run 0, 1, ...; trial {expected} is missing")
            self.study.add_trial(_frozen(record, search.distributions))

    def ask(self) -> Suggestion:
        """The next trial's parameters; it stays in the study as running."""
        number = len(self.study.trials)
        with warnings.catch_warnings():
            # QMCSampler is "experimental"; Sobol notes that one point is not a power of two.
            warnings.simplefilter("ignore")
            self.study.sampler = self._search.sampler(number)
            trial = self.study.ask(dict(self._search.distributions))
        internal: dict[str, ParamValue] = dict(trial.params)
        return Suggestion(number=number, internal=internal, params=self._search.params(internal))

    def should_stop(self, number: int) -> str | None:
        """Why the running trial ``number`` should stop now (None: let it run)."""
        if self._pruner is None:
            return None
        trial = self.study.trials[number]
        if trial.state != TrialState.RUNNING or trial.last_step is None:
            return None
        if isinstance(self._pruner, BanditPruner):
            return self._pruner.verdict(self.study, trial)
        if not self._pruner.prune(self.study, trial):
            return None
        return _explain_percentile(self._search, self.study, trial)


# -- Azure ML's search space in Optuna's terms -------------------------------------------------


def _distribution(entry: SearchSpaceEntry, base: float) -> BaseDistribution:
    if isinstance(entry, Choice):
        return CategoricalDistribution(entry.values)
    if isinstance(entry, Randint):
        return IntDistribution(0, entry.upper - 1)
    if isinstance(entry, (Uniform, QUniform)):
        return FloatDistribution(entry.min_value, entry.max_value)
    if isinstance(entry, (LogUniform, QLogUniform)):
        # base**uniform(min, max) is log-uniform between base**min and base**max.
        return FloatDistribution(base**entry.min_value, base**entry.max_value, log=True)
    return FloatDistribution(_U_EPS, 1 - _U_EPS)  # (log)normal: u, mapped by _external


def _external(entry: SearchSpaceEntry, internal: ParamValue, base: float) -> ParamValue:
    if isinstance(entry, (Choice, Randint, Uniform, LogUniform)):
        return internal
    if isinstance(entry, (QUniform, QLogUniform)):
        return _rounded(float(internal), entry.q)
    assert isinstance(entry, (Normal, QNormal, LogNormal, QLogNormal))
    drawn = NormalDist(entry.mu, entry.sigma).inv_cdf(float(internal))
    if isinstance(entry, (LogNormal, QLogNormal)):
        drawn = base**drawn
    if isinstance(entry, (QNormal, QLogNormal)):
        return _rounded(drawn, entry.q)
    return drawn


def _rounded(value: float, q: float) -> ParamValue:
    """``round(value / q) * q``; an integer when ``q`` is one (``--batch 32``, not ``32.0``)."""
    steps = round(value / q)
    if float(q).is_integer():
        return int(steps * int(q))
    return float(f"{steps * q:.12g}")  # 0.30000000000000004 → 0.3


def _trial_seed(seed: int, number: int) -> int:
    digest = hashlib.sha256(f"{seed}:{number}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


class _SobolPoint(QMCSampler):
    """Point ``index`` of the scrambled Sobol sequence of ``seed``, over the whole space.

    Optuna's QMCSampler numbers its points with a counter in the study's storage and draws a
    study's first trial at random; a study rebuilt on every call needs the number from the
    trial, and the space known in advance."""

    def __init__(self, space: Mapping[str, BaseDistribution], *, seed: int, index: int) -> None:
        super().__init__(qmc_type="sobol", scramble=True, seed=seed, warn_independent_sampling=False)
        self._space = dict(space)
        self._index = index

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return dict(self._space)

    def _find_sample_id(self, study: optuna.Study, search_space: dict[str, BaseDistribution]) -> int:
        return self._index


def _frozen(record: TrialRecord, distributions: Mapping[str, BaseDistribution]) -> FrozenTrial:
    state = _OPTUNA_STATE[record.state]
    value = record.value
    if state == TrialState.COMPLETE and value is None:
        state = TrialState.FAIL  # completed without logging the metric: nothing to learn from
    return create_trial(
        state=state,
        value=value if state == TrialState.COMPLETE else None,
        params=dict(record.internal),
        distributions={name: distributions[name] for name in record.internal},
        intermediate_values={i + 1: v for i, v in enumerate(record.values) if math.isfinite(v)},
    )


# -- early termination ---------------------------------------------------------------------------


def _pruner(policy: EarlyTermination | None) -> BasePruner | None:
    if policy is None:
        return None
    if isinstance(policy, BanditPolicy):
        return BanditPruner(policy)
    # Optuna checks at delay, delay + interval, ... (Azure ML: multiples of the interval from
    # the delay on; the same steps when the delay is a multiple of the interval).
    common: dict[str, Any] = {
        "n_startup_trials": 1,
        "n_warmup_steps": policy.delay_evaluation,
        "interval_steps": policy.interval,
    }
    if isinstance(policy, MedianStoppingPolicy):
        return MedianPruner(**common)
    assert isinstance(policy, TruncationSelectionPolicy)
    # PercentilePruner(p) keeps the best p percent; truncation cuts the worst X percent, and
    # needs 100 / X trials at a step before X percent of them is at least one trial.
    return PercentilePruner(
        100.0 - policy.truncation_percentage,
        **common,
        n_min_trials=math.ceil(100 / policy.truncation_percentage),
    )


@dataclass
class BanditPruner(BasePruner):
    """Azure ML's bandit policy (Optuna has none).

    At each step ``n`` that is a multiple of ``evaluation_interval`` and at least
    ``delay_evaluation``, the trial's value at step ``n`` is compared with the best value any
    *other* trial had reached by step ``n`` (so a young trial is judged against the others
    at the same age). With ``slack_factor`` f the trial must reach ``best / (1 + f)`` when
    maximizing and at most ``best * (1 + f)`` when minimizing (a ratio: for a metric that
    can be negative or zero use ``slack_amount``); with ``slack_amount`` a, ``best - a`` and
    ``best + a``. A trial that falls short is stopped. Between two calls the trial may have
    logged several values: it is judged at the latest evaluation step it reached."""

    policy: BanditPolicy

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        return self.verdict(study, trial) is not None

    def verdict(self, study: optuna.Study, trial: FrozenTrial) -> str | None:
        step = self._evaluation_step(trial)
        if step is None:
            return None
        maximize = study.direction == StudyDirection.MAXIMIZE
        best: float | None = None
        best_trial = -1
        for other in study.get_trials(deepcopy=False):
            if other.number == trial.number:
                continue
            seen = [v for s, v in other.intermediate_values.items() if s <= step and math.isfinite(v)]
            if not seen:
                continue
            top = max(seen) if maximize else min(seen)
            if best is None or (top > best if maximize else top < best):
                best, best_trial = top, other.number
        if best is None:
            return None
        value = trial.intermediate_values[step]
        allowed = self.allowed(best, maximize)
        if (value >= allowed) if maximize else (value <= allowed):
            return None
        sign = "<" if maximize else ">"
        return (
            f"stopped by bandit ({self.policy.slack}) at step {step}: {value:.4g} {sign} {allowed:.4g}"
            f" allowed (best {best:.4g}, trial_{best_trial})"
        )

    def allowed(self, best: float, maximize: bool) -> float:
        """The worst value a trial may have at a step where the best is ``best``."""
        if self.policy.slack_factor is not None:
            f = self.policy.slack_factor
            return best / (1 + f) if maximize else best * (1 + f)
        a = float(self.policy.slack_amount or 0.0)
        return best - a if maximize else best + a

    def _evaluation_step(self, trial: FrozenTrial) -> int | None:
        last = trial.last_step
        if last is None:
            return None
        interval = self.policy.interval
        step = last - last % interval
        if step < max(1, self.policy.delay_evaluation) or step not in trial.intermediate_values:
            return None
        return step


def _explain_percentile(search: SweepSearch, study: optuna.Study, trial: FrozenTrial) -> str:
    """Why Optuna's Median/PercentilePruner stopped ``trial``, with the numbers it compared."""
    step = trial.last_step
    assert step is not None
    maximize = study.direction == StudyDirection.MAXIMIZE
    mine = [v for v in trial.intermediate_values.values() if math.isfinite(v)]
    best = (max(mine) if maximize else min(mine)) if mine else float("nan")
    others = [
        t.intermediate_values[step]
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if step in t.intermediate_values
    ]
    policy = search.spec.early_termination
    worse = "below" if maximize else "above"
    if isinstance(policy, TruncationSelectionPolicy):
        keep = 100.0 - policy.truncation_percentage
        cut = float(np.nanpercentile(others, 100 - keep if maximize else keep))
        return (
            f"stopped by truncation_selection ({policy.truncation_percentage}%) at step {step}: its best"
            f" {best:.4g} is {worse} {cut:.4g}, the cut-off of the worst {policy.truncation_percentage}%"
            f" of {len(others)} completed trials at that step"
        )
    median = float(np.nanmedian(others))
    return (
        f"stopped by median_stopping at step {step}: its best {best:.4g} is {worse} the median"
        f" {median:.4g} of {len(others)} completed trials at that step"
    )
