"""A sweep's sampling and early stopping: Azure ML's semantics on Optuna, rebuilt on every call."""

from __future__ import annotations

import math
import warnings
from statistics import NormalDist

import optuna
import pytest

from shipyard.services.sweep_search import ParamValue, SweepSearch, TrialRecord
from shipyard.specs import parse_spec
from shipyard.specs.sweep import SweepJobSpec


def _spec(space: str, algorithm: str = "random", extra: str = "", goal: str = "maximize") -> SweepJobSpec:
    text = (
        "type: sweep\ntrial:\n  command: python t.py\n"
        f"sampling_algorithm: {algorithm}\nsearch_space:\n{space}"
        f"objective: {{goal: {goal}, primary_metric: acc}}\n{extra}"
    )
    return parse_spec(text, SweepJobSpec, "sweep.yml")


MIXED = (
    "  lr: {type: loguniform, min_value: -7, max_value: -1}\n"
    "  width: {type: quniform, min_value: 8, max_value: 64, q: 8}\n"
    "  kernel: {type: choice, values: [rbf, linear, poly]}\n"
    "  noise: {type: normal, mu: 10, sigma: 2}\n"
    "  depth: {type: randint, upper: 5}\n"
)


def _objective(params: dict[str, ParamValue]) -> float:
    if "lr" not in params:
        return float(sum(map(ord, str(params))) % 7)
    lr = float(params["lr"])
    return -abs(math.log(lr) + 4) + (0.5 if params["kernel"] == "rbf" else 0.0)


def _drive_rebuilt(search: SweepSearch, n: int, concurrency: int) -> list[dict[str, ParamValue]]:
    """What Shipyard does: a fresh study from the records on every call; trials finish in
    order, ``concurrency`` at a time."""
    records: list[TrialRecord] = []
    drawn: list[dict[str, ParamValue]] = []
    for number in range(n):
        if number >= concurrency:  # the oldest running trial finishes first
            done = records[number - concurrency]
            value = _objective(search.params(done.internal))
            records[number - concurrency] = TrialRecord(
                done.number, done.internal, "completed", [value], value
            )
        suggestion = search.study(records).ask()
        assert suggestion.number == number
        records.append(TrialRecord(number, suggestion.internal, "running"))
        drawn.append(suggestion.params)
    return drawn


def _drive_uninterrupted(search: SweepSearch, n: int, concurrency: int) -> list[dict[str, ParamValue]]:
    """One Optuna study kept alive the whole time (ask/tell), as a single process would."""
    study = optuna.create_study(direction="maximize")
    trials: list[optuna.Trial] = []
    drawn: list[dict[str, ParamValue]] = []
    for number in range(n):
        if number >= concurrency:
            done = trials[number - concurrency]
            value = _objective(search.params(done.params))
            done.report(value, 1)
            study.tell(done, value)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # QMCSampler is "experimental"
            study.sampler = search.sampler(number)
            trial = study.ask(dict(search.distributions))
        trials.append(trial)
        drawn.append(search.params(trial.params))
    return drawn


@pytest.mark.parametrize(
    "algorithm",
    ["random", "{type: random, rule: sobol, seed: 5}", "bayesian"],
)
def test_rebuilding_the_study_every_time_draws_what_an_uninterrupted_study_draws(algorithm: str) -> None:
    search = SweepSearch(_spec(MIXED, algorithm), seed=1234)
    n = 16  # past TPE's 10 random start-up trials
    rebuilt = _drive_rebuilt(search, n, concurrency=3)
    assert rebuilt == _drive_uninterrupted(search, n, concurrency=3)
    assert len({str(p) for p in rebuilt}) == n  # and the draws are not one point again and again


def test_same_seed_same_trials_other_seed_other_trials() -> None:
    spec = _spec(MIXED)
    first = _drive_rebuilt(SweepSearch(spec, seed=1), 6, 2)
    assert first == _drive_rebuilt(SweepSearch(spec, seed=1), 6, 2)
    assert first != _drive_rebuilt(SweepSearch(spec, seed=2), 6, 2)


def test_values_follow_azure_mls_distributions() -> None:
    search = SweepSearch(_spec(MIXED), seed=9)
    for params in _drive_rebuilt(search, 40, 4):
        assert math.exp(-7) <= float(params["lr"]) <= math.exp(-1)
        assert params["width"] in range(8, 65, 8) and isinstance(params["width"], int)
        assert params["kernel"] in ("rbf", "linear", "poly")
        assert params["depth"] in range(5)


def test_normal_is_its_inverse_cdf_of_a_uniform_draw_and_q_rounds() -> None:
    spec = _spec(
        "  n: {type: normal, mu: 10, sigma: 2}\n"
        "  qn: {type: qnormal, mu: 10, sigma: 2, q: 0.5}\n"
        "  ln: {type: lognormal, mu: 0, sigma: 1}\n"
        "  qu: {type: quniform, min_value: 0, max_value: 1, q: 0.1}\n"
    )
    search = SweepSearch(spec, seed=0)
    params = search.params({"n": 0.5, "qn": 0.8, "ln": 0.5, "qu": 0.3333})
    assert params["n"] == pytest.approx(10.0)
    assert params["qn"] == round(NormalDist(10, 2).inv_cdf(0.8) / 0.5) * 0.5
    assert params["ln"] == pytest.approx(1.0)  # exp(normal(0, 1)) at its median
    assert params["qu"] == 0.3  # not 0.30000000000000004


def test_grid_takes_every_point_once_then_is_exhausted() -> None:
    spec = _spec("  a: {type: choice, values: [1, 2, 3]}\n  b: {type: choice, values: [x, y]}\n", "grid")
    search = SweepSearch(spec, seed=3)
    assert search.grid_size == 6
    drawn = _drive_rebuilt(search, 6, concurrency=2)
    assert sorted(f"{p['a']}{p['b']}" for p in drawn) == ["1x", "1y", "2x", "2y", "3x", "3y"]
    assert drawn == _drive_rebuilt(SweepSearch(spec, seed=3), 6, concurrency=6)  # order by seed only


# -- early termination ---------------------------------------------------------------------------


def _stop(
    spec: SweepJobSpec, others: list[list[float]], mine: list[float], completed: bool = True
) -> str | None:
    """Whether the running trial logging ``mine`` is stopped, beside trials that logged ``others``."""
    records = [
        TrialRecord(i, {"x": 0.5}, "completed" if completed else "running", values, values[-1])
        for i, values in enumerate(others)
    ]
    records.append(TrialRecord(len(others), {"x": 0.5}, "running", mine))
    return SweepSearch(spec, seed=0).study(records).should_stop(len(others))


X = "  x: {type: uniform, min_value: 0, max_value: 1}\n"


def test_bandit_slack_factor_when_maximizing() -> None:
    spec = _spec(X, extra="early_termination: {type: bandit, slack_factor: 0.1}\n")
    # The best trial reached 0.76 by step 4: 0.76 / 1.1 = 0.6909 is the least allowed.
    others = [[0.5, 0.6, 0.7, 0.76, 0.8], [0.4, 0.5]]
    why = _stop(spec, others, [0.3, 0.4, 0.5, 0.61])
    assert why == "stopped by bandit (slack_factor 0.1) at step 4: 0.61 < 0.6909 allowed (best 0.76, trial_0)"
    assert _stop(spec, others, [0.3, 0.4, 0.5, 0.70]) is None
    # Judged against the others *at the same step*: 0.8 at step 5 does not count at step 4.
    assert _stop(spec, others, [0.3, 0.4, 0.5, 0.7]) is None


def test_bandit_slack_amount_when_minimizing_and_running_trials_count() -> None:
    spec = _spec(X, goal="minimize", extra="early_termination: {type: bandit, slack_amount: 0.2}\n")
    others = [[1.0, 0.5], [0.9, 0.8]]
    why = _stop(spec, others, [1.0, 0.75], completed=False)
    assert why == "stopped by bandit (slack_amount 0.2) at step 2: 0.75 > 0.7 allowed (best 0.5, trial_0)"
    assert _stop(spec, others, [1.0, 0.7], completed=False) is None


def test_bandit_waits_for_delay_and_interval() -> None:
    spec = _spec(
        X,
        extra="early_termination: {type: bandit, slack_factor: 0, delay_evaluation: 3, evaluation_interval: 2}\n",
    )
    others = [[1.0] * 6]
    assert _stop(spec, others, [0.1]) is None  # step 1: before the delay
    assert _stop(spec, others, [0.1, 0.1]) is None  # step 2: still before it
    assert _stop(spec, others, [0.1, 0.1, 0.1]) is None  # step 3: judged at step 2 (last multiple of 2)
    assert _stop(spec, others, [0.1] * 4) is not None  # step 4: a multiple of 2 past the delay
    assert "at step 4" in str(_stop(spec, others, [0.1] * 5))  # step 5: judged at step 4


def test_bandit_alone_stops_nothing() -> None:
    spec = _spec(X, extra="early_termination: {type: bandit, slack_factor: 0.1}\n")
    assert _stop(spec, [], [0.0, 0.0, 0.0]) is None


def test_median_stopping_compares_with_the_median_of_completed_trials() -> None:
    spec = _spec(X, extra="early_termination: {type: median_stopping, delay_evaluation: 1}\n")
    others = [[0.2, 0.3], [0.4, 0.5], [0.6, 0.7]]
    why = _stop(spec, others, [0.1, 0.45])
    assert why == (
        "stopped by median_stopping at step 2: its best 0.45 is below the median 0.5 of 3 completed trials"
        " at that step"
    )
    assert _stop(spec, others, [0.1, 0.55]) is None
    assert _stop(spec, others, [0.1, 0.45], completed=False) is None  # running trials are not compared


def test_truncation_selection_cuts_the_worst_percentage() -> None:
    spec = _spec(X, extra="early_termination: {type: truncation_selection, truncation_percentage: 20}\n")
    others = [[v] for v in (1.0, 2.0, 3.0, 4.0, 5.0)]  # the worst 20% at step 1 is below 1.8
    why = _stop(spec, others, [1.5])
    assert why is not None and "worst 20% of 5 completed trials" in why and "below 1.8" in why
    assert _stop(spec, others, [2.0]) is None
    # With fewer than 100 / 20 = 5 trials at the step, 20% of them is not one trial yet.
    assert _stop(spec, others[:4], [0.0]) is None


def test_truncation_selection_when_minimizing() -> None:
    spec = _spec(
        X,
        goal="minimize",
        extra="early_termination: {type: truncation_selection, truncation_percentage: 40}\n",
    )
    others = [[v] for v in (1.0, 2.0, 3.0, 4.0, 5.0)]  # the worst 40% is above 3.4
    assert _stop(spec, others, [3.6]) is not None
    assert _stop(spec, others, [3.2]) is None


def test_a_trial_without_values_is_never_stopped() -> None:
    spec = _spec(X, extra="early_termination: {type: median_stopping}\n")
    assert _stop(spec, [[0.5]], []) is None
