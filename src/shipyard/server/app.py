"""``create_app(settings)``: build the ASGI app with its stores and services on ``app.state``.

Nothing here names a resource: each one's descriptor (``shipyard/resources/``) says which
services to build (``wiring.py``), which routers to include and what else to install.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from shipyard._version import __version__
from shipyard.resources import Resource, load, resources
from shipyard.server import errors, mlflow
from shipyard.server.access import authorize, bind_rules
from shipyard.server.access_runtime import build_access, install_guard, secure_home
from shipyard.server.deps import Services
from shipyard.server.routers import health, pages
from shipyard.server.routers.pages import install_openapi
from shipyard.server.wiring import Wiring
from shipyard.settings import Settings
from shipyard.stores.registry import open_artifact_store, open_database

__all__ = ["create_app"]


def create_app(settings: Settings) -> FastAPI:
    """Open the stores (applying migrations), wire the services and mount the routers."""
    secure_home(settings.home)
    database = open_database(settings.resolved_database_url())
    store = open_artifact_store(settings.resolved_artifacts(), staging_dir=settings.home)
    access = build_access(settings, database)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        wiring.start()
        yield
        await wiring.stop()
        access.audit.stop()
        database.close()

    app = FastAPI(
        title="Shipyard",
        version=__version__,
        description='Native REST API of Shipyard. Errors are `{"error": {"code", "message", "details"}}`.',
        lifespan=lifespan,
        # The docs are served by routes of ours below, so that they too need a principal.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(authorize)],
    )
    app.state.settings = settings
    app.state.database = database
    app.state.artifact_store = store
    app.state.public_url = settings.default_public_url()
    app.state.first_token = access.first_token
    app.state.authenticator = access.authenticator
    wiring = Wiring(settings, database, store, access, lambda: str(app.state.public_url))
    app.state.services = Services(wiring.build_all())
    errors.install(app)
    every = resources()
    api = settings.has_role("api")  # without it: /healthz, and scoring with the serving role
    if api:
        mlflow.mount(app)  # first: its routes answer "no match" to other paths at once
        for module in (pages, health):
            app.include_router(module.router)
        for path in _routers(every):
            app.include_router(load(path))
        install_openapi(app)
    else:
        app.include_router(health.router)
    for resource in every:
        if resource.install is not None:
            load(resource.install)(app, wiring)
    app.state.route_rules = bind_rules(app.router.routes)
    install_guard(app, settings, access)
    return app


def _routers(every: list[Resource]) -> list[str]:
    return [path for resource in every for path in resource.routers]
