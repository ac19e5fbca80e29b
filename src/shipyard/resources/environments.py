"""Environments: versioned Python environment specs, built by uv and cached by hash."""

from shipyard.resources import Resource

__all__ = ["RESOURCE"]

RESOURCE = Resource(
    name="environments",
    position=80,
    repositories={"environments": "shipyard.stores.sql.jobs:SqlEnvironmentRepository"},
    services={"environments": "shipyard.server.providers.jobs:environments"},
    routers=("shipyard.server.routers.environments:router",),
    commands={"environment": "shipyard.cli.environments:app"},
    cli_position=40,
)
