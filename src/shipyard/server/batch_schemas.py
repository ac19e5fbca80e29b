"""Request and response DTOs of batch endpoints and deployments (``/api/v1/batch-endpoints``).

The answers' shapes are the shared ones of :mod:`shipyard.api.batch`, which the SDK decodes too.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shipyard.api.batch import BatchDeployment, BatchEndpoint
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


BatchEndpointOut = BatchEndpoint


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


BatchDeploymentOut = BatchDeployment


class BatchDeploymentPage(Dto):
    deployments: list[BatchDeploymentOut]


class BatchInvokeIn(Dto):
    input: str = Field(description="The data asset to score: azureml:<name>@latest or azureml:<name>:<v>.")
    deployment_name: str | None = Field(None, description="Default: the endpoint's default deployment.")
    job_name: str | None = Field(None, description="Name of the job (default: generated).")


class BatchJobPage(Dto):
    jobs: list[JobOut]
