"""Alembic environment: runs against the engine the server hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from shipyard.stores.sql.tables import metadata

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # `alembic` run by hand (e.g. autogenerate): use the URL it was given
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
