"""Request and response DTOs of online endpoints and deployments (``/api/v1/online-endpoints``).

The answers' shapes are the shared ones of :mod:`shipyard.api.endpoints`, which the SDK
decodes too; the names here keep the routers' vocabulary (``…Out``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shipyard.api.endpoints import DeploymentProgress, OnlineDeployment, OnlineEndpoint
from shipyard.server.job_schemas import InlineEnvironmentIn
from shipyard.server.schemas import Dto

__all__ = [
    "DeploymentIn",
    "DeploymentOut",
    "DeploymentPage",
    "DeploymentProgressOut",
    "EndpointIn",
    "EndpointKeys",
    "EndpointOut",
    "EndpointPage",
    "EndpointUpdate",
    "RegenerateKeysIn",
]


class EndpointIn(Dto):
    spec: dict[str, Any] = Field(
        description="The endpoint file's mapping (Azure ML managed online endpoint)."
    )
    source: str = Field("endpoint.yml", description="Where the spec came from, for messages.")


class EndpointUpdate(Dto):
    traffic: dict[str, int] | None = Field(
        None, description="Deployment → percent of live traffic; integers summing to 100 (or all 0)."
    )
    mirror_traffic: dict[str, int] | None = Field(
        None, description="Deployment → percent of live requests copied to it (at most 50)."
    )
    description: str | None = None
    tags: dict[str, str] | None = None


EndpointOut = OnlineEndpoint


class EndpointPage(Dto):
    endpoints: list[EndpointOut]


class EndpointKeys(Dto):
    """As the Azure CLI prints them (``get-credentials --output json``)."""

    primaryKey: str  # Azure's field names
    secondaryKey: str


class RegenerateKeysIn(Dto):
    key_type: Literal["primary", "secondary"] = Field(description="Which key to replace.")


class DeploymentIn(Dto):
    spec: dict[str, Any] = Field(
        description="The deployment file's mapping (Azure ML managed online deployment), after --set."
    )
    source: str = Field("deployment.yml", description="Where the spec came from, for messages.")
    model_snapshot: str | None = Field(
        None, description="Digest of the uploaded local model folder (POST /api/v1/snapshots)."
    )
    code_snapshot: str | None = Field(
        None, description="Digest of the uploaded code_configuration.code folder."
    )
    environment: InlineEnvironmentIn | None = Field(
        None, description="The inline environment, read by the client (required when the spec has one)."
    )
    all_traffic: bool = Field(False, description="Send 100% of live traffic to it once it is ready.")


DeploymentOut = OnlineDeployment


class DeploymentPage(Dto):
    deployments: list[DeploymentOut]


DeploymentProgressOut = DeploymentProgress
