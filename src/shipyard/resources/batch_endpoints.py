"""Batch endpoints: deployments that score a data asset in mini-batches, as jobs."""

from shipyard.resources import Resource

__all__ = ["RESOURCE"]

RESOURCE = Resource(
    name="batch_endpoints",
    position=120,
    repositories={
        "batch_endpoints": "shipyard.stores.sql.batch_endpoints:SqlBatchEndpointRepository",
        "batch_deployments": "shipyard.stores.sql.batch_endpoints:SqlBatchDeploymentRepository",
    },
    tables=("shipyard.stores.sql.schema_batch",),
    services={
        "batch_runtime": "shipyard.server.providers.batch_endpoints:runtime",
        "batch_endpoints": "shipyard.server.providers.batch_endpoints:batch_endpoints",
        "batch_jobs": "shipyard.server.providers.batch_endpoints:batch_jobs",
    },
    routers=("shipyard.server.routers.batch_endpoints:router",),
    commands={
        "batch-endpoint": "shipyard.cli.batch_endpoints:endpoint_app",
        "batch-deployment": "shipyard.cli.batch_endpoints:deployment_app",
    },
    cli_position=80,
)
