"""Traces (MLflow 3 tracing): trace info, spans, assessments and their links to runs."""

from shipyard.resources import Resource

__all__ = ["RESOURCE"]

RESOURCE = Resource(
    name="traces",
    position=42,
    tables=("shipyard.stores.sql.schema_traces",),
)
