"""Compute targets jobs run on (local processes, Ray clusters)."""

from shipyard.resources import Resource

__all__ = ["RESOURCE"]

RESOURCE = Resource(
    name="computes",
    position=90,
    repositories={"computes": "shipyard.stores.sql.jobs:SqlComputeRepository"},
    services={"computes": "shipyard.server.providers.jobs:computes"},
    routers=("shipyard.server.routers.computes:router",),
    commands={"compute": "shipyard.cli.computes:app"},
    cli_position=50,
)
