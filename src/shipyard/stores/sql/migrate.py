"""Bring the schema to the newest revision at server start, cheaply.

Three cases, decided by reading ``alembic_version`` directly:
- current (every start after the first): nothing to do, and Alembic is never imported;
- empty database (first start): ``metadata.create_all`` plus stamping :data:`HEAD`, the
  Alembic cookbook's recipe for new databases — an order of magnitude faster than
  replaying migrations, and a test checks both paths produce the same schema;
- older revision: run the Alembic migrations.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Engine, MetaData, String, Table, inspect, select

from shipyard.stores.sql.tables import metadata

__all__ = ["HEAD", "current_revision", "run_migrations", "upgrade"]

_SCRIPTS = Path(__file__).parent / "migrations"

# Scripts are named "<revision>_<what>.py" with zero-padded revisions, so the newest is the
# largest name: a new migration needs no edit here (a test holds this to Alembic's head).
HEAD = max(p.name.partition("_")[0] for p in (_SCRIPTS / "versions").glob("[0-9]*_*.py"))
"""The newest migration's revision id."""
_version_table = Table("alembic_version", MetaData(), Column("version_num", String(32), primary_key=True))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(select(_version_table.c.version_num)).scalar()


def run_migrations(engine: Engine, target: str = "head") -> None:
    from alembic import command  # only when a migration is due
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["engine"] = engine
    command.upgrade(config, target)


def upgrade(engine: Engine) -> None:
    current = current_revision(engine)
    if current == HEAD:
        return
    if current is None:
        with engine.connect() as conn:
            empty = not inspect(conn).get_table_names()
        if empty:
            with engine.begin() as conn:
                metadata.create_all(conn)
                _version_table.create(conn)
                conn.execute(_version_table.insert().values(version_num=HEAD))
            return
    run_migrations(engine)
