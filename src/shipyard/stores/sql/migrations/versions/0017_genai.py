"""genai: evaluation datasets and records, scorers with versions, issues, AI gateway configuration

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eval_datasets",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("digest", sa.String(length=16), nullable=False),
        sa.Column("schema", sa.Text(), nullable=True),
        sa.Column("profile", sa.Text(), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=True),
        sa.Column("last_updated_by", sa.String(length=256), nullable=True),
    )
    op.create_index("ix_eval_datasets_workspace_name", "eval_datasets", ["workspace_id", "name"])
    op.create_table(
        "eval_dataset_tags",
        sa.Column("dataset_id", sa.String(length=64), sa.ForeignKey("eval_datasets.id"), primary_key=True),
        sa.Column("key", sa.String(length=250), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "eval_dataset_experiments",
        sa.Column("dataset_id", sa.String(length=64), sa.ForeignKey("eval_datasets.id"), primary_key=True),
        sa.Column("experiment_id", sa.Integer(), sa.ForeignKey("experiments.id"), primary_key=True),
    )
    op.create_index("ix_eval_dataset_experiments_experiment", "eval_dataset_experiments", ["experiment_id"])
    op.create_table(
        "eval_dataset_records",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("dataset_id", sa.String(length=64), sa.ForeignKey("eval_datasets.id"), nullable=False),
        sa.Column("input_hash", sa.String(length=64), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("outputs", sa.Text(), nullable=True),
        sa.Column("expectations", sa.Text(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("source_id", sa.String(length=256), nullable=True),
        sa.Column("source_type", sa.String(length=16), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=True),
        sa.Column("last_updated_by", sa.String(length=256), nullable=True),
        sa.UniqueConstraint("dataset_id", "input_hash", name="uq_eval_dataset_records_inputs"),
    )
    op.create_index(
        "ix_eval_dataset_records_page", "eval_dataset_records", ["dataset_id", "created_time", "id"]
    )
    op.create_table(
        "scorers",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("experiment_id", sa.Integer(), sa.ForeignKey("experiments.id"), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.UniqueConstraint("experiment_id", "name", name="uq_scorers_experiment_name"),
    )
    op.create_table(
        "scorer_versions",
        sa.Column("scorer_id", sa.String(length=64), sa.ForeignKey("scorers.id"), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("serialized_scorer", sa.Text(), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
    )
    op.create_table(
        "genai_issues",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("experiment_id", sa.Integer(), sa.ForeignKey("experiments.id"), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=True),
        sa.Column("root_causes", sa.Text(), nullable=False),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("source_run_id", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=256), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_time", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_genai_issues_experiment", "genai_issues", ["experiment_id", "created_time"])
    op.create_table(
        "gateway_secrets",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=True),
        sa.Column("masked_values", sa.Text(), nullable=False),
        sa.Column("auth_config", sa.Text(), nullable=False),
        sa.Column("stored_as", sa.String(length=160), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=True),
        sa.Column("last_updated_at", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_by", sa.String(length=256), nullable=True),
        sa.UniqueConstraint("workspace_id", "name", name="uq_gateway_secrets_workspace_name"),
    )
    op.create_table(
        "gateway_model_definitions",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("secret_id", sa.String(length=64), sa.ForeignKey("gateway_secrets.id"), nullable=True),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("model_name", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=True),
        sa.Column("last_updated_at", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_by", sa.String(length=256), nullable=True),
        sa.UniqueConstraint("workspace_id", "name", name="uq_gateway_model_definitions_workspace_name"),
    )
    op.create_table(
        "gateway_endpoints",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("routing_strategy", sa.String(length=64), nullable=True),
        sa.Column("fallback_config", sa.Text(), nullable=True),
        sa.Column("experiment_id", sa.String(length=32), nullable=True),
        sa.Column("usage_tracking", sa.Integer(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=True),
        sa.Column("last_updated_at", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_by", sa.String(length=256), nullable=True),
        sa.UniqueConstraint("workspace_id", "name", name="uq_gateway_endpoints_workspace_name"),
    )
    op.create_table(
        "gateway_endpoint_models",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("endpoint_id", sa.String(length=64), sa.ForeignKey("gateway_endpoints.id"), nullable=False),
        sa.Column(
            "model_definition_id",
            sa.String(length=64),
            sa.ForeignKey("gateway_model_definitions.id"),
            nullable=False,
        ),
        sa.Column("linkage_type", sa.String(length=16), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("fallback_order", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=True),
        sa.UniqueConstraint(
            "endpoint_id", "model_definition_id", "linkage_type", name="uq_gateway_endpoint_models_link"
        ),
    )


def downgrade() -> None:
    op.drop_table("gateway_endpoint_models")
    op.drop_table("gateway_endpoints")
    op.drop_table("gateway_model_definitions")
    op.drop_table("gateway_secrets")
    op.drop_index("ix_genai_issues_experiment", table_name="genai_issues")
    op.drop_table("genai_issues")
    op.drop_table("scorer_versions")
    op.drop_table("scorers")
    op.drop_index("ix_eval_dataset_records_page", table_name="eval_dataset_records")
    op.drop_table("eval_dataset_records")
    op.drop_index("ix_eval_dataset_experiments_experiment", table_name="eval_dataset_experiments")
    op.drop_table("eval_dataset_experiments")
    op.drop_table("eval_dataset_tags")
    op.drop_index("ix_eval_datasets_workspace_name", table_name="eval_datasets")
    op.drop_table("eval_datasets")
