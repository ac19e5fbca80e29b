"""Data assets: named, versioned files, folders and tables."""

from shipyard.resources import Resource, RouteRule

__all__ = ["RESOURCE"]

RESOURCE = Resource(
    name="data",
    position=70,
    repositories={"data_assets": "shipyard.stores.sql.data_assets:SqlDataAssetRepository"},
    tables=("shipyard.stores.sql.schema_data",),
    services={"data": "shipyard.server.providers.data:data"},
    routers=("shipyard.server.routers.data:router",),
    rules={("GET", "/api/v1/data/{name}/versions/{version}/profile"): RouteRule("data:read")},
    commands={"data": "shipyard.cli.data:app"},
    cli_position=60,
)
