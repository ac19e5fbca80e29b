"""Assessments of traces: feedback (a judge's or a person's verdict) and expectations
(the ground truth), as ``mlflow.log_feedback`` / ``mlflow.log_expectation`` write them.

An assessment may override an earlier one of the same trace: the earlier stays, marked not
``valid``, and becomes valid again if the overriding one is deleted (MLflow's rules).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from shipyard.domain.context import RequestContext
from shipyard.domain.traces import Assessment, check_assessment
from shipyard.errors import InvalidArgument, NotFound
from shipyard.services._clock import now_ms
from shipyard.services.ports import Database, UnitOfWork
from shipyard.services.trace_ports import TRACES
from shipyard.services.traces import TraceService

__all__ = ["AssessmentService", "AssessmentUpdate"]


def _not_found(trace_id: str, assessment_id: str) -> NotFound:
    return NotFound(
        f"Assessment with ID '{assessment_id[:64]}' not found for trace '{trace_id[:128]}'",
        assessment_id=assessment_id[:64],
    )


class AssessmentUpdate:
    """The fields an update sets (MLflow's ``update_mask``); None: left as it is."""

    def __init__(
        self,
        *,
        name: str | None = None,
        kind: str | None = None,
        value: dict[str, Any] | None = None,
        rationale: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.value = value
        self.rationale = rationale
        self.metadata = metadata


class AssessmentService:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _get(
        uow: UnitOfWork, ctx: RequestContext, trace_id: str, assessment_id: str
    ) -> tuple[int, Assessment]:
        pk = TraceService.ref(uow, ctx, trace_id).pk
        found = uow[TRACES].assessment(pk, assessment_id) if len(assessment_id) <= 64 else None
        if found is None:
            raise _not_found(trace_id, assessment_id)
        return pk, found

    def create(self, ctx: RequestContext, assessment: Assessment) -> Assessment:
        now = now_ms()
        made = check_assessment(
            replace(
                assessment,
                assessment_id=f"a-{uuid.uuid4().hex}",
                created_at=assessment.created_at or now,
                updated_at=assessment.updated_at or now,
                valid=True,
            )
        )
        with self.db.write() as uow:
            pk = TraceService.ref(uow, ctx, made.trace_id).pk
            repo = uow[TRACES]
            if made.overrides:
                if repo.assessment(pk, made.overrides) is None:
                    raise NotFound(
                        f"Assessment with ID '{made.overrides[:64]}' not found for trace '{made.trace_id}'"
                        " (the assessment to override)"
                    )
                repo.set_valid(made.overrides, False)
            repo.add_assessment(pk, made)
        return made

    def get(self, ctx: RequestContext, trace_id: str, assessment_id: str) -> Assessment:
        with self.db.read() as uow:
            return self._get(uow, ctx, trace_id, assessment_id)[1]

    def update(
        self, ctx: RequestContext, trace_id: str, assessment_id: str, change: AssessmentUpdate
    ) -> Assessment:
        with self.db.write() as uow:
            _, found = self._get(uow, ctx, trace_id, assessment_id)
            if change.kind is not None and change.kind != found.kind:
                raise InvalidArgument(
                    f"Cannot update assessment type: assessment {assessment_id} is {found.kind},"
                    f" not {change.kind}"
                )
            updated = check_assessment(
                replace(
                    found,
                    name=found.name if change.name is None else change.name,
                    value=found.value if change.value is None else change.value,
                    rationale=found.rationale if change.rationale is None else change.rationale,
                    metadata=found.metadata
                    if change.metadata is None
                    else {**found.metadata, **change.metadata},
                    updated_at=now_ms(),
                )
            )
            uow[TRACES].replace_assessment(updated)
        return updated

    def delete(self, ctx: RequestContext, trace_id: str, assessment_id: str) -> None:
        with self.db.write() as uow:
            _, found = self._get(uow, ctx, trace_id, assessment_id)
            repo = uow[TRACES]
            repo.delete_assessment(assessment_id)
            if found.overrides:
                repo.set_valid(found.overrides, True)
