"""A new resource is new files only (docs/architecture.md, "Adding a resource").

This module is such a resource, "notes": a port and its SQL repository, a service and its
factory, a router and its rules, and the descriptor that registers them. Registered, it is
served by a real app (SQLite in a temporary home, the guard and the permission check in
front) with no line changed in a central file; and the central files import no resource.
"""

from __future__ import annotations

import ast
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import start_blocking_portal
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, insert, select

import shipyard
from shipyard.resources import Resource, RouteRule, load, merged, register, resources, unregister
from shipyard.server.app import create_app
from shipyard.server.deps import Ctx, Svc
from shipyard.server.wiring import Wiring
from shipyard.services.ports import Database, RepositoryKey
from shipyard.settings import Settings
from tests.conftest import AUTH
from tests.integration.test_access_matrix import SyncClient

# -- the resource, as its own files would hold it ---------------------------------------

_notes = Table(
    "test_notes",
    MetaData(),  # its own: the store's shared metadata (and its migrations) stay as they are
    Column("id", Integer, primary_key=True),
    Column("workspace", String(64), nullable=False),
    Column("text", String(200), nullable=False),
)


class NoteRepository(ABC):
    @abstractmethod
    def prepare(self) -> None:
        """Create the table if missing (a real resource ships a migration instead)."""

    @abstractmethod
    def add(self, workspace: str, text: str) -> None: ...

    @abstractmethod
    def texts(self, workspace: str) -> list[str]: ...


NOTES: RepositoryKey[NoteRepository] = RepositoryKey("notes")


class SqlNoteRepository(NoteRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def prepare(self) -> None:
        _notes.create(self.conn, checkfirst=True)

    def add(self, workspace: str, text: str) -> None:
        self.conn.execute(insert(_notes).values(workspace=workspace, text=text))

    def texts(self, workspace: str) -> list[str]:
        rows = self.conn.execute(
            select(_notes.c.text).where(_notes.c.workspace == workspace).order_by(_notes.c.id)
        )
        return [row.text for row in rows]


class NoteService:
    def __init__(self, database: Database) -> None:
        self.db = database
        with database.write() as uow:
            uow[NOTES].prepare()

    def add(self, workspace: str, text: str) -> None:
        with self.db.write() as uow:
            uow[NOTES].add(workspace, text)

    def texts(self, workspace: str) -> list[str]:
        with self.db.read() as uow:
            return uow[NOTES].texts(workspace)


def note_service(wiring: Wiring) -> NoteService:
    return NoteService(wiring.database)


class NoteIn(BaseModel):
    text: str


router = APIRouter(prefix="/api/v1/notes")


@router.post("", status_code=201)
async def add_note(body: NoteIn, ctx: Ctx, svc: Svc) -> dict[str, Any]:
    svc.get("notes", NoteService).add(ctx.workspace, body.text)
    return {"text": body.text}


@router.get("")
async def list_notes(ctx: Ctx, svc: Svc) -> dict[str, Any]:
    return {"notes": svc.get("notes", NoteService).texts(ctx.workspace)}


unruled = APIRouter()


@unruled.get("/api/v1/notes/secret")
async def secret_note() -> dict[str, Any]:
    return {"text": "nobody declared who may read this"}


NOTES_RESOURCE = Resource(
    name="notes",
    position=1000,
    repositories={"notes": f"{__name__}:SqlNoteRepository"},
    services={"notes": f"{__name__}:note_service"},
    routers=(f"{__name__}:router",),
    rules={
        ("POST", "/api/v1/notes"): RouteRule("experiments:write"),
        ("GET", "/api/v1/notes"): RouteRule("experiments:read"),
    },
)

# -- the tests --------------------------------------------------------------------------


@pytest.fixture
def notes_registered() -> Iterator[None]:
    register(NOTES_RESOURCE)
    try:
        yield
    finally:
        unregister(NOTES_RESOURCE.name)


@pytest.fixture
def notes_app(notes_registered: None, tmp_path: Path) -> Iterator[tuple[FastAPI, SyncClient]]:
    app = create_app(Settings(home=tmp_path, roles="api"))
    with start_blocking_portal() as portal:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")
        try:
            yield app, SyncClient(portal, client)
        finally:
            portal.call(client.aclose)
            app.state.services.audit.stop()
            app.state.database.close()


def test_a_registered_resource_is_served_behind_the_permission_its_descriptor_declares(
    notes_app: tuple[FastAPI, SyncClient],
) -> None:
    _, client = notes_app
    assert client.request("POST", "/api/v1/notes", json={"text": "hello"}, headers=AUTH).status_code == 201
    assert client.get("/api/v1/notes", headers=AUTH).json() == {"notes": ["hello"]}
    refused = client.get("/api/v1/notes")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "UNAUTHENTICATED"
    elsewhere = client.get("/api/v1/notes", headers={**AUTH, "Shipyard-Workspace": "other"})
    assert elsewhere.json() == {"notes": []}  # its rows are the workspace's own


def test_a_transaction_builds_only_the_repositories_it_uses(notes_app: tuple[FastAPI, SyncClient]) -> None:
    database: Database = notes_app[0].state.database
    with database.read() as uow:
        uow[NOTES].texts("default")
        assert sorted(vars(uow)) == ["conn", "notes"]
        assert uow.runs is uow.runs  # one per transaction, built on first use


def test_a_route_of_a_resource_without_a_rule_stops_the_server(
    notes_registered: None, tmp_path: Path
) -> None:
    register(Resource(name="unruled", position=1001, routers=(f"{__name__}:unruled",)))
    try:
        with pytest.raises(RuntimeError, match="GET /api/v1/notes/secret"):
            create_app(Settings(home=tmp_path, roles="api"))
    finally:
        unregister("unruled")


def test_every_path_a_descriptor_names_resolves() -> None:
    for resource in resources():
        paths = [
            *resource.repositories.values(),
            *resource.services.values(),
            *resource.routers,
            *resource.commands.values(),
            *([resource.install] if resource.install else []),
        ]
        for path in paths:
            assert load(path) is not None, f"{resource.name}: {path}"
        for module in resource.tables:
            load(f"{module}:metadata")


_CENTRAL = (
    "server/app.py",
    "stores/sql/database.py",
    "stores/sql/tables.py",
    "stores/sql/migrate.py",
    "cli/main.py",
)
# The one metadata every table joins lives there, beside the first resources' tables.
_SHARED = {"shipyard.stores.sql.schema"}


def _named_modules(source: str) -> set[str]:
    """The modules a file imports, and those it names in strings ("module:attribute")."""
    named = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            named |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            named |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            named.add(node.value.partition(":")[0])
    return named


def test_central_files_name_no_resource() -> None:
    owned = set()
    for resource in resources():
        paths = [*resource.repositories.values(), *resource.services.values(), *resource.routers]
        owned |= {path.partition(":")[0] for path in [*paths, *resource.commands.values()]}
        owned |= set(resource.tables) - _SHARED
    root = Path(shipyard.__file__).parent
    for central in _CENTRAL:
        named = _named_modules((root / central).read_text()) & owned
        assert not named, f"{central} names resources' modules: {sorted(named)}"


def test_two_resources_claiming_one_repository_name_are_refused() -> None:
    register(Resource(name="clash", position=1002, repositories={"runs": f"{__name__}:SqlNoteRepository"}))
    try:
        with pytest.raises(ValueError, match="'runs' is registered by tracking and clash"):
            merged("repositories")
    finally:
        unregister("clash")
