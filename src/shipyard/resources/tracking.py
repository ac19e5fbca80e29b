"""Workspaces, experiments, runs with their params, tags, metrics and artifacts, and the
models MLflow logs with them."""

from shipyard.resources import Resource

__all__ = ["RESOURCE"]

RESOURCE = Resource(
    name="tracking",
    position=40,
    repositories={
        "workspaces": "shipyard.stores.sql.experiments:SqlWorkspaceRepository",
        "experiments": "shipyard.stores.sql.experiments:SqlExperimentRepository",
        "runs": "shipyard.stores.sql.runs:SqlRunRepository",
        "metrics": "shipyard.stores.sql.metrics:SqlMetricRepository",
        "run_io": "shipyard.stores.sql.run_io:SqlRunIORepository",
        "artifacts": "shipyard.stores.sql.artifacts:SqlArtifactIndex",
        "logged_models": "shipyard.stores.sql.logged_models:SqlLoggedModelRepository",
    },
    tables=("shipyard.stores.sql.schema",),
    services={
        "tracking": "shipyard.server.providers.tracking:tracking",
        "artifacts": "shipyard.server.providers.tracking:artifacts",
        "logged_models": "shipyard.server.providers.tracking:logged_models",
        "proxied_artifacts": "shipyard.server.providers.tracking:proxied_artifacts",
    },
    routers=(
        "shipyard.server.routers.experiments:router",
        "shipyard.server.routers.runs:router",
        "shipyard.server.routers.metrics:router",
        "shipyard.server.routers.artifacts:router",
    ),
    commands={"experiment": "shipyard.cli.experiments:app", "run": "shipyard.cli.runs:app"},
    cli_position=10,
)
