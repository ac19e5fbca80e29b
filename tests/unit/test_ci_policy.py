"""The evaluation gate of ``shipyard ci compare``: policy files, MLflow's rule semantics in both
directions, missing and NaN values, every failure listed — and the report built from them."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import pytest

from shipyard.cli._ci_report import DASH, Side, compare, rows, to_json, to_markdown, verdict_lines
from shipyard.errors import InvalidSpec
from shipyard.specs.ci_policy import CiPolicy, MetricRule, evaluate, load_policy


def policy(**rules: Mapping[str, object]) -> CiPolicy:
    return CiPolicy.model_validate({"metrics": rules})


def outcome(
    rule: Mapping[str, object], candidate: float | None, baseline: float | None
) -> list[tuple[str, bool]]:
    cand = {} if candidate is None else {"m": candidate}
    base = {} if baseline is None else {"m": baseline}
    return [(c.rule, c.passed) for c in evaluate(policy(m=rule), cand, base).checks]


# -- threshold ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "passed"), [(0.81, True), (0.8, True), (0.79, False)], ids=["above", "equal", "below"]
)
def test_threshold_is_a_floor_when_greater_is_better(value: float, passed: bool) -> None:
    assert outcome({"greater_is_better": True, "threshold": 0.8}, value, None) == [("threshold", passed)]


@pytest.mark.parametrize(
    ("value", "passed"), [(0.49, True), (0.5, True), (0.51, False)], ids=["below", "equal", "above"]
)
def test_threshold_is_a_ceiling_when_lower_is_better(value: float, passed: bool) -> None:
    assert outcome({"greater_is_better": False, "threshold": 0.5}, value, None) == [("threshold", passed)]


def test_a_threshold_alone_needs_no_baseline() -> None:
    assert outcome({"greater_is_better": True, "threshold": 0.5}, 0.6, None) == [("threshold", True)]


# -- min_absolute_change -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("better", "candidate", "passed"),
    [
        (True, 0.875, True),  # 0.75 + 0.125 = 0.875: exactly enough
        (True, 0.8, False),  # better, but by less than 0.125
        (True, 0.7, False),  # worse
        (False, 0.625, True),  # 0.75 - 0.125
        (False, 0.7, False),
        (False, 0.9, False),
    ],
)
def test_min_absolute_change_in_both_directions(better: bool, candidate: float, passed: bool) -> None:
    rule = {"greater_is_better": better, "min_absolute_change": 0.125}
    assert outcome(rule, candidate, 0.75) == [("min_absolute_change", passed)]


# -- min_relative_change -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("better", "candidate", "baseline", "passed"),
    [
        # Values exact in binary, so the comparison is not decided by rounding.
        (True, 1.25, 1.0, True),  # +25 %
        (True, 1.125, 1.0, False),  # +12.5 % < 25 %
        (False, 0.75, 1.0, True),  # -25 %
        (False, 0.875, 1.0, False),
        # A negative baseline (an R² below 0): the change is relative to its magnitude, so
        # -0.5 → -0.375 is a 25 % improvement, not a 25 % decline.
        (True, -0.375, -0.5, True),
        (True, -0.625, -0.5, False),
    ],
)
def test_min_relative_change_in_both_directions(
    better: bool, candidate: float, baseline: float, passed: bool
) -> None:
    rule = {"greater_is_better": better, "min_relative_change": 0.25}
    assert outcome(rule, candidate, baseline) == [("min_relative_change", passed)]


@pytest.mark.parametrize(
    ("better", "candidate", "passed"),
    [(True, 0.001, True), (True, 0.0, False), (False, -0.001, True), (False, 0.0, False)],
)
def test_a_zero_baseline_asks_for_strictly_better(better: bool, candidate: float, passed: bool) -> None:
    rule = {"greater_is_better": better, "min_relative_change": 0.5}
    assert outcome(rule, candidate, 0.0) == [("min_relative_change", passed)]


def test_a_relative_change_of_zero_asks_for_no_worse() -> None:
    rule = {"greater_is_better": True, "min_relative_change": 0}
    assert outcome(rule, 1.0, 1.0) == [("min_relative_change", True)]
    assert outcome(rule, 0.99, 1.0) == [("min_relative_change", False)]


# -- missing values and every failure -------------------------------------------------------


def test_a_metric_missing_on_the_candidate_fails_every_rule_it_has() -> None:
    rule = {
        "greater_is_better": True,
        "threshold": 0.5,
        "min_absolute_change": 0.1,
        "min_relative_change": 0.1,
    }
    checks = evaluate(policy(acc=rule), {}, {"acc": 0.4}).checks
    assert [(c.rule, c.passed, c.reason) for c in checks] == [
        ("threshold", False, "missing on the candidate"),
        ("min_absolute_change", False, "missing on the candidate"),
        ("min_relative_change", False, "missing on the candidate"),
    ]


def test_a_metric_missing_on_the_baseline_fails_only_the_change_rules() -> None:
    rule = {"greater_is_better": True, "threshold": 0.5, "min_absolute_change": 0.1}
    checks = evaluate(policy(acc=rule), {"acc": 0.9}, {}).checks
    assert [(c.rule, c.passed, c.reason) for c in checks] == [
        ("threshold", True, ""),
        ("min_absolute_change", False, "missing on the baseline"),
    ]


def test_a_nan_value_fails_the_rules_that_read_it() -> None:
    rule = {"greater_is_better": True, "threshold": 0.5, "min_relative_change": 0.1}
    checks = evaluate(policy(acc=rule), {"acc": 0.9}, {"acc": math.nan}).checks
    assert [(c.rule, c.passed, c.reason) for c in checks] == [
        ("threshold", True, ""),
        ("min_relative_change", False, "NaN on the baseline"),
    ]


def test_every_failed_rule_of_every_metric_is_listed_in_the_policys_order() -> None:
    gate = policy(
        acc={"greater_is_better": True, "threshold": 0.9, "min_absolute_change": 0.05},
        loss={"greater_is_better": False, "threshold": 0.3, "min_relative_change": 0.1},
        f1={"greater_is_better": True, "threshold": 0.1},
        auc={"greater_is_better": True, "threshold": 0.5},
    )
    verdict = evaluate(gate, {"acc": 0.85, "loss": 0.4, "f1": 0.5}, {"acc": 0.84, "loss": 0.41})
    assert not verdict.passed
    assert [(c.metric, c.rule) for c in verdict.failures] == [
        ("acc", "threshold"),
        ("acc", "min_absolute_change"),
        ("loss", "threshold"),
        ("loss", "min_relative_change"),
        ("auc", "threshold"),
    ]
    assert [(c.metric, c.rule) for c in verdict.checks if c.passed] == [("f1", "threshold")]


def test_a_policy_whose_rules_all_hold_passes() -> None:
    gate = policy(acc={"greater_is_better": True, "threshold": 0.8, "min_absolute_change": 0.01})
    assert evaluate(gate, {"acc": 0.9}, {"acc": 0.85}).passed


# -- policy files --------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_policy_file_is_read_in_its_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "metrics:\n"
        "  val_loss: {greater_is_better: false, min_absolute_change: 0.005}\n"
        "  val_acc:\n    greater_is_better: true\n    threshold: 0.75\n    min_relative_change: 0.01\n",
    )
    loaded = load_policy(path)
    assert list(loaded.metrics) == ["val_loss", "val_acc"]
    assert loaded.metrics["val_acc"] == MetricRule(
        greater_is_better=True, threshold=0.75, min_relative_change=0.01
    )


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("- acc\n- loss\n", "policy.yml: the top level must be a mapping"),
        ("metric: {}\n", "unknown field 'metric' under the policy (did you mean 'metrics'?)"),
        ("metrics: {}\n", "policy.yml line 1: names no metric"),
        ("metrics:\n  acc: [0.5]\n", "policy.yml line 2: field 'metrics.acc'"),
        (
            "metrics:\n  acc:\n    greater_is_better: true\n    treshold: 0.5\n",
            "policy.yml line 4: unknown field 'treshold' under 'metrics.acc' (did you mean 'threshold'?)",
        ),
        (
            "metrics:\n  acc:\n    greater_is_better: true\n    min_relative_change: 1.5\n",
            "policy.yml line 4: field 'metrics.acc.min_relative_change': Input should be less than or equal to 1",
        ),
        (
            "metrics:\n  acc:\n    greater_is_better: true\n    min_relative_change: -0.1\n",
            "policy.yml line 4: field 'metrics.acc.min_relative_change': Input should be greater than or equal to 0",
        ),
        (
            "metrics:\n  acc:\n    greater_is_better: true\n    min_absolute_change: 0\n",
            "policy.yml line 4: field 'metrics.acc.min_absolute_change': Input should be greater than 0",
        ),
        ("metrics:\n  acc:\n    min_absolute_change: 0.1\n", "policy.yml line 2: field 'metrics.acc': greater_is_better is required"),
        ("metrics:\n  acc:\n    greater_is_better: true\n", "policy.yml line 2: field 'metrics.acc': no rule"),
        (
            "metrics:\n  acc: {greater_is_better: maybe, threshold: 1}\n",
            "policy.yml line 2: field 'metrics.acc.greater_is_better': Input should be a valid boolean",
        ),
    ],
    ids=[
        "not-a-mapping", "unknown-top-key", "no-metrics", "rule-not-a-mapping", "unknown-rule-key",
        "relative-above-1", "relative-below-0", "absolute-zero", "change-without-direction", "no-rule",
        "direction-not-bool",
    ],
)  # fmt: skip
def test_a_bad_policy_file_says_where_and_what_to_fix(tmp_path: Path, text: str, said: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InvalidSpec) as caught:
        load_policy(path)
    assert said in caught.value.message.replace(str(path), "policy.yml")


def test_every_problem_of_a_policy_file_is_named_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "metrics:\n  a: {greater_is_better: true, min_absolute_change: -1}\n"
        "  b: {greater_is_better: true, min_relative_change: 2}\n",
    )
    with pytest.raises(InvalidSpec) as caught:
        load_policy(path)
    assert caught.value.message.startswith("2 problems:")
    assert "line 2" in caught.value.message
    assert "line 3" in caught.value.message


def test_a_missing_policy_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidSpec, match="no such file"):
        load_policy(tmp_path / "nope.yml")


# -- the report ------------------------------------------------------------------------------


def side(
    category: str, run_id: str, metrics: dict[str, float], commit: str | None, runtime: float | None
) -> Side:
    return Side(
        category,
        run_id,
        run_id,
        "1",
        commit,
        metrics,
        runtime,
        f"http://s/studio/experiments/1/runs/{run_id}",
    )


CANDIDATE = side("candidate", "c" * 32, {"acc": 0.862, "loss": 0.366, "extra": 1.0}, "5287272abcdef", 542.478)
BASELINE = side("baseline", "b" * 32, {"acc": 0.851, "loss": 0.392}, None, 577.173)


def test_the_default_metrics_are_those_both_runs_have_sorted() -> None:
    report = compare(CANDIDATE, BASELINE)
    assert report.metrics == ["acc", "loss"]
    assert rows(report) == [
        ["candidate", "c" * 32, "5287272", "0.862", "0.366", "542.478"],
        ["baseline", "b" * 32, DASH, "0.851", "0.392", "577.173"],
        ["delta", "", "", "+0.011 (+1.29%)", "-0.026 (-6.63%)", "-34.695 (-6.01%)"],
    ]
    assert verdict_lines(report) == ["no policy: nothing gated"]


def test_a_metric_one_side_lacks_is_a_dash_and_named() -> None:
    report = compare(CANDIDATE, BASELINE, ["extra", "acc", "absent"])
    assert [row[3] for row in rows(report)] == ["1", DASH, DASH]
    assert [row[5] for row in rows(report)] == [DASH, DASH, DASH]
    assert verdict_lines(report)[1:] == [
        f"missing on the candidate ({'c' * 32}): absent",
        f"missing on the baseline ({'b' * 32}): extra, absent",
    ]


def test_the_policy_chooses_the_metrics_and_the_verdict_lists_failures_first() -> None:
    gate = policy(
        acc={"greater_is_better": True, "threshold": 0.8},
        loss={"greater_is_better": False, "min_absolute_change": 0.05},
    )
    report = compare(CANDIDATE, BASELINE, policy=gate, policy_file="policy.yml")
    assert report.metrics == ["acc", "loss"]
    assert not report.passed
    assert verdict_lines(report) == [
        "❌ policy failed (policy.yml): 1 of 2 rules failed",
        "❌ loss min_absolute_change: wanted at least 0.05 below the baseline; candidate 0.366, baseline 0.392",
        "✅ acc threshold: wanted >= 0.8; candidate 0.862",
    ]


def test_the_markdown_is_a_github_table_with_links_and_the_verdict() -> None:
    gate = policy(acc={"greater_is_better": True, "threshold": 0.8})
    text = to_markdown(compare(CANDIDATE, BASELINE, policy=gate, policy_file="policy.yml"))
    assert text.splitlines() == [
        "| Category | Run ID | SHA | acc | Runtime |",
        "|---|---|---|---|---|",
        f"| candidate | [cccccccc](http://s/studio/experiments/1/runs/{'c' * 32}) | 5287272 | 0.862 | 542.478 |",
        f"| baseline | [bbbbbbbb](http://s/studio/experiments/1/runs/{'b' * 32}) | {DASH} | 0.851 | 577.173 |",
        "| delta |  |  | +0.011 (+1.29%) | -34.695 (-6.01%) |",
        "",
        "**✅ policy passed (policy.yml): 1 of 1 rules**",
        "",
        "- ✅ acc threshold: wanted >= 0.8; candidate 0.862",
    ]


def test_the_json_has_stable_fields_and_nulls_for_missing_values() -> None:
    gate = policy(absent={"greater_is_better": True, "threshold": 0.1})
    found = json.loads(json.dumps(to_json(compare(CANDIDATE, BASELINE, ["acc", "absent"], gate, "p.yml"))))
    assert found["metrics"] == ["acc", "absent"]
    assert found["candidate"]["metrics"] == {"acc": 0.862, "absent": None}
    assert found["candidate"]["commit"] == "5287272abcdef"
    assert found["baseline"]["missing"] == ["absent"]
    assert found["delta"]["acc"]["absolute"] == pytest.approx(0.011)
    assert found["delta"]["absent"] is None
    assert found["delta"]["runtime_s"]["absolute"] == pytest.approx(-34.695)
    assert found["passed"] is False
    assert found["policy"] == {
        "file": "p.yml",
        "passed": False,
        "rules": [{"metric": "absent", "rule": "threshold", "passed": False, "expected": ">= 0.1",
                   "reason": "missing on the candidate"}],
    }  # fmt: skip


def test_a_run_still_running_has_no_runtime() -> None:
    running = side("candidate", "r" * 32, {"acc": 1.0}, None, None)
    assert rows(compare(running, BASELINE))[0][-1] == DASH
    assert rows(compare(running, BASELINE))[2][-1] == DASH


# -- the same verdicts as MLflow ----------------------------------------------------------------


@pytest.mark.parametrize("better", [True, False])
@pytest.mark.parametrize(
    "rule",
    [{"threshold": 0.5}, {"min_absolute_change": 0.25}, {"min_relative_change": 0.5},
     {"threshold": 0.5, "min_absolute_change": 0.25, "min_relative_change": 0.25}],
    ids=["threshold", "absolute", "relative", "all"],
)  # fmt: skip
def test_verdicts_match_mlflows_validate_evaluation_results(better: bool, rule: dict[str, float]) -> None:
    """A gate carried over from ``mlflow.evaluate`` passes and fails on the same values."""
    validation = pytest.importorskip("mlflow.models.evaluation.validation")
    from mlflow.models.evaluation import EvaluationResult

    gate = policy(m={"greater_is_better": better, **rule})
    threshold = validation.MetricThreshold(greater_is_better=better, **rule)
    values = [-1.0, -0.5, 0.0, 0.25, 0.5, 0.75, 1.0, 1.5]
    for candidate in values:
        for baseline in values:
            ours = evaluate(gate, {"m": candidate}, {"m": baseline}).passed
            try:
                validation.validate_evaluation_results(
                    {"m": threshold},
                    EvaluationResult({"m": candidate}, {}),  # type: ignore[no-untyped-call]
                    EvaluationResult({"m": baseline}, {}),  # type: ignore[no-untyped-call]
                )
                theirs = True
            except validation.ModelValidationFailedException:
                theirs = False
            assert ours == theirs, (candidate, baseline)
