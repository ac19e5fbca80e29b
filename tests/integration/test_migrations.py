"""The two ways a schema comes to be (create_all on a fresh database, Alembic migrations on
an older one) must give the same schema, and HEAD must name the newest migration."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import shipyard.stores.sql.migrate as migrate
from shipyard.stores.sql.engine import build_engine
from shipyard.stores.sql.tables import metadata


def test_head_names_the_newest_migration() -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
    assert ScriptDirectory.from_config(config).get_current_head() == migrate.HEAD


def test_migrations_build_exactly_the_declared_schema(database_url: str) -> None:
    engine = build_engine(database_url)
    migrate.run_migrations(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_fresh_database_is_created_and_stamped_then_left_alone(database_url: str) -> None:
    engine = build_engine(database_url)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.HEAD
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert set(metadata.tables) <= tables
    migrate.upgrade(engine)  # second start: a no-op that must not fail
    engine.dispose()


def test_sqlite_file_is_in_wal_mode(tmp_path: Path) -> None:
    engine = build_engine(f"sqlite:///{tmp_path / 'x.db'}")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()
