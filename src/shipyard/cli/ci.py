"""shipyard ci …: the evaluation gate and the pull-request report of a CI workflow.

``ci compare``'s exit status is what a CI step branches on, so its meanings never overlap:
0 when the policy passed (or there is none), 1 when the policy failed — and only then —,
2 when the runs could not be compared at all (an unknown run, job or alias, a bad policy
file, a server that cannot be reached). ``ci comment`` follows the other commands: 1 when
GitHub refused or could not be reached, 2 for a bad command line (no GITHUB_TOKEN, no body
file).
"""

from __future__ import annotations

import enum
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from shipyard.cli._output import TokenOption, UrlOption, WorkspaceOption, describe_uncaught, print_error
from shipyard.errors import InvalidArgument, NotFound, ShipyardError

if TYPE_CHECKING:
    from shipyard.cli._ci_report import Comparison
    from shipyard.client.client import Client
    from shipyard.domain.tracking import Run

__all__ = ["app"]

app = typer.Typer(
    help="CI for models: compare a candidate run with a baseline under a policy; report on a pull request.",
    no_args_is_help=True,
)

POLICY_FAILED = 1
CANNOT_COMPARE = 2
_MODEL_REF = re.compile(r"^model:(?P<name>[^@:]+)(?:@(?P<alias>[^@:]+)|:(?P<version>\d+))$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class ReportFormat(enum.StrEnum):
    TABLE = "table"
    MARKDOWN = "markdown"
    JSON = "json"


def _cannot(message: str, code: str, hint: str | None = None) -> NoReturn:
    print_error(message, code, hint)
    raise typer.Exit(CANNOT_COMPARE)


def _cannot_on(exc: ShipyardError) -> NoReturn:
    described = describe_uncaught(exc)
    assert described is not None  # a ShipyardError is always described
    _cannot(*described)


@app.command()
def compare(
    candidate: Annotated[
        str,
        typer.Option(
            "--candidate",
            metavar="JOB_OR_RUN",
            help="The run to judge: a run id, or a job's name (its run).",
        ),
    ],
    baseline: Annotated[
        str,
        typer.Option(
            "--baseline",
            metavar="RUN|model:NAME@ALIAS|model:NAME:VERSION",
            help="What to compare with: a run id, or a registered model version by alias"
            " (model:clf@champion) or number (model:clf:3), meaning the run it was registered from.",
        ),
    ],
    metrics: Annotated[
        str | None,
        typer.Option(
            "--metrics",
            metavar="A,B,C",
            help="Comma-separated metrics to show, in this order [default: the policy's metrics,"
            " else every metric both runs have, sorted].",
        ),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            metavar="FILE",
            help="policy.yml: per metric greater_is_better, threshold, min_absolute_change,"
            " min_relative_change (MLflow's MetricThreshold). Exit status 1 when a rule fails.",
        ),
    ] = None,
    format_: Annotated[
        ReportFormat,
        typer.Option(
            "--format",
            case_sensitive=False,
            help="'table' for a terminal or a CI log, 'markdown' for a pull-request comment"
            " (`shipyard ci comment`), 'json' for scripts (stable field names).",
        ),
    ] = ReportFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Compare a candidate run with a baseline: each run's git commit (SHA), the chosen metrics'
    latest values and the runtime, the deltas, a link to each run in the studio — and, with
    --policy, a verdict listing every rule that failed. Exit status: 0 when the policy passed
    (or none was given), 1 when it failed, 2 when the runs cannot be compared (an unknown run,
    job or alias, a bad policy file, no server)."""
    from shipyard.cli._ci_report import compare as build
    from shipyard.cli._ci_report import side_from_run
    from shipyard.specs.ci_policy import load_policy

    wanted = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    try:
        rules = None if policy is None else load_policy(policy)
    except ShipyardError as exc:
        _cannot(exc.message, exc.code, "see docs/ci.md for the policy file's fields")
    from shipyard.client.client import Client

    try:
        with Client(url, workspace=workspace, token=token) as client:
            client.http.retries = 1  # a CI log should say at once that nothing is listening
            new = _candidate_run(client, candidate)
            old = _baseline_run(client, baseline)
            sides = (side_from_run("candidate", candidate, new, client.url),
                     side_from_run("baseline", baseline, old, client.url))  # fmt: skip
    except ShipyardError as exc:
        _cannot_on(exc)
    report = build(*sides, wanted, rules, None if policy is None else str(policy))
    _print(report, format_)
    if not report.passed:
        raise typer.Exit(POLICY_FAILED)


def _candidate_run(client: Client, ref: str) -> Run:
    """A run by id, else a job by name (its run): job names and run ids never look alike."""
    try:
        return client.get_run(ref)
    except (NotFound, InvalidArgument):
        pass
    try:
        job = client.jobs.get(ref)
    except (NotFound, InvalidArgument):
        raise NotFound(
            f"--candidate {ref}: no run with this id and no job with this name"
            " (`shipyard run list -e EXPERIMENT`, `shipyard job list`)"
        ) from None
    return client.get_run(job.run_id)


def _baseline_run(client: Client, ref: str) -> Run:
    if not ref.startswith("model:"):
        try:
            return client.get_run(ref)
        except (NotFound, InvalidArgument) as exc:
            raise NotFound(f"--baseline {ref}: {exc.message}") from None
    match = _MODEL_REF.match(ref)
    if match is None:
        raise InvalidArgument(f"--baseline {ref}: write model:NAME@ALIAS or model:NAME:VERSION")
    name = match["name"]
    which = match["alias"] or match["version"]
    try:
        version = client.get_model_version(name, which)
    except NotFound as exc:
        raise NotFound(f"--baseline {ref}: {exc.message}") from None
    if not version.run_id:
        raise InvalidArgument(
            f"--baseline {ref}: version {version.version} of {name} was not registered from a run,"
            " so it has no metrics to compare"
        )
    return client.get_run(version.run_id)


def _print(report: Comparison, format_: ReportFormat) -> None:
    from shipyard.cli import _ci_report
    from shipyard.cli._output import cell, new_table, print_json, print_tables

    if format_ is ReportFormat.JSON:
        print_json(_ci_report.to_json(report))
        return
    if format_ is ReportFormat.MARKDOWN:
        typer.echo(_ci_report.to_markdown(report), nl=False)
        return
    table = new_table(*_ci_report.header(report), priority=("Category", "Run ID"))
    for row in _ci_report.rows(report):
        table.add_row(*(cell(text, "bold" if i == 0 else "") for i, text in enumerate(row)))
    print_tables(table)
    for side in (report.candidate, report.baseline):
        typer.echo(f"{side.category}: {side.url}")
    for line in _ci_report.verdict_lines(report):
        typer.echo(line)


# -- the pull-request comment -------------------------------------------------------------


def _check_repo(value: str) -> str:
    if not _REPO.match(value):
        raise typer.BadParameter(f"{value!r} is not OWNER/NAME, e.g. acme/fraud-model")
    return value


@app.command()
def comment(
    repo: Annotated[
        str,
        typer.Option(
            "--repo",
            metavar="OWNER/NAME",
            callback=_check_repo,
            help="The GitHub repository, e.g. acme/fraud.",
        ),
    ],
    pr: Annotated[int, typer.Option("--pr", metavar="N", min=1, help="The pull request's number.")],
    body_file: Annotated[
        Path,
        typer.Option(
            "--body-file",
            metavar="FILE",
            help="The comment in Markdown, e.g. the output of `shipyard ci compare --format markdown`.",
        ),
    ],
    api_url: Annotated[
        str,
        typer.Option(
            "--api-url",
            metavar="URL",
            envvar="GITHUB_API_URL",
            help="GitHub's REST API; GitHub Enterprise's is https://HOST/api/v3 [env GITHUB_API_URL,"
            " which GitHub Actions sets].",
        ),
    ] = "https://api.github.com",
) -> None:
    """Post the report on a pull request, or update the one posted before: the comment starts
    with the hidden marker <!-- shipyard-ci -->, by which re-runs find and edit it instead of
    adding another. The token is GITHUB_TOKEN from the environment (it needs write access to
    pull requests: `permissions: pull-requests: write` in a workflow)."""
    from shipyard.cli._github import upsert_comment

    token = os.environ.get("GITHUB_TOKEN", "").strip()
    if not token:
        print_error(
            "GITHUB_TOKEN is not set: ci comment posts with it",
            "INVALID_ARGUMENT",
            "in a workflow add `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` to the step",
        )
        raise typer.Exit(2)
    try:
        body = body_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print_error(f"--body-file {body_file}: {reason}", "INVALID_ARGUMENT")
        raise typer.Exit(2) from None
    try:
        posted = upsert_comment(api_url, repo, pr, body, token)
    except ShipyardError as exc:
        print_error(exc.message, exc.code)
        raise typer.Exit(1) from None
    typer.echo(f"{posted.action} comment {posted.id} on {repo}#{pr}: {posted.url}")
