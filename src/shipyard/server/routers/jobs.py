"""/api/v1/jobs: submit a job file, read its status, follow its log, cancel it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from shipyard.domain.context import RequestContext
from shipyard.domain.jobs import Job, JobStatus
from shipyard.domain.redact import hide_passwords, mask_variables
from shipyard.errors import InvalidArgument
from shipyard.server.contract import TEXT_ANSWER
from shipyard.server.deps import Ctx, Services, Svc, json_response
from shipyard.server.job_schemas import (
    JobCheckOut,
    JobEventOut,
    JobFailureOut,
    JobIn,
    JobOut,
    JobPage,
)
from shipyard.services.job_kinds import kind_of
from shipyard.services.job_requests import check_job, job_request, submit_job

__all__ = ["job_out", "router"]

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])

_FOLLOW_POLL_S = 0.1


def job_out(job: Job, *, with_spec: bool = False, ctx: RequestContext | None = None) -> JobOut:
    """``ctx``: who reads it; without jobs:create there, variable values are masked."""
    spec = hide_passwords(job.spec) if with_spec else {}
    if spec and (ctx is None or not ctx.may("jobs:create")):
        spec = mask_variables(spec)
    return JobOut(
        name=job.name,
        display_name=job.display_name,
        status=str(job.status),
        experiment_id=job.experiment_id,
        run_id=job.run_id,
        compute=job.compute,
        command=hide_passwords(job.command),
        code_digest=job.code_digest,
        environment_hash=job.environment_hash,
        timeout_s=job.timeout_s,
        created_at=job.created_at,
        created_by=job.created_by,
        updated_at=job.updated_at,
        failure=None if job.failure is None else JobFailureOut.model_validate(job.failure.to_json()),
        canceled_by=job.canceled_by,
        events=[JobEventOut(status=str(e.status), at=e.at, message=e.message) for e in job.events],
        spec=spec,
        type=job.type,
        parent=job.parent,
        step=job.step,
        report=_report(job),
    )


def _report(job: Job) -> dict[str, Any]:
    kind = None if job.leaf else kind_of(job.type)
    return job.report if kind is None else kind.describe(job)


@router.post("", response_model=JobOut, status_code=201, summary="Submit a job (command, sweep, pipeline)")
def create(body: JobIn, ctx: Ctx, svc: Svc) -> object:
    job = submit_job(ctx, job_request(body.model_dump()), svc.jobs)
    return json_response(job_out(job, with_spec=True, ctx=ctx), 201)


@router.post(
    "/check",
    response_model=JobCheckOut,
    summary="Check a job file before its uploads: every missing resource at once",
    description="Everything submitting the job would check but its code and local inputs (not"
    " uploaded yet): the compute target, the environment, the data assets, models, runs and URLs"
    " it names."
    " Every missing one is reported at once in `details.problems` ({field, code, message}).",
)
def check(body: JobIn, ctx: Ctx, svc: Svc) -> object:
    check_job(ctx, job_request(body.model_dump(), uploads_pending=True), svc.jobs)
    return json_response(JobCheckOut(ok=True))


@router.get("", response_model=JobPage, summary="List jobs, newest first")
def list_(
    ctx: Ctx,
    svc: Svc,
    status: Annotated[
        list[str] | None, Query(description="Only jobs in these statuses (repeatable).")
    ] = None,
    max_results: int = Query(100, ge=1, le=1000),
    page_token: str | None = Query(None),
    parent: str | None = Query(
        None, description="The children of this composite job (default: top-level jobs)."
    ),
) -> object:
    statuses = None
    if status:
        try:
            statuses = {JobStatus(s) for s in status}
        except ValueError:
            known = ", ".join(s.value for s in JobStatus)
            raise InvalidArgument(f"unknown job status in {status}; use one of {known}") from None
    jobs, token = svc.jobs.list(ctx, statuses, max_results, page_token, parent=parent)
    return json_response(JobPage(jobs=[job_out(j) for j in jobs], next_page_token=token))


@router.get("/{name}", response_model=JobOut, summary="Get a job with its status history")
def get(name: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(job_out(svc.jobs.get(ctx, name), with_spec=True, ctx=ctx))


@router.post("/{name}/cancel", response_model=JobOut, summary="Cancel a job")
def cancel(name: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(job_out(svc.jobs.cancel(ctx, name), with_spec=True, ctx=ctx))


@router.get(
    "/{name}/logs",
    summary="The job's log: preparation lines, then the process's stdout and stderr",
    response_class=StreamingResponse,
    responses=TEXT_ANSWER,
)
async def logs(
    name: str,
    ctx: Ctx,
    svc: Svc,
    offset: int = Query(0, ge=0, description="Byte offset to start from."),
    follow: bool = Query(False, description="Keep the response open until the job ends."),
) -> StreamingResponse:
    data, job = await to_thread.run_sync(svc.jobs.read_log, ctx, name, offset)
    return StreamingResponse(
        _stream(svc, ctx, name, offset, data, job, follow),
        media_type="text/plain; charset=utf-8",
        headers={"Shipyard-Job-Status": str(job.status), "Cache-Control": "no-store"},
    )


async def _stream(
    svc: Services, ctx: RequestContext, name: str, offset: int, first: bytes, job: Job, follow: bool
) -> AsyncIterator[bytes]:
    """Yield what is there; when following, poll until the job has ended and all is read."""
    data = first
    while True:
        if data:
            offset += len(data)
            yield data
        if not follow:
            return
        if job.done and not data:
            return
        if not data:
            await asyncio.sleep(_FOLLOW_POLL_S)
        data, job = await to_thread.run_sync(svc.jobs.read_log, ctx, name, offset)
