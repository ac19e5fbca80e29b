"""Sweep job files: Azure ML's shape read, every bad search space or trial named by field and line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.errors import InvalidSpec
from shipyard.specs import CommandJobSpec, parse_spec, render_command
from shipyard.specs.bindings import find_bindings, render_search_space, search_space_bindings
from shipyard.specs.sweep import (
    BanditPolicy,
    Choice,
    GridSampling,
    LogUniform,
    RandomSampling,
    SweepJobSpec,
    TruncationSelectionPolicy,
    load_file,
    trial_command,
)

Write = Callable[[str, str], Path]
EXAMPLES = Path(__file__).parent / "fixtures" / "azureml"

GOOD = """\
type: sweep
trial:
  command: >-
    python train.py --data ${{inputs.data}}
    --lr ${{search_space.lr}} --kernel ${{search_space.kernel}}
  code: src
inputs:
  data:
    type: uri_file
    path: data/iris.csv
sampling_algorithm: random
search_space:
  lr:
    type: loguniform
    min_value: -6
    max_value: -1
  kernel:
    type: choice
    values: [rbf, linear]
objective:
  goal: maximize
  primary_metric: accuracy
early_termination:
  type: bandit
  slack_factor: 0.1
  evaluation_interval: 1
  delay_evaluation: 2
limits:
  max_total_trials: 12
  max_concurrent_trials: 4
  trial_timeout: 60
"""


def _error(text: str, overrides: tuple[str, ...] = ()) -> InvalidSpec:
    with pytest.raises(InvalidSpec) as info:
        parse_spec(text, SweepJobSpec, "sweep.yml", overrides)
    return info.value


def _with(space: str, algorithm: str = "random") -> str:
    return (
        "type: sweep\ntrial:\n  command: python t.py --x ${{search_space.x}}\n"
        f"sampling_algorithm: {algorithm}\nsearch_space:\n  x: {space}\n"
        "objective: {goal: minimize, primary_metric: loss}\n"
    )


def test_azure_hello_sweep_example_loads() -> None:
    spec = parse_spec((EXAMPLES / "hello-sweep.yml").read_text(), SweepJobSpec, "hello-sweep.yml")
    assert isinstance(spec.sampling_algorithm, RandomSampling)
    assert isinstance(spec.search_space["B"], Choice)
    assert spec.limits.max_total_trials == 4 and spec.limits.concurrency == 2
    assert spec.objective.goal == "minimize" and spec.objective.primary_metric == "random_metric"


def test_good_file_reads_every_part() -> None:
    spec = parse_spec(GOOD, SweepJobSpec, "sweep.yml")
    assert isinstance(spec.search_space["lr"], LogUniform)
    assert isinstance(spec.early_termination, BanditPolicy)
    assert spec.early_termination.slack == "slack_factor 0.1"
    assert spec.limits.trial_timeout == 60


def test_trial_is_checked_as_the_command_job_it_becomes() -> None:
    spec = parse_spec(GOOD, SweepJobSpec, "sweep.yml")
    trial = trial_command(parse_spec_data(GOOD), spec.search_space)
    assert isinstance(trial, CommandJobSpec)
    assert trial.code == "src" and "data" in trial.inputs
    assert trial.limits is not None and trial.limits.timeout == 60  # limits.trial_timeout


def parse_spec_data(text: str) -> dict[str, object]:
    from shipyard.specs import load_mapping

    return dict(load_mapping(text, "sweep.yml"))


@pytest.mark.parametrize(
    ("space", "field", "says"),
    [
        ("{type: uniform, min_value: 2, max_value: 1}", "search_space.x", "must be below max_value"),
        ("{type: uniform, min_value: 1, max_value: 1}", "search_space.x", "must be below max_value"),
        ("{type: quniform, min_value: 0, max_value: 9, q: 0}", "search_space.x.q", "must be above 0"),
        ("{type: qnormal, mu: 0, sigma: 1, q: -1}", "search_space.x.q", "must be above 0"),
        ("{type: randint, upper: 0}", "search_space.x.upper", "at least 1"),
        ("{type: choice, values: []}", "search_space.x.values", "at least one value"),
        ("{type: choice, values: [{a: 1}]}", "search_space.x.values", "nested search spaces"),
        ("{type: normal, mu: 0, sigma: 0}", "search_space.x.sigma", "must be above 0"),
        ("{type: lognormal, mu: 0, sigma: -2}", "search_space.x.sigma", "must be above 0"),
        ("{type: loguniform, min_value: -1, max_value: 800}", "search_space.x.max_value", "overflows"),
        ("{type: uniform, min_value: true, max_value: 2}", "search_space.x.min_value", "not true/false"),
        ("{type: gauss, mu: 0, sigma: 1}", "search_space.x", "is not one of choice, randint"),
        ("{mu: 0, sigma: 1}", "search_space.x", "needs a 'type'"),
        ("{type: uniform, min_value: 0}", "search_space.x.max_value", "missing"),
    ],
)
def test_search_space_that_does_not_fit_its_bounds(space: str, field: str, says: str) -> None:
    err = _error(_with(space))
    assert says in err.message
    assert err.details["field"] == field
    assert err.details["line"] == 6  # the entry's line in the file


def test_grid_over_a_continuous_space_is_refused_naming_the_entry() -> None:
    err = _error(_with("{type: uniform, min_value: 0, max_value: 1}", "grid"))
    assert "grid sampling takes choice entries only" in err.message and "'x' is a uniform" in err.message
    assert err.details["field"] == "search_space.x" and err.details["line"] == 6


def test_grid_over_choices_is_read() -> None:
    spec = parse_spec(_with("{type: choice, values: [1, 2, 3]}", "grid"), SweepJobSpec, "s.yml")
    assert isinstance(spec.sampling_algorithm, GridSampling)


def test_a_huge_grid_is_refused() -> None:
    values = ", ".join(map(str, range(400)))
    text = _with(f"{{type: choice, values: [{values}]}}", "grid").replace(
        "objective:", f"  y: {{type: choice, values: [{values}]}}\nobjective:"
    )
    err = _error(text)
    assert "the grid has 160000 points" in err.message and err.details["field"] == "sampling_algorithm"


@pytest.mark.parametrize(
    ("algorithm", "says"),
    [
        ("sobol", "type 'sobol' is not one of random, grid, bayesian (sobol is {type: random, rule: sobol})"),
        ("{type: random, rule: halton}", "field 'sampling_algorithm.rule'"),
        ("{type: random, seed: -1}", "field 'sampling_algorithm.seed'"),
        ("{type: random, logbase: 1}", "must be 'e' or a number above 1"),
    ],
)
def test_unknown_or_bad_sampling_algorithm(algorithm: str, says: str) -> None:
    err = _error(_with("{type: uniform, min_value: 0, max_value: 1}", algorithm))
    assert says in err.message
    assert err.details["line"] == 4


def test_sobol_and_seed_are_read() -> None:
    spec = parse_spec(
        _with("{type: uniform, min_value: 0, max_value: 1}", "{type: random, rule: sobol, seed: 42}"),
        SweepJobSpec,
        "s.yml",
    )
    assert isinstance(spec.sampling_algorithm, RandomSampling)
    assert spec.sampling_algorithm.rule == "sobol" and spec.seed == 42


def test_binding_to_no_search_space_entry_is_refused_on_the_trial_command() -> None:
    err = _error(GOOD.replace("${{search_space.kernel}}", "${{search_space.kernal}}"))
    assert "${{search_space.kernal}} in the trial command names no entry" in err.message
    assert "search_space: kernel, lr" in err.message
    assert err.details["field"] == "trial.command" and err.details["line"] == 3


def test_trial_binding_to_an_undeclared_input_is_refused_on_the_trial_command() -> None:
    err = _error(GOOD.replace("${{inputs.data}}", "${{inputs.dta}}"))
    assert "declares no input 'dta'" in err.message
    assert err.details["field"] == "trial.command"


def test_trial_problems_are_placed_on_the_sweep_files_fields() -> None:
    err = _error(GOOD.replace("  code: src\n", "  code: src\n  environment: not a ref!\n"))
    assert err.details["field"] == "trial.environment" and err.details["line"] == 7
    err = _error(GOOD.replace("  code: src\n", "  code: azureml:x\n"))
    assert err.details["field"] == "trial.code" and "must be a local folder" in err.message
    err = _error(GOOD.replace("  code: src\n", "  distribution: {type: mpi}\n"))
    assert err.details["field"] == "trial.distribution"


def test_trial_as_a_component_file_is_refused_clearly() -> None:
    text = _with("{type: uniform, min_value: 0, max_value: 1}").replace(
        "trial:\n  command: python t.py --x ${{search_space.x}}\n", "trial: ./train.yml\n"
    )
    err = _error(text)
    assert "'./train.yml': a trial that is a component file is not supported" in err.message
    assert err.details["field"] == "trial" and err.details["line"] == 2


@pytest.mark.parametrize(
    ("policy", "says"),
    [
        ("{type: bandit}", "exactly one of slack_factor"),
        ("{type: bandit, slack_factor: 0.1, slack_amount: 0.2}", "exactly one of slack_factor"),
        ("{type: bandit, slack_factor: 0.1, evaluation_interval: -1}", "evaluation_interval"),
        ("{type: truncation_selection}", "truncation_percentage"),
        ("{type: truncation_selection, truncation_percentage: 100}", "truncation_percentage"),
        (
            "{type: truncation_selection, truncation_percentage: 10, exclude_finished_jobs: true}",
            "not supported",
        ),
        ("{type: hyperband}", "is not one of bandit, median_stopping, truncation_selection"),
    ],
)
def test_bad_early_termination(policy: str, says: str) -> None:
    err = _error(_with("{type: uniform, min_value: 0, max_value: 1}") + f"early_termination: {policy}\n")
    assert says in err.message
    assert err.details["line"] == 8


def test_truncation_selection_is_read() -> None:
    text = _with("{type: uniform, min_value: 0, max_value: 1}")
    text += (
        "early_termination: {type: truncation_selection, truncation_percentage: 20, delay_evaluation: 5}\n"
    )
    spec = parse_spec(text, SweepJobSpec, "s.yml")
    assert isinstance(spec.early_termination, TruncationSelectionPolicy)
    assert spec.early_termination.interval == 1 and spec.early_termination.delay_evaluation == 5


@pytest.mark.parametrize(
    ("limits", "says"),
    [
        (
            "{max_total_trials: 4, max_concurrent_trials: 8}",
            "max_concurrent_trials (8) is above max_total_trials (4)",
        ),
        ("{max_total_trials: 0}", "max_total_trials"),
        ("{timeout: 0}", "timeout"),
        ("{trial_timeout: -5}", "trial_timeout"),
    ],
)
def test_bad_limits(limits: str, says: str) -> None:
    err = _error(_with("{type: uniform, min_value: 0, max_value: 1}") + f"limits: {limits}\n")
    assert says in err.message


@pytest.mark.parametrize(
    ("objective", "says"),
    [
        ("{goal: up, primary_metric: acc}", "field 'objective.goal'"),
        ("{goal: maximize}", "missing required field 'objective.primary_metric'"),
    ],
)
def test_bad_objective(objective: str, says: str) -> None:
    err = _error(_with("{type: uniform, min_value: 0, max_value: 1}").replace(
        "{goal: minimize, primary_metric: loss}", objective
    ))  # fmt: skip
    assert says in err.message


def test_goal_is_read_in_any_case() -> None:
    text = _with("{type: uniform, min_value: 0, max_value: 1}").replace("minimize", "Maximize")
    assert parse_spec(text, SweepJobSpec, "s.yml").objective.goal == "maximize"


def test_search_space_names_must_be_binding_names() -> None:
    err = _error(_with("{type: uniform, min_value: 0, max_value: 1}").replace("  x:", "  learning-rate:"))
    assert "'learning-rate'" in err.message and err.details["field"] == "search_space"


def test_search_space_binding_is_still_refused_in_a_command_job() -> None:
    with pytest.raises(InvalidSpec, match="belong to sweep jobs"):
        parse_spec("command: python t.py --c ${{search_space.c}}\n", CommandJobSpec, "job.yml")


def test_search_space_bindings_are_allowed_only_where_the_caller_says() -> None:
    command = "python t.py --lr ${{search_space.lr}} $[[--c ${{inputs.c}}]]"
    with search_space_bindings(["lr"]):
        kinds = [(b.kind, b.name, b.optional) for b in find_bindings(command)]
    assert kinds == [("search_space", "lr", False), ("inputs", "c", True)]
    with pytest.raises(InvalidSpec, match="belong to sweep jobs"):
        find_bindings(command)


def test_render_search_space_quotes_values_and_leaves_the_rest_for_the_runner() -> None:
    command = "python t.py --lr ${{ search_space.lr }} --k ${{search_space.k}} --d ${{inputs.d}}"
    rendered = render_search_space(command, {"lr": "0.01", "k": "a b; rm -rf /"})
    assert rendered == "python t.py --lr 0.01 --k 'a b; rm -rf /' --d ${{inputs.d}}"
    assert (
        render_command(rendered, {"d": "/data"}, {}) == "python t.py --lr 0.01 --k 'a b; rm -rf /' --d /data"
    )
    with pytest.raises(InvalidSpec, match="has no value"):
        render_search_space(command, {"lr": "1"})


def test_load_file_makes_the_trial_the_one_part_to_upload(tmp_path: Path, write: Write) -> None:
    write("proj/src/train.py", "print(1)\n")
    write("proj/data/iris.csv", "a,b\n")
    path = write("proj/sweep.yml", GOOD)
    loaded = load_file(path)
    assert loaded.type == "sweep" and set(loaded.parts) == {""}
    part = loaded.parts[""]
    assert part.code == (tmp_path / "proj/src").resolve()
    assert part.inputs["data"].ref is not None
    assert loaded.raw["search_space"]["lr"]["type"] == "loguniform"
    assert "${{search_space.lr}}" in part.spec.command  # kept for the server to fill in


def test_load_file_places_a_missing_code_folder_on_the_trials_line(write: Write) -> None:
    write("proj/data/iris.csv", "a,b\n")
    path = write("proj/sweep.yml", GOOD)
    with pytest.raises(InvalidSpec) as info:
        load_file(path)
    assert "code 'src' does not exist" in info.value.message
    assert info.value.details["line"] == 6 and str(path) in info.value.message


def test_load_file_with_overrides(tmp_path: Path, write: Write) -> None:
    write("proj/src/train.py", "print(1)\n")
    write("proj/data/iris.csv", "a,b\n")
    path = write("proj/sweep.yml", GOOD)
    loaded = load_file(path, ["limits.max_total_trials=5"])
    assert loaded.raw["limits"]["max_total_trials"] == 5
