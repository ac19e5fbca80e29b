"""The services on a real metadata store (each backend in turn) and a local artifact folder.

``database_url`` is the shared fixture (a SQLite file, then a fresh PostgreSQL database),
made faster: each database is a copy of one migrated once per session, so a test pays for
a file copy or a ``CREATE DATABASE … TEMPLATE`` instead of building the schema again.
Migrating from scratch stays covered by every server the end-to-end tests start.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shipyard.domain.context import Principal, RequestContext
from shipyard.services.artifacts import ArtifactService
from shipyard.services.ports import ArtifactRecord
from shipyard.services.registry import RegistryService
from shipyard.services.tracking import TrackingService
from shipyard.stores.artifacts.local import LocalArtifactStore
from shipyard.stores.sql.database import SqlDatabase
from tests.conftest import PG_URL

ALICE = RequestContext(principal=Principal("alice"), workspace="default")


def _migrated(url: str) -> None:
    SqlDatabase(url).close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "shipyard.db"
    _migrated(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[tuple[object, str]]:
    """An AUTOCOMMIT engine on the server's ``postgres`` database, and a migrated template."""
    if not PG_URL:
        pytest.skip("SHIPYARD_TEST_DATABASE_URL is not set")
    admin = create_engine(
        make_url(PG_URL).set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    template = f"shipyard_tmpl_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{template}"'))
    try:
        _migrated(make_url(PG_URL).set(database=template).render_as_string(hide_password=False))
        yield admin, template
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each backend in turn: a SQLite file in tmp_path, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "shipyard.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    admin, template = request.getfixturevalue("pg_admin")
    name = f"shipyard_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)  # type: ignore[arg-type]
    finally:
        with admin.connect() as conn:  # type: ignore[attr-defined]
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def ctx() -> RequestContext:
    return ALICE


@pytest.fixture
def db(database_url: str) -> Iterator[SqlDatabase]:
    database = SqlDatabase(database_url)
    yield database
    database.close()


@pytest.fixture
def tracking(db: SqlDatabase) -> TrackingService:
    service = TrackingService(db)
    service.bootstrap()
    return service


@pytest.fixture
def artifacts(db: SqlDatabase, tmp_path: Path) -> ArtifactService:
    return ArtifactService(db, LocalArtifactStore(tmp_path / "artifacts"), max_upload_bytes=1 << 20)


@pytest.fixture
def registry(db: SqlDatabase) -> RegistryService:
    return RegistryService(db)


def upload(
    service: ArtifactService, ctx: RequestContext, run_id: str, path: str, data: bytes
) -> ArtifactRecord:
    """Upload ``data`` through the service's streaming path, in two chunks."""

    async def body() -> AsyncIterator[bytes]:
        yield data[: len(data) // 2]
        yield data[len(data) // 2 :]

    async def main() -> ArtifactRecord:
        return await service.upload(ctx, run_id, path, body())

    return anyio.run(main)
