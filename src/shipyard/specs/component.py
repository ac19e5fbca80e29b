"""``component.yml``: an Azure ML CLI v2 *command component* — a command with typed inputs and
outputs, written once and used as a step of many pipelines (``component: ./train.yml`` or,
once registered with ``shipyard component create -f``, ``component: azureml:train:1``).

Only ``type: command`` components run. ``type: pipeline`` components are read by
:mod:`shipyard.specs.pipeline` (a pipeline job may name one as its ``component:``); Spark,
parallel and the other component types are refused with the reason (:data:`OTHER_COMPONENTS`).
docs/components.md is the reference.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from shipyard.errors import InvalidSpec
from shipyard.specs._base import SpecModel, StrictModel, scalar_map
from shipyard.specs.bindings import check_bindings
from shipyard.specs.environment import InlineEnvironment
from shipyard.specs.job import DATA_INPUT_TYPES, Limits, LiteralValue, Resources
from shipyard.specs.refs import asset_ref_value

__all__ = [
    "OTHER_COMPONENTS",
    "CommandComponentSpec",
    "ComponentInput",
    "ComponentOutput",
    "OneProcess",
    "component_type",
]

#: Component types that do not run here, and why (the step or file that has one is refused).
OTHER_COMPONENTS: dict[str, str] = {
    "spark": "Spark components need Spark, a cloud-only feature of Azure ML",
    "parallel": "parallel components (mini-batches spread over a cluster) are not supported",
    "data_transfer": "data transfer components need Azure ML datastores, a cloud-only feature",
    "import": "data import components need Azure ML workspace connections, a cloud-only feature",
    "flow": "prompt flow components are not supported",
}

_LITERAL_TYPES = frozenset({"string", "integer", "number", "boolean"})


class ComponentInput(StrictModel):
    """A declared input: its type, default, bounds. ``path`` is Azure's old word for
    ``uri_folder``."""

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
        "path",
    ]
    default: LiteralValue | None = None
    optional: bool = False
    min: float | None = None
    max: float | None = None
    enum: list[LiteralValue] | None = None
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _numeric_text(cls, data: Any) -> Any:
        # YAML 1.1 reads `1e-3` (no dot) as text; Azure takes it as the number it means.
        if isinstance(data, dict) and data.get("type") in ("number", "integer"):
            out = dict(data)
            for key in ("default", "min", "max"):
                if isinstance(out.get(key), str):
                    with contextlib.suppress(ValueError):
                        out[key] = float(out[key]) if data["type"] == "number" else int(out[key])
            return out
        return data

    @field_validator("type")
    @classmethod
    def _path_is_a_folder(cls, value: str) -> str:
        return "uri_folder" if value == "path" else value

    @model_validator(mode="after")
    def _default_fits(self) -> ComponentInput:
        if self.type in DATA_INPUT_TYPES:
            if self.default is not None:
                raise ValueError(f"a {self.type} input has no 'default'; the pipeline binds its data")
            if self.min is not None or self.max is not None or self.enum is not None:
                raise ValueError(f"a {self.type} input takes no min, max or enum")
            return self
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        if (self.min is not None or self.max is not None) and self.type not in ("integer", "number"):
            raise ValueError(f"min and max apply to integer and number inputs, not {self.type}")
        if self.default is not None:
            problem = self.problem(self.default)
            if problem:
                raise ValueError(f"default {problem}")
        return self

    @property
    def is_data(self) -> bool:
        return self.type in DATA_INPUT_TYPES

    def problem(self, value: LiteralValue) -> str | None:
        """Why ``value`` does not fit this input (None when it does)."""
        if not _fits(self.type, value):
            return f"{value!r} is not a {self.type}"
        if self.enum is not None and value not in self.enum and str(value) not in map(str, self.enum):
            return f"{value!r} is not one of {', '.join(map(str, self.enum))}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if self.min is not None and value < self.min:
                return f"{value!r} is below the minimum {self.min:g}"
            if self.max is not None and value > self.max:
                return f"{value!r} is above the maximum {self.max:g}"
        return None


def _fits(type_: str, value: LiteralValue) -> bool:
    if type_ == "boolean":
        return isinstance(value, bool)
    if type_ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_ == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    # Azure casts any scalar to a string input (`enum: ["1", "2"]` and `default: 1` alike).
    return type_ == "string"


class ComponentOutput(StrictModel):
    type: Literal["uri_folder", "uri_file", "mltable", "mlflow_model", "custom_model", "path"] = "uri_folder"
    mode: Literal["rw_mount", "upload", "direct"] | None = None
    description: str | None = None

    @field_validator("type")
    @classmethod
    def _path_is_a_folder(cls, value: str) -> str:
        return "uri_folder" if value == "path" else value


class OneProcess(Resources):
    """``resources:`` of a component or step: accepted, but one process runs it."""

    instance_count: int = 1  # the message below rather than the parent's bare "≤ 1"

    @field_validator("instance_count")
    @classmethod
    def _one(cls, value: int) -> int:
        if value != 1:
            raise ValueError(
                f"{value} instances: a step runs as one process (distributed steps are not supported);"
                " remove instance_count"
            )
        return value


class CommandComponentSpec(SpecModel):
    """``type: command`` component: ``shipyard component create -f`` or a pipeline step's
    ``component: ./file.yml``."""

    spec_kind: ClassVar[str] = "component"

    type: Literal["command"] = "command"
    # Optional in a pipeline's inline `component:`; `shipyard component create` requires it.
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
    version: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    is_deterministic: bool = True
    inputs: dict[str, ComponentInput] = Field(default_factory=dict)
    outputs: dict[str, ComponentOutput] = Field(default_factory=dict)
    code: str | None = None
    environment: str | InlineEnvironment | None = None
    environment_variables: dict[str, str] = Field(default_factory=dict)
    command: str
    resources: OneProcess | None = None
    limits: Limits | None = None
    distribution: None = None
    additional_includes: list[str] | None = None
    properties: dict[str, Any] | None = None

    _scalars = field_validator("tags", "environment_variables", mode="before")(scalar_map)

    @model_validator(mode="before")
    @classmethod
    def _only_command(cls, data: Any) -> Any:
        kind = component_type(data)
        if kind == "pipeline":
            raise InvalidSpec(
                "type 'pipeline': a pipeline component is not registered on its own; name its file"
                " as the 'component:' of a pipeline job",
                field="type",
            )
        if kind in OTHER_COMPONENTS:
            raise InvalidSpec(
                f"type '{kind}': {OTHER_COMPONENTS[kind]}; Shipyard runs command components", field="type"
            )
        return data

    @field_validator("command", mode="before")
    @classmethod
    def _command_is_text(cls, value: Any) -> Any:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(
                "must be a non-empty string (write a long command as a YAML block: 'command: >-')"
            )
        return value

    @field_validator("distribution", mode="before")
    @classmethod
    def _no_distribution(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError(
                "distributed components (mpi, pytorch, tensorflow, ray) are not supported; "
                "remove 'distribution' to run one process"
            )
        return value

    _environment_ref = field_validator("environment", mode="before")(asset_ref_value)

    @field_validator("code")
    @classmethod
    def _code_is_local(cls, value: str | None) -> str | None:
        if value is not None and ("://" in value or value.startswith("azureml:")):
            raise ValueError(f"'{value}': code must be a local folder (relative to the component file)")
        return value

    @field_validator("inputs", "outputs", mode="before")
    @classmethod
    def _port_names(cls, value: Any) -> Any:
        for name in value if isinstance(value, dict) else ():
            if not str(name).isidentifier():
                raise ValueError(f"name '{name}' must be letters, digits and '_'")
        return value

    @model_validator(mode="after")
    def _bindings_resolve(self) -> CommandComponentSpec:
        # A required input is "given" by whichever pipeline uses the component; an optional
        # one may be missing, so its binding must sit inside an optional block $[[ … ]].
        given = [n for n, i in self.inputs.items() if not i.optional or i.default is not None]
        check_bindings(self.command, self.inputs.keys(), self.outputs.keys(), given)
        return self

    def notes(self) -> list[str]:
        """Accepted fields Shipyard does not act on."""
        out: list[str] = []
        if self.resources is not None:
            out.append("resources: instance_type, shm_size and the rest are not used")
        if self.additional_includes:
            out.append("additional_includes: not copied; put those files in the code folder")
        return out


def component_type(data: Any) -> str:
    """A component mapping's ``type`` (``command`` when absent)."""
    return str(data.get("type") or "command") if isinstance(data, dict) else "command"
