"""/api/v1/schedules: job schedules (cron or recurrence), their firings, enable/disable."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from shipyard.api import schedules as api
from shipyard.domain.schedules import Firing, Schedule
from shipyard.server.deps import Ctx, Svc, json_response
from shipyard.server.schedule_schemas import ScheduleIn
from shipyard.services.schedules import ScheduleService

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/schedules", tags=["schedules"])


def _out(schedule: Schedule) -> api.Schedule:
    return api.Schedule(
        name=schedule.name,
        display_name=schedule.display_name,
        description=schedule.description,
        tags=schedule.tags,
        trigger=schedule.trigger.to_json(),
        catch_up=schedule.catch_up,
        enabled=schedule.enabled,
        job_type=schedule.job_type,
        job=dict(schedule.job.get("spec") or {}),
        created_at=schedule.created_at,
        created_by=schedule.created_by,
        updated_at=schedule.updated_at,
    )


def _firing(firing: Firing) -> api.Firing:
    return api.Firing(
        tick_at=firing.tick_at,
        status=firing.status,
        at=firing.at,
        job_name=firing.job_name,
        message=firing.message,
        node=firing.node,
        caught_up=firing.caught_up,
        last_tick_at=firing.last_tick_at,
        missed_count=firing.missed_count,
    )


@router.post("", response_model=api.Schedule, status_code=201, summary="Create a schedule")
def create(body: ScheduleIn, ctx: Ctx, svc: Svc) -> object:
    job = body.job.model_dump(mode="json")
    made = svc.get("schedules", ScheduleService).create(ctx, body.spec, job, body.source)
    return json_response(_out(made), 201)


@router.get("", response_model=api.SchedulePage, summary="List schedules by name")
def list_(ctx: Ctx, svc: Svc) -> object:
    found = svc.get("schedules", ScheduleService).list(ctx)
    return json_response(api.SchedulePage(schedules=[_out(s) for s in found]))


@router.get(
    "/{name}",
    response_model=api.ScheduleDetails,
    summary="A schedule with its next ticks, its newest firings and the ticks it missed",
)
def show(
    name: str, ctx: Ctx, svc: Svc, firings: int = Query(20, ge=1, le=1000, description="How many firings.")
) -> object:
    view = svc.get("schedules", ScheduleService).show(ctx, name, firings=firings)
    return json_response(
        api.ScheduleDetails(
            schedule=_out(view.schedule),
            next_ticks=view.next_ticks,
            firings=[_firing(f) for f in view.firings],
        )
    )


@router.post("/{name}/enable", response_model=api.Schedule, summary="Fire again, from now on")
def enable(name: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(_out(svc.get("schedules", ScheduleService).enable(ctx, name)))


@router.post("/{name}/disable", response_model=api.Schedule, summary="Stop firing (the schedule is kept)")
def disable(name: str, ctx: Ctx, svc: Svc) -> object:
    return json_response(_out(svc.get("schedules", ScheduleService).disable(ctx, name)))


@router.delete("/{name}", status_code=204, summary="Delete a schedule (the jobs it fired stay)")
def delete(name: str, ctx: Ctx, svc: Svc) -> Response:
    svc.get("schedules", ScheduleService).delete(ctx, name)
    return Response(status_code=204)
