"""Request and response DTOs of online endpoints and deployments (``/api/v1/online-endpoints``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

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


class EndpointOut(Dto):
    name: str
    auth_mode: str = Field(description="key or none")
    description: str
    tags: dict[str, str]
    traffic: dict[str, int]
    mirror_traffic: dict[str, int]
    provisioning_state: str = Field(description="Succeeded once created (deployments have their own).")
    scoring_uri: str
    created_at: int
    created_by: str
    updated_at: int


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


class DeploymentOut(Dto):
    name: str
    endpoint_name: str
    provisioning_state: str = Field(description="Creating, Updating, Succeeded or Failed")
    reason: str = Field(description="Why it Failed, in words (empty otherwise).")
    revision: str = Field(description="Hash of what the workers run; changes with every real update.")
    model: dict[str, Any] = Field(description="kind (mlflow|custom), name, version, source of the model.")
    instance_count: int
    description: str
    tags: dict[str, str]
    notes: list[str] = Field(default_factory=list, description="Fields read but not acted on.")
    created_at: int
    created_by: str
    updated_at: int
    spec: dict[str, Any] = Field(default_factory=dict, description="The resolved deployment.")


class DeploymentPage(Dto):
    deployments: list[DeploymentOut]


class DeploymentProgressOut(Dto):
    provisioning_state: str = Field(description="Creating, Updating, Succeeded or Failed")
    reason: str = Field(description="Why it Failed, in words (empty otherwise).")
    revision: str
    text: str = Field(
        description="Whole lines the preparation log gained since `offset`: model download, environment"
        " build (uv's output), workers starting and their probes. Once the state is Succeeded or Failed,"
        " every line written before it is here."
    )
    offset: int = Field(description="Ask from here next.")
