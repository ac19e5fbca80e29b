"""Lineage: the graph from data asset versions through jobs, runs and model versions to the
deployments serving them, their monitors and the retraining jobs those started
(``GET /api/v1/lineage``, ``shipyard lineage show``, the studio's lineage page)."""

from shipyard.resources import Resource, RouteRule

__all__ = ["RESOURCE"]

RESOURCE = Resource(
    name="lineage",
    position=140,
    services={"lineage": "shipyard.server.providers.lineage:lineage"},
    routers=("shipyard.server.routers.lineage:router",),
    rules={
        # Any signed-in caller; the service shows each node only to those who may read its
        # kind in the workspace (services/lineage.py), and refuses the node asked for otherwise.
        ("GET", "/api/v1/lineage"): RouteRule("signed-in"),
    },
    commands={"lineage": "shipyard.cli.lineage:app"},
)
