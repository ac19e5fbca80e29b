"""A workspace's secrets, encrypted at rest, handed to jobs and deployments."""

from shipyard.resources import Resource

__all__ = ["RESOURCE"]

RESOURCE = Resource(
    name="secrets",
    position=20,
    repositories={"secrets": "shipyard.stores.sql.access:SqlSecretRepository"},
    services={"secrets": "shipyard.server.providers.access:secrets"},
    routers=("shipyard.server.routers.secrets:router",),
    commands={"secret": "shipyard.cli.access:secret_app"},
    cli_position=110,
)
