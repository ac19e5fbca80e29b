"""The model registry: registered models, versions, aliases, tags and their history."""

from shipyard.resources import Resource

__all__ = ["RESOURCE"]

RESOURCE = Resource(
    name="models",
    position=50,
    repositories={"models": "shipyard.stores.sql.models:SqlModelRepository"},
    services={"registry": "shipyard.server.providers.models:registry"},
    routers=("shipyard.server.routers.models:router",),
    commands={"model": "shipyard.cli.models:app"},
    cli_position=20,
)
