"""What ``shipyard ci compare`` shows: two runs side by side, their deltas and the verdict.

Pure data in, text out — no server, no SDK: the command resolves the two runs and hands
their :class:`Side` here, so every number and sentence of the report is unit-tested without
a server. Three renderings share one :class:`Comparison`: the terminal table, the Markdown a
pull-request comment shows (a GitHub table, the verdict with ✅/❌ per rule), and JSON with
stable field names for scripts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

# The two sides and their cells are the domain's (the model card shows them too).
from shipyard.domain.run_compare import (
    COMMIT_TAG,
    DASH,
    Side,
    fmt_runtime,
    fmt_value,
    metric_rows,
    side_from_run,
)
from shipyard.domain.run_compare import (
    delta as _delta,
)

if TYPE_CHECKING:
    # Only for types: the policy module brings pydantic (~0.1 s), needed only with --policy.
    from shipyard.specs.ci_policy import CiPolicy, RuleCheck, Verdict

__all__ = [
    "COMMIT_TAG",
    "DASH",
    "Comparison",
    "Side",
    "choose_metrics",
    "compare",
    "fmt_runtime",
    "fmt_value",
    "header",
    "headline",
    "rows",
    "side_from_run",
    "to_json",
    "to_markdown",
    "verdict_lines",
]

PASS, FAIL = "✅", "❌"


@dataclass(frozen=True, slots=True)
class Comparison:
    candidate: Side
    baseline: Side
    metrics: list[str]
    verdict: Verdict | None  # None without a policy
    policy_file: str | None = None

    @property
    def passed(self) -> bool:
        return self.verdict is None or self.verdict.passed

    def missing(self, side: Side) -> list[str]:
        return [name for name in self.metrics if name not in side.metrics]


def choose_metrics(
    candidate: Side, baseline: Side, wanted: list[str] | None, policy: CiPolicy | None
) -> list[str]:
    """``--metrics`` as given; else the policy's metrics; else those both runs have, sorted."""
    if wanted:
        return list(dict.fromkeys(wanted))
    if policy is not None:
        return list(policy.metrics)
    return sorted(set(candidate.metrics) & set(baseline.metrics))


def compare(
    candidate: Side,
    baseline: Side,
    wanted: list[str] | None = None,
    policy: CiPolicy | None = None,
    policy_file: str | None = None,
) -> Comparison:
    verdict = None
    if policy is not None:
        from shipyard.specs.ci_policy import evaluate

        verdict = evaluate(policy, candidate.metrics, baseline.metrics)
    metrics = choose_metrics(candidate, baseline, wanted, policy)
    return Comparison(candidate, baseline, metrics, verdict, policy_file)


# -- cells -------------------------------------------------------------------------------


def header(comparison: Comparison) -> list[str]:
    return ["Category", "Run ID", "SHA", *comparison.metrics, "Runtime"]


def rows(comparison: Comparison) -> list[list[str]]:
    """The candidate's, the baseline's and the delta's row, as text."""
    return metric_rows(comparison.candidate, comparison.baseline, comparison.metrics)


# -- the verdict -------------------------------------------------------------------------


def _check_line(check: RuleCheck, comparison: Comparison) -> str:
    mark = PASS if check.passed else FAIL
    what = f"{check.metric} {check.rule}: wanted {check.expected}"
    if check.reason:
        return f"{mark} {what}; {check.reason}"
    value = fmt_value(comparison.candidate.metrics.get(check.metric))
    if check.rule == "threshold":
        return f"{mark} {what}; candidate {value}"
    base = fmt_value(comparison.baseline.metrics.get(check.metric))
    return f"{mark} {what}; candidate {value}, baseline {base}"


def headline(comparison: Comparison) -> str:
    verdict = comparison.verdict
    if verdict is None:
        return "no policy: nothing gated"
    source = f" ({comparison.policy_file})" if comparison.policy_file else ""
    if verdict.passed:
        return f"{PASS} policy passed{source}: {len(verdict.checks)} of {len(verdict.checks)} rules"
    failed = len(verdict.failures)
    return f"{FAIL} policy failed{source}: {failed} of {len(verdict.checks)} rules failed"


def verdict_lines(comparison: Comparison) -> list[str]:
    """The headline, each rule with ✅/❌ (the failed ones first), then the metrics a side lacks."""
    lines = [headline(comparison)]
    if comparison.verdict is not None:
        ordered = comparison.verdict.failures + [c for c in comparison.verdict.checks if c.passed]
        lines += [_check_line(check, comparison) for check in ordered]
    for side in (comparison.candidate, comparison.baseline):
        lacking = comparison.missing(side)
        if lacking:
            lines.append(f"missing on the {side.category} ({side.run_id}): {', '.join(lacking)}")
    return lines


# -- renderings --------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    # A metric name with "|" would split the GitHub table's cell.
    return text.replace("|", "\\|")


def to_markdown(comparison: Comparison) -> str:
    """What a pull-request comment shows: the table (run ids link to the studio), the verdict."""
    head = header(comparison)
    table = rows(comparison)
    for row, side in zip(table, (comparison.candidate, comparison.baseline), strict=False):
        row[1] = f"[{side.run_id[:8]}]({side.url})"
    lines = [
        "| " + " | ".join(_md_cell(h) for h in head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table),
        "",
    ]
    first, *rest = verdict_lines(comparison)
    lines.append(f"**{first}**")
    if rest:
        lines.append("")
        lines += [f"- {_md_cell(line)}" for line in rest]
    return "\n".join(lines) + "\n"


def _side_json(comparison: Comparison, side: Side) -> dict[str, Any]:
    return {
        "ref": side.ref,
        "run_id": side.run_id,
        "experiment_id": side.experiment_id,
        "commit": side.commit,
        "metrics": {name: side.metrics.get(name) for name in comparison.metrics},
        "runtime_s": side.runtime_s,
        "url": side.url,
        "missing": comparison.missing(side),
    }


def to_json(comparison: Comparison) -> dict[str, Any]:
    """Stable field names for scripts; a missing value is null."""
    c, b = comparison.candidate, comparison.baseline
    delta: dict[str, Any] = {}
    for name, pair in [*((n, (c.metrics.get(n), b.metrics.get(n))) for n in comparison.metrics),
                       ("runtime_s", (c.runtime_s, b.runtime_s))]:  # fmt: skip
        found = _delta(*pair)
        delta[name] = None if found is None else {"absolute": found[0], "relative": found[1]}
    policy = None
    if comparison.verdict is not None:
        policy = {
            "file": comparison.policy_file,
            "passed": comparison.verdict.passed,
            "rules": [
                {"metric": r.metric, "rule": r.rule, "passed": r.passed, "expected": r.expected,
                 "reason": r.reason or None}
                for r in comparison.verdict.checks
            ],
        }  # fmt: skip
    return {
        "metrics": comparison.metrics,
        "candidate": _side_json(comparison, c),
        "baseline": _side_json(comparison, b),
        "delta": delta,
        "policy": policy,
        "passed": comparison.passed,
    }
