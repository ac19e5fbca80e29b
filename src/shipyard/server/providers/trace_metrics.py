"""Trace metrics: the service behind MLflow's ``traces/metrics``."""

from __future__ import annotations

from shipyard.server.wiring import Wiring
from shipyard.services.trace_metrics import TraceMetricsService

__all__ = ["trace_metrics"]


def trace_metrics(wiring: Wiring) -> TraceMetricsService:
    return TraceMetricsService(wiring.database)
