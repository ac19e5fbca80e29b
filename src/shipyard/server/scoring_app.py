"""Mount the scoring router (``/endpoints/<name>/score``) and ``/metrics`` on an app.

Shared by ``shipyard up`` (the whole server) and ``shipyard serve`` (scoring only), so a
production scoring process answers exactly as the development server does.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI, Response
from starlette.routing import Mount

from shipyard.server.scoring import ScoringRouter
from shipyard.server.scoring_metrics import CONTENT_TYPE, ScoringMetrics
from shipyard.services.access.authenticator import Authenticator
from shipyard.services.data_collection import DataCollector
from shipyard.services.endpoints import EndpointService
from shipyard.services.monitoring.system import SystemAggregator
from shipyard.services.ports import ArtifactStore
from shipyard.services.serving_ports import DeploymentRuntime

__all__ = ["Scoring", "mount_scoring"]


@dataclass
class Scoring:
    router: ScoringRouter
    collector: DataCollector
    metrics: ScoringMetrics
    system: SystemAggregator

    def start(self) -> None:
        self.collector.start()
        self.system.start()

    async def stop(self) -> None:
        await self.router.close()
        self.system.close()  # its last minute goes through the collector: before it stops
        self.collector.stop()


def mount_scoring(
    app: FastAPI,
    endpoints: EndpointService,
    runtime: DeploymentRuntime,
    store: ArtifactStore,
    *,
    max_body_bytes: int,
    tokens: Authenticator | None,
) -> Scoring:
    metrics = ScoringMetrics()
    collector = DataCollector(store)
    metrics.count_dropped_rows(collector.dropped)
    # Per-minute request/error/latency counts and worker CPU/memory, kept as the deployment's
    # "system" collection: what a monitor's system signal reads, across servers.
    system = SystemAggregator(collector, runtime)
    router = ScoringRouter(
        endpoints.routing,
        runtime,
        metrics=metrics,
        collector=collector,
        max_body_bytes=max_body_bytes,
        tokens=tokens,
        system=system,
    )
    # First among the routes (what app.mount does, but at the front): FastAPI tries its
    # routes in order, and matching every API route before the mount cost each scoring
    # request ~250 µs of the router's CPU (measured with FastAPI 0.165; benchmarks/serving.py).
    app.router.routes.insert(0, Mount("/endpoints", app=router))

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return Scoring(router, collector, metrics, system)
