"""Request and response DTOs of batch endpoints and deployments (``/api/v1/batch-endpoints``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shipyard.server.job_schemas import InlineEnvironmentIn, JobOut
from shipyard.server.schemas import Dto

__all__ = [
    "BatchDeploymentIn",
    "BatchDeploymentOut",
    "BatchDeploymentPage",
    "BatchEndpointIn",
    "BatchEndpointOut",
    "BatchEndpointPage",
    "BatchInvokeIn",
    "BatchJobPage",
]


class BatchEndpointIn(Dto):
    spec: dict[str, Any] = Field(description="The endpoint file's mapping (Azure ML batch endpoint).")
    source: str = Field("endpoint.yml", description="Where the spec came from, for messages.")


class BatchEndpointOut(Dto):
    name: str
    description: str
    tags: dict[str, str]
    default_deployment: str | None = Field(description="What invoke uses unless told otherwise.")
    notes: list[str] = Field(default_factory=list, description="Fields read but not acted on.")
    created_at: int
    created_by: str
    updated_at: int


class BatchEndpointPage(Dto):
    endpoints: list[BatchEndpointOut]


class BatchDeploymentIn(Dto):
    spec: dict[str, Any] = Field(
        description="The deployment file's mapping (Azure ML model batch deployment), after --set."
    )
    source: str = Field("deployment.yml", description="Where the spec came from, for messages.")
    model_snapshot: str | None = Field(None, description="Digest of the uploaded local model folder.")
    code_snapshot: str | None = Field(None, description="Digest of the uploaded code_configuration.code.")
    environment: InlineEnvironmentIn | None = Field(
        None, description="The inline environment, read by the client (required when the spec has one)."
    )
    set_default: bool = Field(False, description="Make it the endpoint's default deployment.")


class BatchDeploymentOut(Dto):
    name: str
    endpoint_name: str
    model: dict[str, Any] = Field(description="kind (mlflow|custom), name, version, source, snapshot.")
    compute: str
    settings: dict[str, Any] = Field(description="mini_batch_size, retry_settings, error_threshold…")
    output: dict[str, Any] | None = Field(description="The SQL target {sql_url, table}, if any.")
    description: str
    tags: dict[str, str]
    notes: list[str] = Field(default_factory=list, description="Fields read but not acted on.")
    created_at: int
    created_by: str
    updated_at: int


class BatchDeploymentPage(Dto):
    deployments: list[BatchDeploymentOut]


class BatchInvokeIn(Dto):
    input: str = Field(description="The data asset to score: azureml:<name>@latest or azureml:<name>:<v>.")
    deployment_name: str | None = Field(None, description="Default: the endpoint's default deployment.")
    job_name: str | None = Field(None, description="Name of the job (default: generated).")


class BatchJobPage(Dto):
    jobs: list[JobOut]
