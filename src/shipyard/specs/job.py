"""``job.yml``: the Azure ML CLI v2 command job, as Shipyard reads it.

Fields Azure accepts but Shipyard does not act on are listed in :data:`IGNORED_FIELDS` (kept in
the model, each with the note :meth:`CommandJobSpec.notes` reports) or refused with a message
saying why (``distribution``, ``resources.instance_count`` > 1). docs/job-yaml.md is the reference.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Discriminator, Field, StrictInt, Tag, field_validator, model_validator

from shipyard.errors import InvalidSpec
from shipyard.specs._base import SpecModel, StrictModel, scalar_map, visible
from shipyard.specs.bindings import check_bindings
from shipyard.specs.environment import InlineEnvironment
from shipyard.specs.refs import asset_ref_value

__all__ = [
    "CLOUD_ONLY_JOBS",
    "DATA_INPUT_TYPES",
    "IGNORED_FIELDS",
    "MAX_TIMEOUT_S",
    "CommandJobSpec",
    "JobInput",
    "JobOutput",
    "Limits",
    "LiteralValue",
    "Resources",
    "TypedInput",
    "is_serverless",
]

#: A year: a longer ``limits.timeout`` is a typo, and its deadline would overflow the local
#: target's timed wait (which once stopped its dispatcher for good).
MAX_TIMEOUT_S = 365 * 24 * 3600

#: Job types that only exist in the cloud, and the feature each one is.
CLOUD_ONLY_JOBS: dict[str, str] = {
    "spark": "Spark jobs are",
    "finetuning": "fine-tuning of foundation models is",
    "distillation": "distillation of foundation models (a fine-tuning job) is",
    "import": "data import from workspace connections is",
}

#: Azure's name for "let the service pick the machines" (``azureml:serverless``).
_SERVERLESS = "serverless"


def is_serverless(compute: str | None) -> bool:
    """``serverless`` / ``azureml:serverless``: no target of that name is needed — such a job
    (or pipeline step) runs on the server's default target, as one that names no compute."""
    return compute is not None and compute.removeprefix("azureml:") == _SERVERLESS


DATA_INPUT_TYPES = frozenset({"uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model"})
LiteralValue = bool | int | float | str

#: Accepted, kept on the spec, not acted on — and what the user is told.
IGNORED_FIELDS: dict[str, str] = {
    "services": "interactive services (VS Code, Jupyter, TensorBoard, SSH) are not started",
    "identity": "the job runs as the server's user with the server's credentials",
    "queue_settings": "jobs are queued first-in first-out per compute target",
    "resources": "instance_type, shm_size, docker_args and the rest of resources are not used",
    "properties": "kept with the job as metadata",
}


class TypedInput(StrictModel):
    """``{type, path | default, mode, optional, description}``; ``type`` defaults to
    ``uri_folder``, as in Azure ML."""

    type: Literal[
        "uri_file",
        "uri_folder",
        "mltable",
        "mlflow_model",
        "custom_model",
        "string",
        "integer",
        "number",
        "boolean",
    ] = "uri_folder"
    path: str | None = None
    mode: Literal["ro_mount", "rw_mount", "download", "direct", "eval_mount", "eval_download"] | None = None
    default: LiteralValue | None = None
    optional: bool = False
    description: str | None = None

    @model_validator(mode="after")
    def _value_fits_type(self) -> TypedInput:
        if self.type in DATA_INPUT_TYPES:
            if self.default is not None and "type" not in self.model_fields_set:
                raise ValueError(
                    "an input without 'type' is a uri_folder (as in Azure ML), which takes 'path';"
                    " for a literal 'default', give its type (string, integer, number, boolean)"
                )
            if self.default is not None:
                raise ValueError(f"a {self.type} input takes 'path', not 'default'")
            if self.path is None and not self.optional:
                raise ValueError(f"a {self.type} input needs 'path' (or 'optional: true')")
        else:
            if self.path is not None:
                raise ValueError(f"a {self.type} input takes 'default', not 'path'")
            if self.default is not None and not _fits(self.type, self.default):
                raise ValueError(f"default {self.default!r} is not a {self.type}")
        return self

    @property
    def is_given(self) -> bool:
        return self.path is not None or self.default is not None


def _fits(type_: str, value: LiteralValue) -> bool:
    if type_ == "boolean":
        return isinstance(value, bool)
    if type_ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_ == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)


def _input_tag(value: Any) -> str:
    return "typed" if isinstance(value, (dict, TypedInput)) else "literal"


JobInput = Annotated[
    Annotated[TypedInput, Tag("typed")] | Annotated[LiteralValue, Tag("literal")],
    Discriminator(_input_tag),
]


class JobOutput(StrictModel):
    """An output folder/file/model, collected after the job; ``name``/``version`` to register it."""

    type: Literal["uri_folder", "uri_file", "mlflow_model", "custom_model"] = "uri_folder"
    mode: Literal["rw_mount", "upload", "direct"] | None = None
    path: str | None = None
    name: Annotated[str | None, visible("output")] = None
    version: str | None = None
    description: str | None = None


class Limits(StrictModel):
    timeout: int | None = Field(
        default=None,
        gt=0,
        le=MAX_TIMEOUT_S,
        description="seconds (at most a year); the job is failed after it",
    )


class Resources(StrictModel):
    """Accepted for compatibility; only ``instance_count`` is checked (one process per job)."""

    instance_count: int = Field(default=1, ge=1, le=1)
    instance_type: str | None = None
    shm_size: str | None = None
    docker_args: str | None = None
    locations: list[str] | None = None
    properties: dict[str, Any] | None = None


class CommandJobSpec(SpecModel):
    """``shipyard job create -f job.yml``."""

    spec_kind: ClassVar[str] = "job"

    type: Literal["command"] = "command"
    name: Annotated[str | None, visible("job")] = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$"
    )
    display_name: Annotated[str | None, visible("display_name")] = None
    experiment_name: Annotated[str | None, visible("experiment")] = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    code: str | None = None
    inputs: dict[str, JobInput] = Field(default_factory=dict)
    outputs: dict[str, JobOutput | None] = Field(default_factory=dict)
    environment: str | InlineEnvironment | None = None
    compute: str | None = None
    environment_variables: dict[str, str] = Field(default_factory=dict)
    limits: Limits | None = None
    # A Shipyard extension: how many more times to run the command when its process is
    # lost with the server running it (its machine gone); a failing command is not retried.
    # Strict: YAML's `true` would otherwise pass as one retry.
    retries: StrictInt | None = Field(default=None, ge=0, le=10)
    resources: Resources | None = None
    distribution: None = None
    services: dict[str, dict[str, Any]] | None = None
    identity: dict[str, Any] | None = None
    queue_settings: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None
    command: str

    _scalars = field_validator("tags", "environment_variables", mode="before")(scalar_map)

    @model_validator(mode="before")
    @classmethod
    def _only_command_jobs(cls, data: Any) -> Any:
        kind = data.get("type", "command") if isinstance(data, dict) else "command"
        if kind in CLOUD_ONLY_JOBS:
            raise InvalidSpec(
                f"type '{kind}': {CLOUD_ONLY_JOBS[kind]} a cloud-only feature of Azure ML;"
                " Shipyard runs command jobs",
                field="type",
            )
        if kind != "command":
            raise InvalidSpec(
                f"type '{kind}': only command jobs are read here (sweep, pipeline and automl jobs are not)",
                field="type",
            )
        return data

    @field_validator("command", mode="before")
    @classmethod
    def _command_is_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            got = "nothing" if value is None else f"a {type(value).__name__}"
            raise ValueError(
                f"must be a string, got {got}; write a long command as a YAML block ('command: >-' or '|')"
            )
        if not value.strip():
            raise ValueError("is empty")
        return value

    @field_validator("distribution", mode="before")
    @classmethod
    def _no_distribution(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError(
                "distributed jobs (mpi, pytorch, tensorflow, ray) are not supported; "
                "remove 'distribution' to run one process"
            )
        return value

    _environment_ref = field_validator("environment", mode="before")(asset_ref_value)

    @field_validator("compute")
    @classmethod
    def _compute_ref(cls, value: str | None) -> str | None:
        # Azure's CLI takes `azureml:<name>` and a bare `<name>` alike.
        if value is None or value == "local":
            return value
        name = value.removeprefix("azureml:")
        if not name or not name[0].isalpha() or not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"'{value}' is not a compute reference; write 'local' or 'azureml:<name>'")
        return value

    @field_validator("code")
    @classmethod
    def _code_is_local(cls, value: str | None) -> str | None:
        if value is not None and ("://" in value or value.startswith("azureml:")):
            raise ValueError(f"'{value}': code must be a local folder (relative to the job file)")
        return value

    @field_validator("inputs", mode="before")
    @classmethod
    def _input_names(cls, value: Any) -> Any:
        for name, item in value.items() if isinstance(value, dict) else ():
            if not str(name).isidentifier():
                raise ValueError(f"input name '{name}' must be letters, digits and '_'")
            if item is None:
                raise ValueError(f"input '{name}' has no value (give a literal, or a mapping with 'type')")
        return value

    @model_validator(mode="after")
    def _bindings_resolve(self) -> CommandJobSpec:
        # InvalidSpec (not ValueError) passes through pydantic; the loader adds file and line.
        given = [n for n, v in self.inputs.items() if not isinstance(v, TypedInput) or v.is_given]
        check_bindings(self.command, self.inputs.keys(), self.outputs.keys(), given)
        return self

    @property
    def compute_target(self) -> str:
        """The target's name: ``local`` when none is given (or Azure's ``serverless``)."""
        if is_serverless(self.compute):
            return "local"
        return (self.compute or "local").removeprefix("azureml:")

    def notes(self) -> list[str]:
        """One line per accepted-but-ignored field present in this job."""
        out = [f"{name}: {why}" for name, why in IGNORED_FIELDS.items() if getattr(self, name) is not None]
        if is_serverless(self.compute):
            out.append(
                "compute serverless: Azure's serverless compute; the job runs on the default target (local)"
            )
        if isinstance(self.environment, InlineEnvironment) and self.environment.image:
            out.append(
                f"environment.image '{self.environment.image}' is not pulled: no container engine; "
                "the job runs in a Python environment built from the spec (or the server's interpreter)"
            )
        return out
