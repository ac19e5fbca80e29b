"""gateway policies: endpoint bindings, budget policies, guardrails and their places on
endpoints; scorers' online configurations (MLflow 3.17)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 12:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def _audit() -> list[sa.Column[int] | sa.Column[str]]:
    return [
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=True),
        sa.Column("last_updated_at", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_by", sa.String(length=256), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "scorer_online_configs",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("scorer_id", sa.String(length=64), sa.ForeignKey("scorers.id"), nullable=False),
        sa.Column("experiment_id", sa.Integer(), sa.ForeignKey("experiments.id"), nullable=False),
        sa.Column("sample_rate", sa.Float(), nullable=False),
        sa.Column("filter_string", sa.Text(), nullable=True),
        sa.UniqueConstraint("scorer_id", name="uq_scorer_online_configs_scorer_id"),
    )
    op.create_table(
        "gateway_endpoint_bindings",
        sa.Column(
            "endpoint_id", sa.String(length=64), sa.ForeignKey("gateway_endpoints.id"), primary_key=True
        ),
        sa.Column("resource_type", sa.String(length=50), primary_key=True),
        sa.Column("resource_id", sa.String(length=255), primary_key=True),
        sa.Column("display_name", sa.String(length=255), nullable=True),
        *_audit(),
    )
    op.create_table(
        "gateway_budget_policies",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("budget_unit", sa.String(length=32), nullable=False),
        sa.Column("budget_amount", sa.Float(), nullable=False),
        sa.Column("duration_unit", sa.String(length=32), nullable=False),
        sa.Column("duration_value", sa.Integer(), nullable=False),
        sa.Column("target_scope", sa.String(length=32), nullable=False),
        sa.Column("target_value", sa.String(length=256), nullable=True),
        sa.Column("budget_action", sa.String(length=32), nullable=False),
        *_audit(),
    )
    op.create_table(
        "gateway_guardrails",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("scorer_id", sa.String(length=64), nullable=False),
        sa.Column("scorer_version", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column(
            "action_endpoint_id", sa.String(length=64), sa.ForeignKey("gateway_endpoints.id"), nullable=True
        ),
        *_audit(),
        sa.ForeignKeyConstraint(
            ["scorer_id", "scorer_version"],
            ["scorer_versions.scorer_id", "scorer_versions.version"],
            name="fk_gateway_guardrails_scorer_version",
        ),
    )
    op.create_index("ix_gateway_guardrails_scorer", "gateway_guardrails", ["scorer_id", "scorer_version"])
    op.create_table(
        "gateway_endpoint_guardrails",
        sa.Column(
            "endpoint_id", sa.String(length=64), sa.ForeignKey("gateway_endpoints.id"), primary_key=True
        ),
        sa.Column(
            "guardrail_id", sa.String(length=64), sa.ForeignKey("gateway_guardrails.id"), primary_key=True
        ),
        sa.Column("execution_order", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=True),
    )
    op.create_index(
        "ix_gateway_endpoint_guardrails_guardrail", "gateway_endpoint_guardrails", ["guardrail_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_gateway_endpoint_guardrails_guardrail", table_name="gateway_endpoint_guardrails")
    op.drop_table("gateway_endpoint_guardrails")
    op.drop_index("ix_gateway_guardrails_scorer", table_name="gateway_guardrails")
    op.drop_table("gateway_guardrails")
    op.drop_table("gateway_budget_policies")
    op.drop_table("gateway_endpoint_bindings")
    op.drop_table("scorer_online_configs")
