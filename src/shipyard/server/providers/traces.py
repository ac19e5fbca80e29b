"""Traces: the trace service and the assessments made of traces."""

from __future__ import annotations

from shipyard.server.wiring import Wiring
from shipyard.services.trace_assessments import AssessmentService
from shipyard.services.traces import TraceService

__all__ = ["trace_assessments", "traces"]


def traces(wiring: Wiring) -> TraceService:
    return TraceService(wiring.database, wiring.store)


def trace_assessments(wiring: Wiring) -> AssessmentService:
    return AssessmentService(wiring.database)
