"""run model inputs: the logged models a run read (MLflow 3's ``log-inputs`` ``models``)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_model_inputs",
        sa.Column("run_pk", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["run_pk"], ["runs.pk"], name=op.f("fk_run_model_inputs_run_pk_runs")),
        sa.PrimaryKeyConstraint("run_pk", "model_id", name=op.f("pk_run_model_inputs")),
    )


def downgrade() -> None:
    op.drop_table("run_model_inputs")
