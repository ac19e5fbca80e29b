"""``pipeline.yml``: the Azure ML CLI v2 pipeline job — named ``jobs:`` (steps) wired together by
``${{parent.inputs.x}}``, ``${{parent.jobs.a.outputs.b}}`` and ``${{parent.outputs.o}}``.

A step is an inline command (``command``, ``code``, ``environment`` …), a command component
(``component: ./train.yml``, ``component: azureml:train:1`` / ``azureml:train@latest``, or an
inline ``component:`` mapping), or a nested pipeline (``type: pipeline``, a pipeline component),
expanded into its inner steps by :mod:`shipyard.specs.pipeline_nested`. Steps of other types
(``spark``, ``parallel``, ``automl``, ``sweep``, ``data_transfer``) are refused with the step
named and why (:data:`OTHER_STEPS`). How steps become command jobs, and the graph checks, are in
:mod:`shipyard.specs.pipeline_graph`; reading a file from disk for the client in
:mod:`shipyard.specs.pipeline_files`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, StrictInt, field_validator, model_validator

from shipyard.errors import InvalidSpec
from shipyard.specs._base import SpecModel, StrictModel, scalar_map, visible
from shipyard.specs.component import OTHER_COMPONENTS, ComponentInput, ComponentOutput, OneProcess
from shipyard.specs.environment import InlineEnvironment
from shipyard.specs.job import DATA_INPUT_TYPES, JobInput, JobOutput, Limits, LiteralValue, is_serverless
from shipyard.specs.pipeline_nested import registered
from shipyard.specs.refs import parse_asset_ref

if TYPE_CHECKING:
    from shipyard.specs.loaded import LoadedComposite

__all__ = [
    "OTHER_STEPS",
    "PipelineComponentSpec",
    "PipelineJobSpec",
    "PipelineSettings",
    "PipelineStep",
    "StepData",
    "StepOutput",
    "is_serverless",
    "load_file",
]

_SERVERLESS_NOTE = (
    "compute serverless: Azure's serverless compute; the steps run on the default target (local)"
)


#: Step types that do not run here, and why.
OTHER_STEPS: dict[str, str] = {
    **OTHER_COMPONENTS,
    "automl": "AutoML steps are not supported (an AutoML job type may come later)",
    "sweep": "sweep steps inside a pipeline are not supported; submit the sweep as its own job",
}

#: A step name as written (letters, digits, ``_``), or a step of a nested pipeline once expanded
#: (``outer-inner``, :mod:`shipyard.specs.pipeline_nested`).
_STEP_NAME = re.compile(r"^[A-Za-z_]\w*(-[A-Za-z_]\w*)*$")


class PipelineSettings(StrictModel):
    """``settings:``. Unknown keys are kept in ``ignored`` and reported, not refused: Azure's
    own examples misspell some (``default_datestore``), and Azure ignores them too."""

    default_compute: str | None = None
    continue_on_step_failure: bool = False
    force_rerun: bool = False
    default_datastore: str | None = None
    ignored: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _keep_unknown(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = {n for n in cls.model_fields if n != "ignored"}
        out = {k: v for k, v in data.items() if k in known}
        out["ignored"] = {k: v for k, v in data.items() if k not in known}
        return out


class StepData(StrictModel):
    """A step input written as a mapping: data at ``path`` (a path, a URL, an asset or a
    ``${{parent…}}`` binding), or a literal ``default``."""

    type: str | None = None
    path: str | None = None
    mode: str | None = None
    default: LiteralValue | None = None
    optional: bool = False
    description: str | None = None


class StepOutput(StrictModel):
    """A step output written as a mapping; ``path`` may bind it to ``${{parent.outputs.o}}``."""

    type: Literal["uri_folder", "uri_file", "mltable", "mlflow_model", "custom_model"] | None = None
    mode: Literal["rw_mount", "upload", "direct"] | None = None
    path: str | None = None
    name: str | None = None
    version: str | None = None
    description: str | None = None


StepInputValue = StepData | LiteralValue
StepOutputValue = StepOutput | str | None


class PipelineStep(StrictModel):
    """One entry of ``jobs:``: an inline command, or a component with its inputs bound."""

    # A `pipeline` step is expanded into its inner steps before a plan is made (pipeline_nested).
    type: Literal["command", "pipeline"] = "command"
    component: str | dict[str, Any] | None = None
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    command: str | None = None
    code: str | None = None
    environment: str | InlineEnvironment | None = None
    environment_variables: dict[str, str] = Field(default_factory=dict)
    compute: str | None = None
    inputs: dict[str, StepInputValue] = Field(default_factory=dict)
    outputs: dict[str, StepOutputValue] = Field(default_factory=dict)
    limits: Limits | None = None
    retries: StrictInt | None = Field(default=None, ge=0, le=10)
    resources: OneProcess | None = None
    distribution: dict[str, Any] | None = None
    services: dict[str, dict[str, Any]] | None = None
    identity: dict[str, Any] | None = None
    queue_settings: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None
    # A Shipyard extension for inline steps (a component says it in its own file).
    is_deterministic: bool | None = None

    _scalars = field_validator("tags", "environment_variables", mode="before")(scalar_map)

    @field_validator("component")
    @classmethod
    def _component_ref(cls, value: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if isinstance(value, str) and value.startswith("azureml:"):
            try:
                ref = parse_asset_ref(_latest(value))
            except InvalidSpec as exc:
                raise ValueError(exc.message) from None
            if value.startswith("azureml://") and "/components/" not in value:
                raise ValueError(f"'{value}' is not a component reference")
            del ref
        return value

    @model_validator(mode="after")
    def _command_or_component(self) -> PipelineStep:
        if self.component is None and self.command is None:
            raise ValueError("a step needs 'command' (an inline step) or 'component'")
        if self.component is not None:
            inline_only = [f for f in ("command", "code", "environment") if getattr(self, f) is not None]
            if inline_only:
                raise ValueError(
                    f"a component step takes its {', '.join(inline_only)} from the component; remove it here"
                )
        return self


_UNVERSIONED = re.compile(r"^azureml://registries/[^/]+/components/[^/]+/?$")


def _latest(ref: str) -> str:
    """Azure's examples name some registry components without a version: the latest one."""
    return ref.rstrip("/") + "/labels/latest" if _UNVERSIONED.match(ref) else ref


def _refuse_other_steps(jobs: Any) -> None:
    for name, step in jobs.items() if isinstance(jobs, dict) else ():
        kind = step.get("type", "command") if isinstance(step, dict) else "command"
        component = step.get("component") if isinstance(step, dict) else None
        if kind == "pipeline" and isinstance(component, str) and component.startswith("azureml:"):
            raise registered(str(name), component, f"jobs.{name}.component")
        if kind not in ("command", "pipeline"):
            why = OTHER_STEPS.get(str(kind), f"step type '{kind}' is not one Shipyard knows")
            raise InvalidSpec(
                f"step '{name}' is a {kind} step: {why}; Shipyard runs pipelines of command steps",
                field=f"jobs.{name}.type",
            )
        if not _STEP_NAME.match(str(name)):
            raise InvalidSpec(f"step name '{name}' must be letters, digits and '_'", field=f"jobs.{name}")


def _declared_only(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("type", "uri_folder") in DATA_INPUT_TYPES
        and value.get("path") is None
        and "optional" not in value
    )


class PipelineJobSpec(SpecModel):
    """``shipyard job create -f pipeline.yml``."""

    spec_kind: ClassVar[str] = "pipeline job"

    type: Literal["pipeline"] = "pipeline"
    name: Annotated[str | None, visible("job")] = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$"
    )
    display_name: Annotated[str | None, visible("display_name")] = None
    experiment_name: Annotated[str | None, visible("experiment")] = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    compute: str | None = None
    settings: PipelineSettings = Field(default_factory=PipelineSettings)
    inputs: dict[str, JobInput] = Field(default_factory=dict)
    outputs: dict[str, JobOutput | None] = Field(default_factory=dict)
    jobs: dict[str, PipelineStep] = Field(default_factory=dict)
    # A pipeline component (a file) whose steps this job runs; the client reads it into `jobs`.
    component: str | None = None
    identity: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None

    _scalars = field_validator("tags", mode="before")(scalar_map)

    @model_validator(mode="before")
    @classmethod
    def _command_steps_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            _refuse_other_steps(data.get("jobs"))
            inputs = data.get("inputs")
            if isinstance(inputs, dict) and any(_declared_only(v) for v in inputs.values()):
                # `input_data: {type: uri_folder}`: declared, given when the pipeline is
                # invoked (a batch endpoint); a step that needs it says so.
                data = {
                    **data,
                    "inputs": {
                        k: ({**v, "optional": True} if _declared_only(v) else v) for k, v in inputs.items()
                    },
                }
        return data

    @model_validator(mode="after")
    def _has_steps(self) -> PipelineJobSpec:
        if not self.jobs and self.component is None:
            raise InvalidSpec(
                "a pipeline job needs 'jobs:' (its steps) or a pipeline 'component:'", field="jobs"
            )
        if self.jobs and self.component is not None:
            raise InvalidSpec("give either 'jobs:' or a pipeline 'component:', not both", field="component")
        return self

    @property
    def default_compute(self) -> str | None:
        """The steps' compute target when a step names none; None: the default target."""
        compute = self.settings.default_compute or self.compute
        return None if is_serverless(compute) else compute

    def notes(self) -> list[str]:
        out = [f"settings.{k}: not a pipeline setting Shipyard knows; ignored" for k in self.settings.ignored]
        if self.settings.default_datastore:
            out.append("settings.default_datastore: outputs are kept as the step runs' artifacts")
        if self.identity is not None:
            out.append("identity: the steps run as the server's user with the server's credentials")
        named = [self.settings.default_compute, self.compute, *(s.compute for s in self.jobs.values())]
        if any(is_serverless(c) for c in named):
            out.append(_SERVERLESS_NOTE)
        return out


class PipelineComponentSpec(SpecModel):
    """``type: pipeline`` component: a reusable pipeline with declared inputs and outputs."""

    spec_kind: ClassVar[str] = "pipeline component"

    type: Literal["pipeline"] = "pipeline"
    name: str | None = None
    version: str | None = None
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    inputs: dict[str, ComponentInput] = Field(default_factory=dict)
    outputs: dict[str, ComponentOutput] = Field(default_factory=dict)
    jobs: dict[str, PipelineStep]

    _scalars = field_validator("tags", mode="before")(scalar_map)

    @model_validator(mode="before")
    @classmethod
    def _command_steps_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            _refuse_other_steps(data.get("jobs"))
        return data


def load_file(path: Path, overrides: Sequence[str] = ()) -> LoadedComposite:
    """``shipyard job create -f pipeline.yml``: the file, its components, code and data read."""
    from shipyard.specs.pipeline_files import load_pipeline

    return load_pipeline(path, overrides)
