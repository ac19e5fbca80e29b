"""Issues (MLflow 3.17): a problem found in an experiment's traces, with its status."""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.errors import InvalidArgument

__all__ = ["ISSUE_SEVERITIES", "ISSUE_STATUSES", "Issue", "check_severity", "check_status"]

# MLflow's IssueStatus and IssueSeverity values, as the client sends them (str(enum)).
ISSUE_STATUSES = ("pending", "rejected", "resolved")
ISSUE_SEVERITIES = ("not_an_issue", "low", "medium", "high")


@dataclass(frozen=True, slots=True)
class Issue:
    id: str
    experiment_id: str
    name: str
    description: str
    status: str
    severity: str | None
    root_causes: tuple[str, ...]
    categories: tuple[str, ...]
    source_run_id: str | None
    created_by: str | None
    created_time: int
    last_updated_time: int


def check_status(value: str) -> str:
    if value.lower() not in ISSUE_STATUSES:
        raise InvalidArgument(f"issue status must be one of {', '.join(ISSUE_STATUSES)}; got {value!r}")
    return value.lower()


def check_severity(value: str) -> str:
    if value.lower() not in ISSUE_SEVERITIES:
        raise InvalidArgument(f"issue severity must be one of {', '.join(ISSUE_SEVERITIES)}; got {value!r}")
    return value.lower()
