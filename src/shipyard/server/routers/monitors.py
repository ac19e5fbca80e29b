"""/api/v1/monitors: monitor schedules (``schedule create -f monitor.yml``), run now, show."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from shipyard.server.deps import Ctx, Svc, json_response
from shipyard.services.monitoring.monitors import MonitorService, run_summary

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/monitors", tags=["monitors"])


def _monitor(schedule: Any) -> dict[str, Any]:
    spec = dict(schedule.job.get("spec") or {})
    monitor = dict(spec.get("monitor") or {})
    create = dict(monitor.get("create_monitor") or {})
    target = dict(create.get("monitoring_target") or {})
    return {
        "name": schedule.name,
        "enabled": schedule.enabled,
        "trigger": schedule.trigger.to_json(),
        "target": target.get("endpoint_deployment_id"),
        "signals": sorted((create.get("monitoring_signals") or {}).keys()),
        "created_by": schedule.created_by,
        "created_at": schedule.created_at,
    }


@router.get("", summary="List monitors (schedules of monitor jobs)")
def list_(ctx: Ctx, svc: Svc) -> object:
    found = svc.get("monitors", MonitorService).list(ctx)
    return json_response({"monitors": [_monitor(s) for s in found]})


@router.get(
    "/{name}", summary="A monitor with its newest runs: each signal's values, thresholds and breaches"
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
        {
            "monitor": _monitor(view.schedule),
            "runs": [run_summary(j, histograms=histograms) for j in view.runs],
        }
    )


@router.post("/{name}/run", status_code=201, summary="Run a monitor now (a job, as the caller)")
def run(name: str, ctx: Ctx, svc: Svc) -> object:
    job = svc.get("monitors", MonitorService).run(ctx, name)
    return json_response({"job": job.name, "run_id": job.run_id, "status": str(job.status)}, 201)
