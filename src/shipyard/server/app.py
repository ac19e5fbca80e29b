"""``create_app(settings)``: build the ASGI app with its stores and services on ``app.state``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from shipyard._version import __version__
from shipyard.server import errors, mlflow
from shipyard.server.access import authorize, bind_rules
from shipyard.server.access_runtime import build_access, install_guard, secure_home
from shipyard.server.batch_runtime import build_batch
from shipyard.server.deps import Services
from shipyard.server.endpoints_runtime import build_endpoints
from shipyard.server.jobs_runtime import build_jobs
from shipyard.server.routers import (
    artifacts,
    audit,
    batch_endpoints,
    computes,
    data,
    environments,
    experiments,
    health,
    identity,
    jobs,
    metrics,
    models,
    online_endpoints,
    pages,
    runs,
    secrets,
    snapshots,
)
from shipyard.server.routers.pages import install_openapi
from shipyard.server.scoring_app import mount_scoring
from shipyard.services.artifacts import ArtifactService
from shipyard.services.data_assets import DataAssetService
from shipyard.services.logged_models import LoggedModelService
from shipyard.services.proxied_artifacts import ProxiedArtifactService
from shipyard.services.registry import RegistryService
from shipyard.services.snapshots import SnapshotService
from shipyard.services.tracking import TrackingService
from shipyard.settings import Settings
from shipyard.stores.registry import open_artifact_store, open_database

__all__ = ["create_app"]


def create_app(settings: Settings) -> FastAPI:
    """Open the stores (applying migrations), wire the services and mount the routers."""
    secure_home(settings.home)
    database = open_database(settings.resolved_database_url())
    store = open_artifact_store(settings.resolved_artifacts(), staging_dir=settings.home)
    tracking = TrackingService(database)
    tracking.bootstrap()
    access = build_access(settings, database)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        serving.start()
        if scoring is not None:
            scoring.start()
        yield
        if scoring is not None:
            await scoring.stop()
        serving.stop()
        runtime.stop()
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
    artifact_service = ArtifactService(database, store, settings.max_upload_bytes)
    snapshot_service = SnapshotService(store, artifact_service)
    data_service = DataAssetService(database, snapshot_service)
    registry_service = RegistryService(database)
    runtime = build_jobs(
        settings,
        database,
        store,
        artifact_service,
        snapshot_service,
        data_service,
        registry_service,
        lambda: str(app.state.public_url),
        access.credentials,
    )
    serving = build_endpoints(
        settings, database, store, snapshot_service, registry_service, runtime.environments,
        lambda: str(app.state.public_url), access.credentials,
    )  # fmt: skip
    app.state.jobs_runtime = runtime
    batch = build_batch(database, store, snapshot_service, registry_service, data_service, runtime)
    app.state.services = Services(
        tracking=tracking,
        artifacts=artifact_service,
        registry=registry_service,
        logged_models=LoggedModelService(database, store),
        proxied_artifacts=ProxiedArtifactService(artifact_service),
        snapshots=snapshot_service,
        data=data_service,
        jobs=runtime.jobs,
        environments=runtime.environments,
        computes=runtime.computes,
        endpoints=serving.endpoints,
        deployments=serving.deployments,
        batch_endpoints=batch.endpoints,
        batch_jobs=batch.jobs,
        identity=access.identity,
        secrets=access.secrets,
        audit=access.audit,
    )
    errors.install(app)
    api = settings.has_role("api")  # without it: /healthz, and scoring with the serving role
    if api:
        mlflow.mount(app)  # first: its routes answer "no match" to other paths at once
    for module in (
        pages, health, identity, secrets, audit, experiments, runs, metrics, artifacts, models, snapshots,
        data, environments, computes, jobs, online_endpoints, batch_endpoints,
    ) if api else (health,):  # fmt: skip
        app.include_router(module.router)
    if api:
        install_openapi(app)
    scoring = (
        None
        if serving.runtime is None
        else mount_scoring(
            app,
            serving.endpoints,
            serving.runtime,
            store,
            max_body_bytes=settings.max_score_bytes,
            tokens=access.authenticator,
        )
    )
    app.state.route_rules = bind_rules(app.router.routes)
    install_guard(app, settings, access)
    return app
