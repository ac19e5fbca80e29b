"""Components: command components registered by version (pipeline steps name them
``azureml:<name>:<version>``), and the completed pipeline steps later steps may reuse."""

from shipyard.resources import Resource, RouteRule

__all__ = ["RESOURCE"]

_V1 = "/api/v1/components"

RESOURCE = Resource(
    name="components",
    position=108,
    repositories={
        "components": "shipyard.stores.sql.components:SqlComponentRepository",
        "step_results": "shipyard.stores.sql.components:SqlStepResultRepository",
    },
    tables=("shipyard.stores.sql.schema_components",),
    services={"components": "shipyard.server.providers.components:components"},
    routers=("shipyard.server.routers.components:router",),
    rules={
        ("POST", _V1): RouteRule("components:create"),
        ("GET", _V1): RouteRule("components:read"),
        ("GET", f"{_V1}/{{name}}/versions"): RouteRule("components:read"),
        ("GET", f"{_V1}/{{name}}/versions/{{version}}"): RouteRule("components:read"),
    },
    commands={"component": "shipyard.cli.components:app"},
    cli_position=36,
)
