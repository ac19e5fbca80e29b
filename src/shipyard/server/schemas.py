"""Request and response DTOs of the native API (``/api/v1``).

Floats that may be NaN or ±inf serialise as the strings ``"NaN"``, ``"Infinity"`` and
``"-Infinity"`` (the proto3 JSON convention), and are accepted the same way.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, model_validator

from shipyard.domain.validation import check_storable

__all__ = [
    "AliasIn",
    "ArtifactEntryOut",
    "ArtifactList",
    "ArtifactOut",
    "Dto",
    "ErrorBody",
    "ErrorOut",
    "ExperimentIn",
    "ExperimentOut",
    "ExperimentPage",
    "ExperimentPatch",
    "Health",
    "MetricBatchIn",
    "MetricBatchOut",
    "MetricHistoryOut",
    "MetricSeriesIn",
    "MetricSummaryOut",
    "ModelEventOut",
    "ModelHistory",
    "ModelIn",
    "ModelOut",
    "ModelPage",
    "ModelPatch",
    "ParamsIn",
    "RunIn",
    "RunOut",
    "RunPage",
    "RunPatch",
    "RunSearchIn",
    "TagsIn",
    "VersionIn",
    "VersionOut",
    "VersionPage",
    "VersionPatch",
]


class Dto(BaseModel):
    model_config = ConfigDict(ser_json_inf_nan="strings", from_attributes=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        """A lone surrogate or a 65-bit integer anywhere in a body is the client's mistake (400),
        not a database error (500): refused here, before any handler runs, for every DTO."""
        if isinstance(data, dict):
            check_storable(data)
        return data


class ErrorBody(Dto):
    code: str = Field(description="Stable error code, e.g. NOT_FOUND, INVALID_ARGUMENT.")
    message: str = Field(description="What happened and what to fix.")
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorOut(Dto):
    error: ErrorBody


class Health(Dto):
    status: str
    version: str
    stores: dict[str, str]


# -- experiments -------------------------------------------------------------------


class ExperimentIn(Dto):
    name: str
    tags: dict[str, str] = Field(default_factory=dict)


class ExperimentPatch(Dto):
    name: str | None = None
    tags: dict[str, str] | None = None


class ExperimentOut(Dto):
    id: str
    workspace: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    tags: dict[str, str]
    created_at: int
    created_by: str
    updated_at: int
    updated_by: str


class ExperimentPage(Dto):
    experiments: list[ExperimentOut]
    next_page_token: str | None = None


# -- runs --------------------------------------------------------------------------


class RunIn(Dto):
    experiment_id: str
    name: str | None = None
    start_time: int | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str] = Field(default_factory=dict)
    parent_run_id: str | None = None


class RunPatch(Dto):
    status: str | None = Field(default=None, description="RUNNING, SCHEDULED, FINISHED, FAILED or KILLED.")
    end_time: int | None = None
    name: str | None = None


class MetricSummaryOut(Dto):
    key: str
    value: float
    step: int
    timestamp: int
    count: int
    min: float
    max: float


class RunOut(Dto):
    id: str
    experiment_id: str
    name: str
    status: str
    start_time: int
    end_time: int | None
    parent_run_id: str | None
    lifecycle_stage: str
    artifact_uri: str
    created_by: str
    updated_at: int
    updated_by: str
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, MetricSummaryOut]


class RunSearchIn(Dto):
    experiment_ids: list[str]
    filter: str | None = Field(default=None, description="e.g. metrics.acc > 0.9 AND params.lr = '0.01'")
    order_by: list[str] = Field(default_factory=list, description="e.g. ['metrics.acc DESC']")
    view: str = "active"
    max_results: int = 100
    page_token: str | None = None


class RunPage(Dto):
    runs: list[RunOut]
    next_page_token: str | None = None


class ParamsIn(Dto):
    params: dict[str, str]


class TagsIn(Dto):
    tags: dict[str, str]


# Strict on purpose: `true` is not a step and "1.5" is not a value. Non-finite values
# travel as the three proto3 JSON names, the only strings accepted.
MetricValue = StrictFloat | Literal["NaN", "Infinity", "-Infinity"]


class MetricSeriesIn(Dto):
    key: str
    steps: list[StrictInt]
    values: list[MetricValue] = Field(description='Numbers, or "NaN", "Infinity", "-Infinity".')
    timestamps: list[StrictInt] = Field(description="Milliseconds since the epoch.")


class MetricBatchIn(Dto):
    metrics: list[MetricSeriesIn] = Field(description="Points grouped by key, columnar.")


class MetricBatchOut(Dto):
    accepted: int = Field(description="Points stored by this request (0 for a replayed batch).")
    duplicate: bool = Field(description="True when the Idempotency-Key was seen before.")


class MetricHistoryOut(Dto):
    key: str
    steps: list[int]
    values: list[float]
    timestamps: list[int]
    total: int
    downsampled: bool
    next_page_token: str | None = None


# -- artifacts ---------------------------------------------------------------------


class ArtifactOut(Dto):
    path: str
    size: int
    sha256: str


class ArtifactEntryOut(Dto):
    path: str
    is_dir: bool
    size: int | None = None
    sha256: str | None = None


class ArtifactList(Dto):
    files: list[ArtifactEntryOut]


# -- registry ----------------------------------------------------------------------


class ModelIn(Dto):
    name: str
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)


class ModelPatch(Dto):
    description: str | None = None
    tags: dict[str, str] | None = None


class ModelOut(Dto):
    name: str
    workspace: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, int]
    latest_version: int | None
    created_at: int
    created_by: str
    updated_at: int
    updated_by: str


class ModelPage(Dto):
    models: list[ModelOut]


class VersionIn(Dto):
    run_id: str
    artifact_path: str
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)


class VersionPatch(Dto):
    description: str | None = None
    tags: dict[str, str] | None = None


class VersionOut(Dto):
    name: str
    version: int
    source: str
    run_id: str | None
    experiment_id: str | None
    artifact_path: str | None
    code_version: str | None
    description: str
    status: str
    tags: dict[str, str]
    aliases: list[str]
    created_at: int
    created_by: str
    updated_at: int
    updated_by: str
    stage: str = Field("None", description="MLflow's legacy stage: None, Staging, Production, Archived")
    logged_model_id: str | None = Field(None, description="The MLflow logged model it was registered from")


class VersionPage(Dto):
    versions: list[VersionOut]


class AliasIn(Dto):
    version: int


class ModelEventOut(Dto):
    id: int
    name: str
    version: int | None
    action: str
    detail: dict[str, Any]
    actor: str
    at: int


class ModelHistory(Dto):
    events: list[ModelEventOut]
