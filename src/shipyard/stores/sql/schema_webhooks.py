"""Tables of the model registry's webhooks (MLflow 3's ``/api/2.0/mlflow/webhooks``).

Ids are MLflow's (a UUID string). The secret is stored encrypted by the server's secret key,
as other secrets are; its events are rows of their own, so deliveries find the webhooks that
follow an event with one indexed read.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from shipyard.stores.sql.schema import metadata

__all__ = ["webhook_events", "webhooks"]

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("url", String(2048), nullable=False),
    Column("secret", Text, nullable=True),  # ciphertext; NULL: deliveries go unsigned
    Column("status", String(16), nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("creation_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    Index("ix_webhooks_workspace_created", "workspace_id", "creation_timestamp"),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("webhook_id", String(64), ForeignKey("webhooks.id"), primary_key=True),
    Column("entity", String(32), primary_key=True),
    Column("action", String(16), primary_key=True),
    Index("ix_webhook_events_event", "entity", "action"),
)
