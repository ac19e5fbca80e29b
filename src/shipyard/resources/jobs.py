"""Jobs (command, sweep, pipeline): the shared queue, its leases and the jobs' logs."""

from shipyard.resources import Resource

__all__ = ["RESOURCE"]

RESOURCE = Resource(
    name="jobs",
    position=100,
    repositories={
        "jobs": "shipyard.stores.sql.jobs:SqlJobRepository",
        "log_chunks": "shipyard.stores.sql.jobs:SqlLogChunkRepository",
    },
    tables=("shipyard.stores.sql.schema_jobs",),
    services={
        "jobs_runtime": "shipyard.server.providers.jobs:runtime",
        "jobs": "shipyard.server.providers.jobs:jobs",
    },
    routers=("shipyard.server.routers.jobs:router",),
    install="shipyard.server.providers.jobs:install",
    commands={"job": "shipyard.cli.jobs:app"},
    cli_position=30,
)
