"""Request DTO of ``POST /api/v1/schedules`` (the answers are ``shipyard.api.schedules``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shipyard.server.job_schemas import JobIn
from shipyard.server.schemas import Dto

__all__ = ["ScheduleIn"]


class ScheduleIn(Dto):
    spec: dict[str, Any] = Field(
        description="The schedule file's mapping but its create_job (Azure ML CLI v2 schedule),"
        " after --set overrides."
    )
    job: JobIn = Field(
        description="The job it fires, as POST /api/v1/jobs takes it: its file's mapping, its"
        " uploaded code and inputs."
    )
    source: str = Field("schedule.yml", description="Where the spec came from, for messages.")
