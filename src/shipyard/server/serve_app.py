"""``create_scoring_app(settings)``: the app of ``shipyard serve`` — scoring only.

``/endpoints/<name>/score``, ``/metrics`` and ``/healthz``, answered exactly as the full
server answers them (the same router), by workers of this process's own, kept in step with
the database by a :class:`~shipyard.services.scoring_replica.ScoringReplica`. Point several
replicas at one database (PostgreSQL) behind a load balancer to scale scoring out; the
control plane (creating endpoints, shifting traffic) stays with ``shipyard up``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from shipyard._version import __version__
from shipyard.server import errors
from shipyard.server.access import authorize, bind_rules
from shipyard.server.access_runtime import build_access, install_guard, secure_home
from shipyard.server.endpoints_runtime import build_endpoints
from shipyard.server.scoring_app import mount_scoring
from shipyard.services.artifacts import ArtifactService
from shipyard.services.job_assets import EnvironmentService
from shipyard.services.registry import RegistryService
from shipyard.services.scoring_replica import ScoringReplica
from shipyard.services.snapshots import SnapshotService
from shipyard.settings import Settings
from shipyard.stores.registry import open_artifact_store, open_database

__all__ = ["create_scoring_app"]


def create_scoring_app(settings: Settings, *, replica_name: str, poll_s: float = 2.0) -> FastAPI:
    """``replica_name`` names this replica's folder under ``<home>/replicas`` (its workers'
    sockets and materialised models): one running replica per name."""
    secure_home(settings.home)
    database = open_database(settings.resolved_database_url())
    # The users, roles and secrets of the server that shares this database.
    access = build_access(settings, database, bootstrap=False)
    store = open_artifact_store(settings.resolved_artifacts(), staging_dir=settings.home)
    artifacts = ArtifactService(database, store, settings.max_upload_bytes)
    snapshots = SnapshotService(store, artifacts)
    serving = build_endpoints(
        settings.model_copy(update={"roles": "serving"}),
        database,
        store,
        snapshots,
        RegistryService(database),
        EnvironmentService(database),
        settings.default_public_url,
        access.credentials,
        state_root=settings.home / "replicas" / replica_name,
    )
    assert serving.runtime is not None  # a replica has the serving role
    replica = ScoringReplica(database, serving.endpoints, serving.deployments, serving.runtime, poll_s=poll_s)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        replica.start()
        scoring.start()
        yield
        await scoring.stop()
        replica.stop()
        access.audit.stop()
        database.close()

    app = FastAPI(
        title="Shipyard scoring",
        version=__version__,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(authorize)],
    )
    app.state.settings = settings
    app.state.database = database
    app.state.replica = replica

    @app.get("/healthz")
    def healthz() -> dict[str, object]:
        database.ping()
        return {"status": "ok", "version": __version__, "deployments": len(replica.applied)}

    errors.install(app)
    scoring = mount_scoring(
        app,
        serving.endpoints,
        serving.runtime,
        store,
        max_body_bytes=settings.max_score_bytes,
        tokens=access.authenticator,
    )
    app.state.route_rules = bind_rules(app.router.routes)
    install_guard(app, settings, access)
    return app
