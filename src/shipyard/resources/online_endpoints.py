"""Online endpoints, their deployments (worker processes) and the scoring router."""

from shipyard.resources import Resource, RouteRule

__all__ = ["RESOURCE"]

RESOURCE = Resource(
    name="online_endpoints",
    position=110,
    repositories={
        "endpoints": "shipyard.stores.sql.endpoints:SqlEndpointRepository",
        "deployments": "shipyard.stores.sql.endpoints:SqlDeploymentRepository",
    },
    tables=("shipyard.stores.sql.schema_endpoints",),
    services={
        "serving": "shipyard.server.providers.online_endpoints:serving",
        "endpoints": "shipyard.server.providers.online_endpoints:endpoints",
        "deployments": "shipyard.server.providers.online_endpoints:deployments",
        "deployment_system": "shipyard.server.providers.online_endpoints:deployment_system",
    },
    routers=("shipyard.server.routers.online_endpoints:router",),
    rules={
        ("GET", "/api/v1/online-endpoints/{name}/deployments/{deployment}/system"): RouteRule(
            "endpoints:read"
        ),
    },
    install="shipyard.server.providers.online_endpoints:install",
    commands={
        "online-endpoint": "shipyard.cli.endpoints:endpoint_app",
        "online-deployment": "shipyard.cli.endpoints:deployment_app",
    },
    cli_position=70,
)
