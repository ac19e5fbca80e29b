"""What MLflow's web UI and newer clients read beyond the tracking resource: the datasets of
experiments (``experiments/search-datasets``, GraphQL's ``mlflowSearchDatasets``). Its routes
are MLflow's, mounted with the rest of that API (``server/mlflow``)."""

from shipyard.resources import Resource

__all__ = ["RESOURCE"]

RESOURCE = Resource(
    name="mlflow_ui",
    position=41,
    repositories={"dataset_summaries": "shipyard.stores.sql.dataset_summaries:SqlDatasetSummaryRepository"},
    services={"dataset_summaries": "shipyard.server.providers.mlflow_ui:dataset_summaries"},
)
