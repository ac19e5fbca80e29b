"""Tables of schedules and of their firings (one row per tick handled, or per missed range)."""

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

__all__ = ["schedule_firings", "schedules"]

schedules = Table(
    "schedules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("display_name", String(256), nullable=False),
    Column("description", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("trigger", Text, nullable=False),
    Column("catch_up", Boolean, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("job", Text, nullable=False),
    Column("job_type", String(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # The newest tick handled: the firing loop's compare-and-set (see stores/sql/schedules.py).
    Column("cursor", BigInteger, nullable=False),
    UniqueConstraint("workspace_id", "name", name="uq_schedules_workspace_name"),
)

schedule_firings = Table(
    "schedule_firings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("schedule_id", Integer, ForeignKey("schedules.id"), nullable=False),
    Column("tick_at", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("job_name", String(128), nullable=True),
    Column("message", Text, nullable=False),
    Column("node", String(128), nullable=False),
    Column("caught_up", Boolean, nullable=False),
    Column("last_tick_at", BigInteger, nullable=True),
    Column("missed_count", Integer, nullable=False),
    # One firing per tick, whichever server tries: the last guard against firing twice.
    UniqueConstraint("schedule_id", "tick_at", name="uq_schedule_firings_tick"),
    # Claims a dead server left behind.
    Index("ix_schedule_firings_status_at", "status", "at"),
)
