"""One way to submit a job-create body (as ``POST /api/v1/jobs`` takes it): a command job by
:class:`JobService`, a sweep or pipeline by its kind. ``job create`` and a schedule's firings
both go through here, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipyard.domain.context import RequestContext
from shipyard.domain.jobs import Job
from shipyard.services.job_kinds import kind_of
from shipyard.services.job_kinds.base import JobRequest
from shipyard.services.job_specs import InlineEnvironmentValues, submission_from_spec, validate_job_spec
from shipyard.services.jobs import JobService, JobSubmission

__all__ = ["check_job", "job_request", "job_type", "submit_job", "with_name_and_tags"]


def _inline(env: Any) -> InlineEnvironmentValues | None:
    if not env:
        return None
    return InlineEnvironmentValues(env.get("python"), tuple(env.get("requirements") or ()), env.get("image"))


def job_request(body: Mapping[str, Any], *, uploads_pending: bool = False) -> JobRequest:
    """The request of a job-create body (plain JSON, as the API takes it)."""
    steps = {
        str(name): {
            "code_snapshot": part.get("code_snapshot"),
            "input_snapshots": dict(part.get("input_snapshots") or {}),
            "environment": _inline(part.get("environment")),
        }
        for name, part in dict(body.get("steps") or {}).items()
    }
    return JobRequest(
        spec=dict(body.get("spec") or {}),
        source=str(body.get("source") or "job.yml"),
        code_snapshot=body.get("code_snapshot"),
        input_snapshots=dict(body.get("input_snapshots") or {}),
        environment=_inline(body.get("environment")),
        git=dict(body.get("git") or {}),
        steps=steps,
        uploads_pending=uploads_pending,
    )


def job_type(request: JobRequest) -> str:
    return str(request.spec.get("type") or "command")


def with_name_and_tags(body: Mapping[str, Any], name: str, tags: Mapping[str, str]) -> dict[str, Any]:
    """``body`` whose job is named ``name`` and carries ``tags`` besides its own."""
    spec = dict(body.get("spec") or {})
    spec["name"] = name
    spec["tags"] = {**dict(spec.get("tags") or {}), **tags}
    return {**body, "spec": spec}


def _command(request: JobRequest, *, uploads_pending: bool = False) -> JobSubmission:
    return submission_from_spec(
        validate_job_spec(request.spec, request.source),
        source=request.source,
        code_snapshot=request.code_snapshot,
        input_snapshots=request.input_snapshots,
        environment=request.environment,
        git=request.git,
        raw=request.spec,
        uploads_pending=uploads_pending,
    )


def check_job(ctx: RequestContext, request: JobRequest, jobs: JobService) -> None:
    """Everything submitting the job would check, as ``ctx``, without writing."""
    kind = kind_of(job_type(request))
    if kind is None:
        jobs.check(ctx, _command(request, uploads_pending=request.uploads_pending))
    else:
        kind.check(ctx, request, jobs)


def submit_job(ctx: RequestContext, request: JobRequest, jobs: JobService) -> Job:
    kind = kind_of(job_type(request))
    if kind is None:
        return jobs.create(ctx, _command(request))
    return kind.submit(ctx, request, jobs)
