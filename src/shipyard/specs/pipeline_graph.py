"""From a pipeline job to its steps as command jobs, in an order that respects their bindings.

:func:`plan` resolves every step's inputs (a literal, the pipeline's own input, data at a
path, or an upstream step's output), checks the bindings (unknown steps, outputs and inputs,
cycles — each an :class:`InvalidSpec` whose ``field`` names the step, so the loader points at
its line) and gives each step a *command job mapping* (:class:`CommandJobSpec`'s shape).

An input bound to an upstream output is written in that mapping as Azure's own reference,
``azureml://jobs/<step>/outputs/<output>`` (:data:`UPSTREAM_PREFIX`); the orchestrator replaces
it with the upstream step's run once that step has completed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidSpec
from shipyard.specs.component import CommandComponentSpec, ComponentInput
from shipyard.specs.job import DATA_INPUT_TYPES
from shipyard.specs.pipeline import PipelineJobSpec, PipelineStep, StepData, StepOutput, is_serverless
from shipyard.specs.refs import LocalPathRef, parse_ref

__all__ = ["UPSTREAM_PREFIX", "ComponentLookup", "PipelinePlan", "StepPlan", "plan", "upstream_ref"]

UPSTREAM_PREFIX = "azureml://jobs/"
_BINDING = re.compile(r"^\$\{\{\s*parent\.(?P<expr>[^}]*?)\s*\}\}$")
_PARENT_INPUT = re.compile(r"^inputs\.(?P<name>\w+)$")
_PARENT_OUTPUT = re.compile(r"^outputs\.(?P<name>\w+)$")
_UPSTREAM = re.compile(r"^jobs\.(?P<step>[\w-]+)\.outputs\.(?P<output>\w+)$")

#: Resolves a step's ``component:`` (the step's name, the reference) to the component; None
#: when it cannot be known here (an ``azureml:`` reference read by the client).
ComponentLookup = Callable[[str, str], CommandComponentSpec | None]


@dataclass(frozen=True)
class StepPlan:
    """One step as a command job. ``upstream``: input → (step, output) it waits for;
    ``parent_inputs``: input → the pipeline input it takes its data from."""

    name: str
    command: dict[str, Any]
    upstream: dict[str, tuple[str, str]] = field(default_factory=dict)
    parent_inputs: dict[str, str] = field(default_factory=dict)
    deterministic: bool = True
    component: str | None = None

    @property
    def after(self) -> frozenset[str]:
        return frozenset(step for step, _ in self.upstream.values())


@dataclass(frozen=True)
class PipelinePlan:
    """The steps in an order where each comes after those it reads from."""

    steps: dict[str, StepPlan]
    outputs: dict[str, tuple[str, str]]  # pipeline output → (step, output)


def upstream_ref(step: str, output: str) -> str:
    return f"{UPSTREAM_PREFIX}{step}/outputs/{output}"


def plan(
    spec: PipelineJobSpec,
    raw: Mapping[str, Any],
    components: ComponentLookup,
    base: Path | None = None,
) -> PipelinePlan:
    """Every step as a command job mapping, checked. ``raw`` is the file's mapping (the steps'
    fields are copied as written); ``base``: make local data paths absolute against it (the
    client, which uploads them), else keep them as written (the server, which gets snapshots)."""
    resolved = {
        name: _component(name, step, raw["jobs"][name], components) for name, step in spec.jobs.items()
    }
    outputs_of = {name: _output_types(spec, step, resolved[name]) for name, step in spec.jobs.items()}
    steps: dict[str, StepPlan] = {}
    bound_outputs: dict[str, tuple[str, str]] = {}
    for name, step in spec.jobs.items():
        builder = _StepBuilder(spec, name, step, resolved[name], outputs_of, base)
        steps[name] = builder.build(raw["jobs"][name])
        for output, parent_output in builder.parent_outputs.items():
            bound_outputs[parent_output] = (name, output)
    for name, step_plan in steps.items():
        _check_command(name, step_plan.command)
    return PipelinePlan(steps={n: steps[n] for n in _order(steps)}, outputs=bound_outputs)


def _component(
    name: str, step: PipelineStep, raw_step: Mapping[str, Any], components: ComponentLookup
) -> CommandComponentSpec | None:
    if step.type == "pipeline":  # the loaders expand nested pipelines first (pipeline_nested)
        raise InvalidSpec(f"step '{name}': a nested pipeline step was not expanded", field=f"jobs.{name}")
    if step.component is None:
        return None
    if isinstance(step.component, dict):
        from shipyard.specs._yaml import validate_spec

        try:
            return validate_spec(raw_step["component"], CommandComponentSpec, f"step '{name}' component")
        except InvalidSpec as exc:
            inner = exc.details.get("field")
            where = f"jobs.{name}.component" + (f".{inner}" if inner else "")
            raise InvalidSpec(f"step '{name}': {exc.message}", field=where) from None
    return components(name, step.component)


def _output_types(
    spec: PipelineJobSpec, step: PipelineStep, component: CommandComponentSpec | None
) -> dict[str, str] | None:
    """The outputs a step has, by type; None when its component is not known here. An inline
    step's output without a type of its own bound to a pipeline output has that one's."""
    if step.component is not None:
        if component is None:
            return None
        return {n: o.type for n, o in component.outputs.items()}
    out: dict[str, str] = {}
    for n, value in step.outputs.items():
        path = value.path if isinstance(value, StepOutput) else value
        m = _BINDING.match(path.strip()) if isinstance(path, str) else None
        bound = _PARENT_OUTPUT.match(m["expr"]) if m else None
        inherited = _pipeline_output_type(spec, bound["name"]) if bound else None
        out[n] = (value.type if isinstance(value, StepOutput) else None) or inherited or "uri_folder"
    return out


class _StepBuilder:
    def __init__(
        self,
        spec: PipelineJobSpec,
        name: str,
        step: PipelineStep,
        component: CommandComponentSpec | None,
        outputs_of: Mapping[str, dict[str, str] | None],
        base: Path | None,
    ) -> None:
        self.spec, self.name, self.step, self.component = spec, name, step, component
        self.outputs_of, self.base = outputs_of, base
        self.upstream: dict[str, tuple[str, str]] = {}
        self.parent_inputs: dict[str, str] = {}
        self.parent_outputs: dict[str, str] = {}

    def fail(self, message: str, where: str) -> InvalidSpec:
        return InvalidSpec(f"step '{self.name}': {message}", field=f"jobs.{self.name}.{where}")

    def build(self, raw_step: Mapping[str, Any]) -> StepPlan:
        command = self._own_fields(raw_step)
        if self.component is not None or self.step.component is not None:
            command.update(self._component_fields())
            inputs = self._component_inputs()
        else:
            inputs = {
                n: v
                for n, v in ((n, self._input(n, v, None)) for n, v in self.step.inputs.items())
                if v is not None
            }
        command["inputs"] = inputs
        command["outputs"] = self._outputs()
        compute = self._setting(self.step.compute, "compute") or self.spec.default_compute
        if compute is not None and not is_serverless(compute):
            command["compute"] = compute
        deterministic = self.step.is_deterministic
        if deterministic is None:
            deterministic = self.component.is_deterministic if self.component is not None else True
        ref = self.step.component if isinstance(self.step.component, str) else None
        return StepPlan(self.name, command, self.upstream, self.parent_inputs, deterministic, ref)

    def _own_fields(self, raw_step: Mapping[str, Any]) -> dict[str, Any]:
        keep = (
            "display_name", "description", "tags", "command", "code", "environment",
            "environment_variables", "limits", "retries", "resources", "distribution", "services",
            "identity", "queue_settings", "properties",
        )  # fmt: skip
        out = {k: raw_step[k] for k in keep if raw_step.get(k) is not None}
        out["experiment_name"] = self.spec.experiment_name
        return {k: v for k, v in out.items() if v is not None}

    def _setting(self, value: str | None, where: str) -> str | None:
        """A step setting written as ``${{parent.inputs.x}}`` takes that input's value."""
        target = self._binding(value, where) if value is not None else None
        if target is None:
            return value
        given = self.spec.inputs.get(target[1]) if target[0] == "input" else None
        from shipyard.specs.job import TypedInput

        literal = given.default if isinstance(given, TypedInput) else given
        if literal is None:
            raise self.fail(f"'{value}' must name a pipeline input that has a value", where)
        return str(literal)

    def _component_fields(self) -> dict[str, Any]:
        if self.component is None:
            # An azureml: component the client cannot read: only the step's own data is
            # uploaded; the server fills in the rest from the registered component.
            return {"command": f"echo component {self.step.component}"}
        c = self.component
        out: dict[str, Any] = {"command": c.command}
        if c.code is not None:
            out["code"] = c.code
        if c.environment is not None:
            out["environment"] = (
                c.environment
                if isinstance(c.environment, str)
                else c.environment.model_dump(exclude_none=True)
            )
        env = {**c.environment_variables, **self.step.environment_variables}
        if env:
            out["environment_variables"] = env
        if self.step.limits is None and c.limits is not None:
            out["limits"] = c.limits.model_dump(exclude_none=True)
        return out

    def _component_inputs(self) -> dict[str, Any]:
        c = self.component
        if c is None:
            return {
                n: v
                for n, v in ((n, self._input(n, v, None)) for n, v in self.step.inputs.items())
                if v is not None and isinstance(v, dict)
            }
        for n in self.step.inputs:
            if n not in c.inputs:
                names = ", ".join(c.inputs) or "none"
                raise self.fail(f"the component has no input '{n}' (inputs: {names})", f"inputs.{n}")
        out: dict[str, Any] = {}
        for n, declared in c.inputs.items():
            value = self._input(n, self.step.inputs[n], declared) if n in self.step.inputs else None
            if value is None:
                value = _default(declared)
            if value is None and not declared.optional:
                raise self.fail(
                    f"input '{n}' of the component is required; bind it under 'inputs:'"
                    " (a value, data, ${{parent.inputs.…}} or ${{parent.jobs.<step>.outputs.…}})",
                    "inputs",
                )
            if value is not None:
                out[n] = value
        return out

    def _input(self, n: str, value: Any, declared: ComponentInput | None) -> Any:
        """The step input ``n`` as a command job input; None: not given."""
        where = f"inputs.{n}"
        if isinstance(value, StepData):
            type_ = value.type or (declared.type if declared else None)
            if value.path is None:
                if value.default is None:
                    return None
                return self._literal(n, value.default, declared, where)
            target = self._binding(value.path, where)
            if target is None:
                return self._data(n, type_ or "uri_folder", value.path, value.mode, where)
            return self._bound(n, target, type_, value.mode, declared, where)
        if isinstance(value, str):
            target = self._binding(value, where)
            if target is not None:
                return self._bound(n, target, declared.type if declared else None, None, declared, where)
        return self._literal(n, value, declared, where)

    def _binding(self, text: str, where: str) -> tuple[str, ...] | None:
        if "${{" not in text:
            return None
        m = _BINDING.match(text.strip())
        if m is None:
            raise self.fail(
                f"'{text}' is not a binding Shipyard understands; a step input is a whole"
                " ${{parent.inputs.<name>}} or ${{parent.jobs.<step>.outputs.<name>}}",
                where,
            )
        expr = m["expr"]
        if (p := _PARENT_INPUT.match(expr)) is not None:
            return ("input", p["name"])
        if (u := _UPSTREAM.match(expr)) is not None:
            return ("upstream", u["step"], u["output"])
        if (o := _PARENT_OUTPUT.match(expr)) is not None:
            return ("output", o["name"])
        raise self.fail(f"'{text}' is not a binding Shipyard understands", where)

    def _bound(
        self, n: str, target: tuple[str, ...], type_: str | None, mode: str | None,
        declared: ComponentInput | None, where: str,
    ) -> Any:  # fmt: skip
        if target[0] == "output":
            raise self.fail(f"an input cannot read the pipeline's output '{target[1]}'", where)
        if target[0] == "upstream":
            return self._upstream(n, target[1], target[2], type_, mode, where)
        parent = target[1]
        if parent not in self.spec.inputs:
            names = ", ".join(self.spec.inputs) or "none"
            raise self.fail(f"the pipeline has no input '{parent}' (inputs: {names})", where)
        given = self.spec.inputs[parent]
        from shipyard.specs.job import TypedInput

        if not isinstance(given, TypedInput):
            return self._literal(n, given, declared, where)
        if given.path is None:
            if given.default is not None:
                return self._literal(n, given.default, declared, where)
            if declared is not None and not declared.optional:
                raise self.fail(
                    f"input '{n}' takes the pipeline's input '{parent}', which has no value;"
                    f" give it one in the file or with --set inputs.{parent}.path=…",
                    where,
                )
            return None
        self.parent_inputs[n] = parent
        return self._data(n, type_ or given.type, given.path, mode or given.mode, f"inputs.{parent}")

    def _upstream(
        self, n: str, step: str, output: str, type_: str | None, mode: str | None, where: str
    ) -> Any:
        if step == self.name:
            raise self.fail(f"input '{n}' reads the step's own output '{output}'", where)
        if step not in self.outputs_of:
            names = ", ".join(s for s in self.outputs_of if s != self.name) or "none"
            raise self.fail(
                f"input '{n}' reads from step '{step}', which the pipeline does not have (steps: {names})",
                where,
            )
        outputs = self.outputs_of[step]
        if outputs is not None and output not in outputs:
            names = ", ".join(outputs) or "none"
            raise self.fail(
                f"input '{n}' reads output '{output}' of step '{step}', which has no such output"
                f" (outputs: {names})",
                where,
            )
        self.upstream[n] = (step, output)
        out: dict[str, Any] = {
            "type": type_ or (outputs or {}).get(output) or "uri_folder",
            "path": upstream_ref(step, output),
        }
        if mode is not None:
            out["mode"] = mode
        return out

    def _data(self, n: str, type_: str, path: str, mode: str | None, where: str) -> dict[str, Any]:
        if type_ not in DATA_INPUT_TYPES:
            raise self.fail(f"input '{n}' is a {type_}, which takes a value, not the path '{path}'", where)
        written = path
        if self.base is not None:
            ref = parse_ref(path, self.base, field=f"{where}.path")
            if isinstance(ref, LocalPathRef):
                written = str(ref.path)
        out: dict[str, Any] = {"type": type_, "path": written}
        if mode is not None:
            out["mode"] = mode
        return out

    def _literal(self, n: str, value: Any, declared: ComponentInput | None, where: str) -> Any:
        if declared is None:
            return value
        if declared.is_data:
            raise self.fail(
                f"input '{n}' is a {declared.type}: give it data (a path), not the value {value!r}", where
            )
        problem = declared.problem(value)
        if problem is not None:
            raise self.fail(f"input '{n}': {problem}", where)
        return {"type": declared.type, "default": value}

    def _outputs(self) -> dict[str, Any]:
        declared = self.outputs_of[self.name]
        out: dict[str, Any] = {}
        if declared is not None:
            out = {n: {"type": t} for n, t in declared.items()}
        for n, value in self.step.outputs.items():
            where = f"outputs.{n}"
            if declared is not None and self.step.component is not None and n not in declared:
                names = ", ".join(declared) or "none"
                raise self.fail(f"the component has no output '{n}' (outputs: {names})", where)
            path = value.path if isinstance(value, StepOutput) else value
            # Other paths (azureml://datastores/…) are where Azure would write it: outputs
            # are kept as the step run's artifacts here.
            bound = isinstance(path, str) and "${{" in path and "parent." in path
            target = self._binding(path, where) if bound and isinstance(path, str) else None
            if target is not None:
                if target[0] != "output":
                    raise self.fail(f"an output binds to ${{{{parent.outputs.<name>}}}}, not '{path}'", where)
                if target[1] not in self.spec.outputs:
                    names = ", ".join(self.spec.outputs) or "none"
                    raise self.fail(f"the pipeline has no output '{target[1]}' (outputs: {names})", where)
                self.parent_outputs[n] = target[1]
            item = dict(out.get(n) or {"type": "uri_folder"})
            if isinstance(value, StepOutput):
                item.update({k: v for k, v in (("type", value.type), ("mode", value.mode)) if v is not None})
            out[n] = item
        return out


def _pipeline_output_type(spec: PipelineJobSpec, name: str) -> str | None:
    """The type a pipeline output declares (``type: uri_file``), None when it says none."""
    output = spec.outputs.get(name)
    return output.type if output is not None and "type" in output.model_fields_set else None


def _default(declared: ComponentInput) -> Any:
    if declared.default is None:
        return None
    return {"type": declared.type, "default": declared.default}


def _check_command(name: str, command: Mapping[str, Any]) -> None:
    """The step, as the command job it becomes, is one (its command's ``${{inputs.x}}``…)."""
    from shipyard.specs._yaml import validate_spec
    from shipyard.specs.job import CommandJobSpec

    try:
        validate_spec(command, CommandJobSpec, f"step '{name}'")
    except InvalidSpec as exc:
        inner = exc.details.get("field")
        where = f"jobs.{name}" + (f".{inner}" if inner else "")
        message = exc.message.removeprefix(f"step '{name}': ")
        raise InvalidSpec(
            message if message.startswith("step ") else f"step '{name}': {message}", field=where
        ) from None


def _order(steps: Mapping[str, StepPlan]) -> list[str]:
    """A topological order (file order among equals); a cycle is an InvalidSpec naming it."""
    done: list[str] = []
    state: dict[str, int] = {}  # 1: on the path being walked, 2: placed

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*path[path.index(name) :], name]
            raise InvalidSpec(
                f"the steps form a cycle: {' → '.join(cycle)}; a step cannot read its own output,"
                " even through other steps",
                field=f"jobs.{name}.inputs",
            )
        state[name] = 1
        for before in sorted(steps[name].after, key=list(steps).index):
            visit(before, [*path, name])
        state[name] = 2
        done.append(name)

    for name in steps:
        visit(name, [])
    return done
