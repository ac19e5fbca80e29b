"""Tables of traces (MLflow 3 tracing): one row per trace, its tags and metadata, its spans
stored columnar like metric points, its assessments and its links to runs.

Times follow the span's own clock: a trace's request time and duration in milliseconds (as
MLflow's TraceInfo gives them), a span's start and end in nanoseconds (as OpenTelemetry's).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from shipyard.stores.sql.schema import metadata

__all__ = ["trace_assessments", "trace_metadata", "trace_run_links", "trace_spans", "trace_tags", "traces"]

traces = Table(
    "traces",
    metadata,
    Column("pk", Integer, primary_key=True),
    Column("trace_id", String(128), nullable=False, unique=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False),
    Column("client_request_id", String(256), nullable=True),
    Column("request_time", BigInteger, nullable=False),
    Column("execution_duration", BigInteger, nullable=True),
    Column("state", String(32), nullable=False),
    Column("request_preview", Text, nullable=True),
    Column("response_preview", Text, nullable=True),
    Column("created_by", String(256), nullable=False),
    Index("ix_traces_experiment_time", "experiment_id", "request_time"),
)

trace_tags = Table(
    "trace_tags",
    metadata,
    Column("trace_pk", Integer, ForeignKey("traces.pk"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

# Metadata is immutable once the trace is written (MLflow's rule); tags are not.
trace_metadata = Table(
    "trace_metadata",
    metadata,
    Column("trace_pk", Integer, ForeignKey("traces.pk"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

# One row per span. The JSON columns hold what OpenTelemetry calls attributes, minus the
# inputs and outputs MLflow keeps there (columns of their own so a reader can skip them).
# A span whose payload passes the inline limit has them in the artifact store instead,
# under the trace's folder, named by ``payload_path``; the columns are then NULL.
trace_spans = Table(
    "trace_spans",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("trace_pk", Integer, ForeignKey("traces.pk"), nullable=False),
    Column("span_id", String(64), nullable=False),
    Column("parent_span_id", String(64), nullable=True),
    Column("name", Text, nullable=False),
    Column("span_type", String(256), nullable=True),
    Column("status_code", String(32), nullable=False),
    Column("status_message", Text, nullable=True),
    Column("start_time_ns", BigInteger, nullable=False),
    Column("end_time_ns", BigInteger, nullable=True),
    Column("trace_state", Text, nullable=True),
    Column("attributes", Text, nullable=True),
    Column("inputs", Text, nullable=True),
    Column("outputs", Text, nullable=True),
    Column("events", Text, nullable=True),
    Column("payload_path", String(1024), nullable=True),
    Column("payload_size", BigInteger, nullable=False),
    UniqueConstraint("trace_pk", "span_id", name="uq_trace_spans_trace_span"),
)

# Feedback and expectations. value, error and metadata are JSON; ``overrides`` names the
# assessment this one replaces, which is then no longer ``valid``.
trace_assessments = Table(
    "trace_assessments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("assessment_id", String(64), nullable=False, unique=True),
    Column("trace_pk", Integer, ForeignKey("traces.pk"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("kind", String(16), nullable=False),  # "feedback" or "expectation"
    Column("value", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("rationale", Text, nullable=True),
    Column("source_type", String(32), nullable=False),
    Column("source_id", String(256), nullable=True),
    Column("span_id", String(64), nullable=True),
    Column("run_id", String(32), nullable=True),
    Column("meta", Text, nullable=True),
    Column("overrides", String(64), nullable=True),
    Column("valid", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_trace_assessments_trace", "trace_pk"),
)

# Traces linked to a run after the fact (``link-to-run``); a trace made inside a run says so
# in its ``mlflow.sourceRun`` metadata instead. Search on that key reads both.
trace_run_links = Table(
    "trace_run_links",
    metadata,
    Column("trace_pk", Integer, ForeignKey("traces.pk"), primary_key=True),
    Column("run_id", String(32), primary_key=True),
    Index("ix_trace_run_links_run", "run_id"),
)
