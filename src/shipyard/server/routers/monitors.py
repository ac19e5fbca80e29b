"""/api/v1/monitors: monitor schedules (``schedule create -f monitor.yml``), run now, show."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from shipyard.api import monitors as api
from shipyard.domain.jobs import Job
from shipyard.domain.schedules import Schedule
from shipyard.server.deps import Ctx, Svc, json_response
from shipyard.services.monitoring.monitors import MonitorService

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/monitors", tags=["monitors"])


def _monitor(schedule: Schedule) -> api.Monitor:
    spec = dict(schedule.job.get("spec") or {})
    create = dict(dict(spec.get("monitor") or {}).get("create_monitor") or {})
    target = dict(create.get("monitoring_target") or {})
    return api.Monitor(
        name=schedule.name,
        enabled=schedule.enabled,
        trigger=schedule.trigger.to_json(),
        target=target.get("endpoint_deployment_id"),
        signals=sorted((create.get("monitoring_signals") or {}).keys()),
        created_by=schedule.created_by,
        created_at=schedule.created_at,
    )


def _signal(data: dict[str, Any], histograms: bool) -> api.MonitorSignal:
    return api.MonitorSignal(
        name=data["name"],
        type=data["type"],
        breached=bool(data.get("breached")),
        rows=[api.MonitorRow(**row) for row in data.get("rows") or []],
        notes=list(data.get("notes") or []),
        error=data.get("error"),
        drifted_share=data.get("drifted_share"),
        histograms=data.get("histograms") if histograms else None,
    )


def _run(job: Job, histograms: bool) -> api.MonitorRun:
    report = dict(job.report)
    return api.MonitorRun(
        job=job.name,
        run_id=job.run_id,
        status=str(job.status),
        created_at=job.created_at,
        generated_at=report.get("generated_at"),
        window=report.get("window"),
        reference=report.get("reference"),
        breached=list(report.get("breached") or []),
        signals=[_signal(s, histograms) for s in report.get("signals") or []],
        actions=list(report.get("actions") or []),
        message=job.failure.message if job.failure else None,
    )


@router.get("", response_model=api.MonitorPage, summary="List monitors (schedules of monitor jobs)")
def list_(ctx: Ctx, svc: Svc) -> object:
    found = svc.get("monitors", MonitorService).list(ctx)
    return json_response(api.MonitorPage(monitors=[_monitor(s) for s in found]))


@router.get(
    "/{name}",
    response_model=api.MonitorDetails,
    summary="A monitor with its newest runs: each signal's values, thresholds and breaches",
)
def show(
    name: str,
    ctx: Ctx,
    svc: Svc,
    runs: int = Query(20, ge=1, le=500, description="How many runs, newest first."),
    histograms: bool = Query(False, description="Include each column's histograms."),
) -> object:
    view = svc.get("monitors", MonitorService).show(ctx, name, runs=runs)
    return json_response(
        api.MonitorDetails(monitor=_monitor(view.schedule), runs=[_run(j, histograms) for j in view.runs])
    )


@router.post(
    "/{name}/run",
    response_model=api.MonitorStarted,
    status_code=201,
    summary="Run a monitor now, as the caller",
)
def run(name: str, ctx: Ctx, svc: Svc) -> object:
    job = svc.get("monitors", MonitorService).run(ctx, name)
    return json_response(api.MonitorStarted(job=job.name, run_id=job.run_id, status=str(job.status)), 201)
