"""traces: trace info, tags, metadata, spans, assessments and links to runs

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "traces",
        sa.Column("pk", sa.Integer(), primary_key=True),
        sa.Column("trace_id", sa.String(length=128), nullable=False),
        sa.Column("experiment_id", sa.Integer(), sa.ForeignKey("experiments.id"), nullable=False),
        sa.Column("client_request_id", sa.String(length=256), nullable=True),
        sa.Column("request_time", sa.BigInteger(), nullable=False),
        sa.Column("execution_duration", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("request_preview", sa.Text(), nullable=True),
        sa.Column("response_preview", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.UniqueConstraint("trace_id", name="uq_traces_trace_id"),
    )
    op.create_index("ix_traces_experiment_time", "traces", ["experiment_id", "request_time"])
    for name in ("trace_tags", "trace_metadata"):
        op.create_table(
            name,
            sa.Column("trace_pk", sa.Integer(), sa.ForeignKey("traces.pk"), primary_key=True),
            sa.Column("key", sa.String(length=250), primary_key=True),
            sa.Column("value", sa.Text(), nullable=False),
        )
    op.create_table(
        "trace_spans",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("trace_pk", sa.Integer(), sa.ForeignKey("traces.pk"), nullable=False),
        sa.Column("span_id", sa.String(length=64), nullable=False),
        sa.Column("parent_span_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("span_type", sa.String(length=256), nullable=True),
        sa.Column("status_code", sa.String(length=32), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("start_time_ns", sa.BigInteger(), nullable=False),
        sa.Column("end_time_ns", sa.BigInteger(), nullable=True),
        sa.Column("trace_state", sa.Text(), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=True),
        sa.Column("inputs", sa.Text(), nullable=True),
        sa.Column("outputs", sa.Text(), nullable=True),
        sa.Column("events", sa.Text(), nullable=True),
        sa.Column("payload_path", sa.String(length=1024), nullable=True),
        sa.Column("payload_size", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("trace_pk", "span_id", name="uq_trace_spans_trace_span"),
    )
    op.create_table(
        "trace_assessments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("assessment_id", sa.String(length=64), nullable=False),
        sa.Column("trace_pk", sa.Integer(), sa.ForeignKey("traces.pk"), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=256), nullable=True),
        sa.Column("span_id", sa.String(length=64), nullable=True),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("meta", sa.Text(), nullable=True),
        sa.Column("overrides", sa.String(length=64), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("assessment_id", name="uq_trace_assessments_assessment_id"),
    )
    op.create_index("ix_trace_assessments_trace", "trace_assessments", ["trace_pk"])
    op.create_table(
        "trace_run_links",
        sa.Column("trace_pk", sa.Integer(), sa.ForeignKey("traces.pk"), primary_key=True),
        sa.Column("run_id", sa.String(length=32), primary_key=True),
    )
    op.create_index("ix_trace_run_links_run", "trace_run_links", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_trace_run_links_run", table_name="trace_run_links")
    op.drop_table("trace_run_links")
    op.drop_index("ix_trace_assessments_trace", table_name="trace_assessments")
    op.drop_table("trace_assessments")
    op.drop_table("trace_spans")
    op.drop_table("trace_metadata")
    op.drop_table("trace_tags")
    op.drop_index("ix_traces_experiment_time", table_name="traces")
    op.drop_table("traces")
