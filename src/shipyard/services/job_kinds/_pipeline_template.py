"""A pipeline job file checked on the server and turned into what its parent keeps: one
command job template per step, and the graph.

The file arrives with its local components already inside it (the client read them), nested
pipelines expanded here into their inner steps (``<step>-<inner>``) exactly as the client did;
``azureml:`` components are looked up among the registered ones. Every missing resource
(component, compute, environment, data) is reported at once, each with its field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from shipyard.domain.context import RequestContext
from shipyard.errors import InvalidArgument, InvalidSpec, NotFound
from shipyard.services.components import ComponentService, environment_values
from shipyard.services.job_kinds.base import JobRequest
from shipyard.services.job_specs import InlineEnvironmentValues, submission_from_spec
from shipyard.services.jobs import JobService, JobSubmission, ResourceProblem, missing_resources
from shipyard.specs import validate_spec
from shipyard.specs.component import CommandComponentSpec
from shipyard.specs.job import CommandJobSpec
from shipyard.specs.pipeline import PipelineJobSpec
from shipyard.specs.pipeline_graph import PipelinePlan, StepPlan, plan
from shipyard.specs.pipeline_nested import flatten
from shipyard.specs.refs import parse_asset_ref

__all__ = ["PipelineTemplate", "StepTemplate", "build_template"]

# Where an upstream output goes in a step's template until that step has run.
_PENDING_RUN = "upstream-step"


@dataclass(frozen=True)
class StepTemplate:
    submission: JobSubmission
    upstream: dict[str, tuple[str, str]] = field(default_factory=dict)
    upstream_types: dict[str, str] = field(default_factory=dict)
    deterministic: bool = True
    component: str | None = None

    @property
    def after(self) -> frozenset[str]:
        return frozenset(step for step, _ in self.upstream.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "template": self.submission.to_json(),
            "upstream": {k: list(v) for k, v in self.upstream.items()},
            "upstream_types": dict(self.upstream_types),
            "deterministic": self.deterministic,
            "component": self.component,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepTemplate:
        return cls(
            submission=JobSubmission.from_json(data["template"]),
            upstream={k: (v[0], v[1]) for k, v in (data.get("upstream") or {}).items()},
            upstream_types=dict(data.get("upstream_types") or {}),
            deterministic=bool(data.get("deterministic", True)),
            component=data.get("component"),
        )


@dataclass(frozen=True)
class PipelineTemplate:
    """What a pipeline's parent job keeps in its spec (``to_json``): steps in a runnable order."""

    steps: dict[str, StepTemplate]
    outputs: dict[str, tuple[str, str]]
    continue_on_step_failure: bool = False
    force_rerun: bool = False
    file: Mapping[str, Any] = field(default_factory=dict)
    spec: PipelineJobSpec | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "file": dict(self.file),
            "steps": {name: step.to_json() for name, step in self.steps.items()},
            "order": list(self.steps),
            "outputs": {k: list(v) for k, v in self.outputs.items()},
            "settings": {
                "continue_on_step_failure": self.continue_on_step_failure,
                "force_rerun": self.force_rerun,
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PipelineTemplate:
        steps = data.get("steps") or {}
        order = data.get("order") or list(steps)
        settings = data.get("settings") or {}
        return cls(
            steps={name: StepTemplate.from_json(steps[name]) for name in order},
            outputs={k: (v[0], v[1]) for k, v in (data.get("outputs") or {}).items()},
            continue_on_step_failure=bool(settings.get("continue_on_step_failure")),
            force_rerun=bool(settings.get("force_rerun")),
            file=data.get("file") or {},
        )


def build_template(ctx: RequestContext, request: JobRequest, jobs: JobService) -> PipelineTemplate:
    """Check the file and everything it names; the templates of its steps."""
    source = request.source
    # Nested pipelines (their components inside the file, put there by the client) are
    # expanded into their inner steps; the parent keeps the file as written.
    flat = flatten(request.spec)
    spec = validate_spec(flat.raw, PipelineJobSpec, source)
    if spec.component is not None:
        raise InvalidSpec(
            f"{source}: a pipeline job that runs a pipeline component is read by the client;"
            " submit it with `shipyard job create -f`",
            field="component",
        )
    components, problems = _registered(ctx, spec, jobs)
    if problems:
        raise missing_resources(problems, ctx.workspace)
    specs = {step: parsed for step, (parsed, _) in components.items()}
    graph = plan(spec, flat.raw, lambda step, _ref: specs.get(step))
    steps: dict[str, StepTemplate] = {}
    for name, step in graph.steps.items():
        steps[name] = _step(source, name, step, request, components.get(name))
    _check_resources(ctx, jobs, steps)
    return PipelineTemplate(
        steps=steps,
        outputs=dict(graph.outputs),
        continue_on_step_failure=spec.settings.continue_on_step_failure,
        force_rerun=spec.settings.force_rerun,
        file=dict(request.spec),
        spec=spec,
    )


def _registered(
    ctx: RequestContext, spec: PipelineJobSpec, jobs: JobService
) -> tuple[dict[str, tuple[CommandComponentSpec, Any]], list[ResourceProblem]]:
    """The ``azureml:`` components the steps name, by step; every missing one as a problem."""
    service = ComponentService(jobs.db)
    found: dict[str, tuple[CommandComponentSpec, Any]] = {}
    problems: list[ResourceProblem] = []
    for name, step in spec.jobs.items():
        if not isinstance(step.component, str) or not step.component.startswith("azureml:"):
            continue
        field_ = f"jobs.{name}.component"
        try:
            component = service.resolve(ctx, parse_asset_ref(_latest(step.component), field=field_))
        except (NotFound, InvalidArgument) as exc:
            problems.append(ResourceProblem(field_, exc))
            continue
        parsed = validate_spec(
            component.spec, CommandComponentSpec, f"component {component.name}:{component.version}"
        )
        found[name] = (parsed, component)
    return found, problems


def _latest(ref: str) -> str:
    from shipyard.specs.pipeline import _latest as latest

    return latest(ref)


def _step(
    source: str,
    name: str,
    step: StepPlan,
    request: JobRequest,
    registered: tuple[CommandComponentSpec, Any] | None,
) -> StepTemplate:
    """The command job a step becomes; its upstream inputs stand in as a pending run."""
    mapping = dict(step.command)
    inputs = dict(mapping.get("inputs") or {})
    upstream_types: dict[str, str] = {}
    for input_name in step.upstream:
        item = dict(inputs[input_name])
        upstream_types[input_name] = str(item.get("type") or "uri_folder")
        inputs[input_name] = {**item, "path": f"runs:/{_PENDING_RUN}/{input_name}"}
    mapping["inputs"] = inputs
    where = f"{source} step '{name}'"
    spec = validate_spec(mapping, CommandJobSpec, where)
    part = request.steps.get(name) or {}
    snapshots = dict(part.get("input_snapshots") or {})
    for input_name, parent_input in step.parent_inputs.items():
        if input_name not in snapshots and parent_input in request.input_snapshots:
            snapshots[input_name] = request.input_snapshots[parent_input]
    code = part.get("code_snapshot")
    environment: InlineEnvironmentValues | None = part.get("environment")
    if registered is not None:
        code = code or registered[1].code_digest
        environment = environment or environment_values(registered[1])
    try:
        sub = submission_from_spec(
            spec, source=where, code_snapshot=code, input_snapshots=snapshots, environment=environment,
            git=request.git, raw=mapping, uploads_pending=request.uploads_pending,
        )  # fmt: skip
    except InvalidSpec as exc:
        inner = exc.details.get("field")
        raise InvalidSpec(exc.message, field=f"jobs.{name}" + (f".{inner}" if inner else "")) from None
    sub = replace(
        sub,
        inputs={k: v for k, v in sub.inputs.items() if k not in step.upstream},
        display_name=spec.display_name or name,
    )
    return StepTemplate(sub, dict(step.upstream), upstream_types, step.deterministic, step.component)


def _check_resources(ctx: RequestContext, jobs: JobService, steps: Mapping[str, StepTemplate]) -> None:
    """Every step's compute, environment and data, all problems at once (fields per step)."""
    problems: list[ResourceProblem] = []
    for name, step in steps.items():
        try:
            jobs.check(ctx, step.submission)
        except (NotFound, InvalidArgument) as exc:
            inner = exc.details.get("problems")
            if isinstance(inner, list) and inner:
                for p in inner:
                    problems.append(
                        ResourceProblem(
                            f"jobs.{name}.{p.get('field')}", type(exc)(f"step '{name}': {p.get('message')}")
                        )
                    )
            else:
                problems.append(ResourceProblem(f"jobs.{name}", exc))
    if problems:
        raise missing_resources(problems, ctx.workspace)


def plan_of(spec: PipelineJobSpec, raw: Mapping[str, Any]) -> PipelinePlan:
    """The graph of a file whose components are all inside it (for tests and tools)."""
    return plan(spec, raw, lambda _step, _ref: None)
