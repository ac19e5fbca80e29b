"""Pipelines in Python: decorated functions that build the same pipeline job file as YAML.

::

    from shipyard.dsl import Input, Output, command_component, pipeline

    prep = command_component(
        name="prep", code="src", command="python prep.py ${{inputs.raw}} ${{outputs.clean}}",
        inputs={"raw": Input("uri_folder")}, outputs={"clean": Output()},
    )
    train = command_component(
        name="train", code="src",
        command="python train.py ${{inputs.data}} ${{inputs.lr}} ${{outputs.model}}",
        inputs={"data": Input("uri_folder"), "lr": Input("number", default=0.1)},
        outputs={"model": Output()},
    )

    @pipeline(display_name="prep-train", default_compute="local")
    def flow(raw, lr=0.5):
        cleaned = prep(raw=raw)
        trained = train(data=cleaned.outputs.clean, lr=lr)
        return {"model": trained.outputs.model}

    job = flow(raw=Input("uri_folder", path="data"))   # a PipelineJob
    job.write("pipeline.yml")                          # then: shipyard job create -f pipeline.yml
    client.jobs.create(job.write("pipeline.yml"))      # or submit it from Python

Nothing runs while the function is called: a component call records a step, and its
``outputs.<name>`` is the binding ``${{parent.jobs.<step>.outputs.<name>}}``. The mapping is
the one docs/pipeline-jobs.md describes (components are written inline), so everything the
YAML gets — the checks with their line, reuse, ``job show`` — the Python way gets too.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Component", "Input", "Output", "PipelineJob", "Step", "command_component", "pipeline"]

Literal = bool | int | float | str


@dataclass(frozen=True)
class Input:
    """A typed input: of a component (``default``, ``optional``, bounds), or data given to a
    pipeline (``path``: a local path relative to the written file, a URL, ``azureml:…``)."""

    type: str = "uri_folder"
    path: str | None = None
    default: Literal | None = None
    optional: bool = False
    min: float | None = None
    max: float | None = None
    enum: list[Literal] | None = None
    mode: str | None = None

    def to_dict(self) -> dict[str, Any]:
        keys = ("type", "path", "default", "min", "max", "enum", "mode")
        out = {k: getattr(self, k) for k in keys if getattr(self, k) is not None}
        if self.optional:
            out["optional"] = True
        return out


@dataclass(frozen=True)
class Output:
    type: str = "uri_folder"
    mode: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type} | ({"mode": self.mode} if self.mode else {})


@dataclass(frozen=True)
class _Binding:
    """What a pipeline function holds in place of a value: ``${{parent.…}}``."""

    text: str


class _Outputs:
    def __init__(self, step: str, names: list[str]) -> None:
        self._step, self._names = step, names

    def __getattr__(self, name: str) -> _Binding:
        if name.startswith("_") or name not in self._names:
            raise AttributeError(
                f"step {self._step!r} has no output {name!r} (outputs: {', '.join(self._names)})"
            )
        return _Binding(f"${{{{parent.jobs.{self._step}.outputs.{name}}}}}")


@dataclass
class Step:
    """A component called in a pipeline function."""

    name: str
    component: Component
    inputs: dict[str, Any]
    overrides: dict[str, Any] = field(default_factory=dict)
    outputs_bound: dict[str, str] = field(default_factory=dict)

    @property
    def outputs(self) -> _Outputs:
        return _Outputs(self.name, list(self.component.outputs))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "command", "component": self.component.to_dict(), **self.overrides}
        if self.inputs:
            out["inputs"] = {k: _value(v) for k, v in self.inputs.items()}
        if self.outputs_bound:
            out["outputs"] = {k: f"${{{{parent.outputs.{v}}}}}" for k, v in self.outputs_bound.items()}
        return out


_building: list[list[Step]] = []  # the steps of the pipeline function being called, innermost last


@dataclass(frozen=True)
class Component:
    """A command component; calling it inside a ``@pipeline`` function adds a step."""

    name: str
    command: str
    inputs: Mapping[str, Input] = field(default_factory=dict)
    outputs: Mapping[str, Output] = field(default_factory=dict)
    code: str | None = None
    environment: str | Mapping[str, Any] | None = None
    version: str | None = None
    is_deterministic: bool = True
    environment_variables: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, _name: str | None = None, _compute: str | None = None, **inputs: Any) -> Step:
        if not _building:
            raise RuntimeError(f"component {self.name!r} is called outside a @pipeline function")
        unknown = sorted(set(inputs) - set(self.inputs))
        if unknown:
            raise TypeError(
                f"component {self.name!r} has no input {unknown[0]!r} (inputs: {', '.join(self.inputs)})"
            )
        steps = _building[-1]
        taken = {s.name for s in steps}
        name = _name or self.name.replace("-", "_").replace(".", "_")
        if name in taken:
            name = next(f"{name}_{n}" for n in range(2, len(steps) + 3) if f"{name}_{n}" not in taken)
        step = Step(name, self, dict(inputs), {"compute": _compute} if _compute else {})
        steps.append(step)
        return step

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "command", "name": self.name}
        if self.version:
            out["version"] = self.version
        if not self.is_deterministic:
            out["is_deterministic"] = False
        if self.inputs:
            out["inputs"] = {k: v.to_dict() for k, v in self.inputs.items()}
        if self.outputs:
            out["outputs"] = {k: v.to_dict() for k, v in self.outputs.items()}
        if self.code is not None:
            out["code"] = self.code
        if self.environment is not None:
            out["environment"] = (
                self.environment if isinstance(self.environment, str) else dict(self.environment)
            )
        if self.environment_variables:
            out["environment_variables"] = dict(self.environment_variables)
        out["command"] = self.command
        return out


def command_component(
    *, name: str, command: str, inputs: Mapping[str, Input] | None = None,
    outputs: Mapping[str, Output] | None = None, code: str | None = None,
    environment: str | Mapping[str, Any] | None = None, version: str | None = None,
    is_deterministic: bool = True, environment_variables: Mapping[str, str] | None = None,
) -> Component:  # fmt: skip
    """A command component, as its YAML file would declare it."""
    return Component(
        name, command, dict(inputs or {}), dict(outputs or {}), code, environment, version,
        is_deterministic, dict(environment_variables or {}),
    )  # fmt: skip


@dataclass
class PipelineJob:
    """The pipeline job file a ``@pipeline`` function built."""

    spec: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.spec

    def to_yaml(self) -> str:
        import yaml

        return str(yaml.safe_dump(self.spec, sort_keys=False, width=1000))

    def write(self, path: str | Path) -> Path:
        """Write the file (local ``code`` and data paths are relative to its folder); its path."""
        target = Path(path)
        target.write_text(self.to_yaml(), encoding="utf-8")
        return target


def pipeline(
    *, display_name: str | None = None, experiment_name: str | None = None,
    default_compute: str | None = None, continue_on_step_failure: bool = False,
    force_rerun: bool = False, description: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., PipelineJob]]:  # fmt: skip
    """Make a function of the pipeline's inputs into a builder of its job file. The function
    calls components (steps) and may return ``{output name: step.outputs.x}``."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., PipelineJob]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def build(*args: Any, **kwargs: Any) -> PipelineJob:
            given = signature.bind(*args, **kwargs)
            given.apply_defaults()
            missing = [n for n, v in given.arguments.items() if v is inspect.Parameter.empty]
            if missing:
                raise TypeError(f"pipeline {fn.__name__!r} needs a value for {missing[0]!r}")
            _building.append([])
            try:
                returned = fn(**{n: _Binding(f"${{{{parent.inputs.{n}}}}}") for n in given.arguments})
                steps = _building[-1]
            finally:
                _building.pop()
            return PipelineJob(_spec(fn.__name__, given.arguments, steps, returned or {}, settings))

        return build

    settings = {
        "display_name": display_name, "experiment_name": experiment_name, "description": description,
        "default_compute": default_compute, "continue_on_step_failure": continue_on_step_failure,
        "force_rerun": force_rerun,
    }  # fmt: skip
    return decorate


def _spec(
    name: str,
    inputs: Mapping[str, Any],
    steps: list[Step],
    returned: Mapping[str, Any],
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    by_binding = {
        f"${{{{parent.jobs.{s.name}.outputs.{o}}}}}": (s, o) for s in steps for o in s.component.outputs
    }
    outputs: dict[str, Any] = {}
    for out_name, value in returned.items():
        if not isinstance(value, _Binding) or value.text not in by_binding:
            raise TypeError(f"pipeline output {out_name!r} must be a step's output (step.outputs.<name>)")
        step, output = by_binding[value.text]
        step.outputs_bound[output] = out_name
        outputs[out_name] = step.component.outputs[output].to_dict()
    spec: dict[str, Any] = {"type": "pipeline", "display_name": settings["display_name"] or name}
    for key in ("experiment_name", "description"):
        if settings[key]:
            spec[key] = settings[key]
    if inputs:
        spec["inputs"] = {k: v.to_dict() if isinstance(v, Input) else v for k, v in inputs.items()}
    if outputs:
        spec["outputs"] = outputs
    flags = {
        k: settings[k] for k in ("default_compute", "continue_on_step_failure", "force_rerun") if settings[k]
    }
    if flags:
        spec["settings"] = flags
    spec["jobs"] = {s.name: s.to_dict() for s in steps}
    return spec


def _value(value: Any) -> Any:
    if isinstance(value, _Binding):
        return value.text
    if isinstance(value, Input):
        return value.to_dict()
    if isinstance(value, Step):
        raise TypeError(f"pass one of step {value.name!r}'s outputs (step.outputs.<name>), not the step")
    return value
