"""Nested pipelines: a step that is itself a pipeline is expanded into its inner steps.

A step is a nested pipeline when it says ``type: pipeline`` or its ``component:`` mapping is a
``type: pipeline`` component (the client has put local component files into the mapping, see
:mod:`shipyard.specs.pipeline_files`). :func:`flatten` replaces it, recursively, by its inner
steps, named ``<step>-<inner>`` (:data:`SEPARATOR`: a step name written in a file is letters,
digits and ``_``, so a ``-`` always marks a step inside a nested pipeline and never collides
with one written; child jobs are named ``<pipeline>-<step>``, so ``-`` reads as a path there
too). Bindings are rewritten so that the flat pipeline is an ordinary one:

- an inner ``${{parent.inputs.x}}`` becomes what the nested step binds ``x`` to (a literal, the
  outer pipeline's input, another step's output), else the component's default for ``x``;
- an inner output bound to ``${{parent.outputs.o}}`` is the nested step's output ``o``: an
  outer ``${{parent.jobs.<step>.outputs.o}}`` reads that inner step's output, and an outer
  ``outputs: {o: ${{parent.outputs.p}}}`` binds the inner output to the pipeline's ``p``.

Errors name the field where the problem is written in the tree (``jobs.a.component.jobs.b…``)
so the client can place them in the file that holds it; :attr:`Flat.origin` maps each flat step
to that place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shipyard.errors import InvalidSpec

__all__ = ["SEPARATOR", "Flat", "flatten", "is_nested", "origin_field", "registered"]

SEPARATOR = "-"
#: How deep pipelines may nest (a component that includes itself is refused before this).
MAX_DEPTH = 8

_BINDING = re.compile(r"^\$\{\{\s*parent\.(?P<expr>[^}]*?)\s*\}\}$")
_INPUT = re.compile(r"^inputs\.(?P<name>\w+)$")
_OUTPUT = re.compile(r"^outputs\.(?P<name>\w+)$")
_UPSTREAM = re.compile(r"^jobs\.(?P<step>[\w-]+)\.outputs\.(?P<output>\w+)$")


@dataclass(frozen=True)
class Flat:
    """The job mapping with every nested step expanded; ``origin``: flat step → the field of
    the tree where it is written (``jobs.train.component.jobs.fit``)."""

    raw: dict[str, Any]
    origin: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    # "<flat step>.inputs.<n>" → where the value it took from a nested step is written
    given_at: dict[str, str] = field(default_factory=dict)


def is_nested(step: Any) -> bool:
    """A step that is a pipeline (its own ``type`` or its inline component's)."""
    if not isinstance(step, Mapping):
        return False
    component = step.get("component")
    return step.get("type") == "pipeline" or (
        isinstance(component, Mapping) and component.get("type") == "pipeline"
    )


def flatten(raw: Mapping[str, Any]) -> Flat:
    """``raw`` (a pipeline job mapping) with its nested steps expanded; itself when it has none."""
    jobs = raw.get("jobs")
    if not isinstance(jobs, Mapping):
        return Flat(dict(raw))
    if not any(is_nested(s) for s in jobs.values()):
        for name in jobs:  # as written: a '-' is only ever made here
            if not str(name).isidentifier():
                raise InvalidSpec(f"step name '{name}' must be letters, digits and '_'", field=f"jobs.{name}")
        return Flat(dict(raw), {str(n): f"jobs.{n}" for n in jobs})
    level = _Level(jobs, "jobs", "", 0)
    return Flat({**raw, "jobs": level.steps}, level.origin, tuple(level.notes), level.given_at)


def origin_field(flat: Flat, field_: str | None) -> str | None:
    """A field of the flat mapping (``jobs.a-b.inputs.x``) as written in the tree
    (``jobs.a.component.jobs.b.inputs.x``)."""
    if not field_ or not field_.startswith("jobs."):
        return field_
    rest = field_.removeprefix("jobs.")
    for key in sorted(flat.given_at, key=len, reverse=True):
        if rest == key or rest.startswith(f"{key}."):
            return flat.given_at[key] + rest.removeprefix(key)
    for name in sorted(flat.origin, key=len, reverse=True):
        if rest == name or rest.startswith(f"{name}."):
            return flat.origin[name] + rest.removeprefix(name)
    return field_


class _Level:
    """The steps of one pipeline (the job's, or a pipeline component's), flat."""

    def __init__(self, jobs: Mapping[str, Any], where: str, label: str, depth: int) -> None:
        self.where, self.label = where, label  # label: the nested step's path, for messages
        self.steps: dict[str, Any] = {}
        self.origin: dict[str, str] = {}
        self.notes: list[str] = []
        self.given_at: dict[str, str] = {}
        # nested step → its outputs: output → (flat inner step, that step's output)
        self.nested_outputs: dict[str, dict[str, tuple[str, str]]] = {}
        nested = {str(n): s for n, s in jobs.items() if is_nested(s)}
        for key, step in jobs.items():
            name = str(key)
            self._check_name(name)
            if name in nested:
                continue
            if depth:
                self._check_type(name, step)
            self.steps[name] = step
            self.origin[name] = f"{where}.{name}"
        # First each nested step's inner steps and which of them writes each of its outputs…
        inner: dict[str, _Level] = {}
        for name, step in nested.items():
            inner[name] = _Level(
                self._component(name, step, depth)["jobs"],
                f"{where}.{name}.component.jobs",
                self.path(name),
                depth + 1,
            )
            self.nested_outputs[name] = {
                o: (f"{name}{SEPARATOR}{s}", n) for o, (s, n) in _written_outputs(inner[name].steps).items()
            }
        # …then every binding of this level to a nested step reads that inner step instead.
        ordered: dict[str, Any] = {}
        origin: dict[str, str] = {}
        for name in (str(n) for n in jobs):
            if name not in nested:
                ordered[name], origin[name] = self._rewrite_step(name, self.steps[name]), self.origin[name]
                continue
            step = self._rewrite_step(name, nested[name])
            expanded = _Expansion(self, name, step, self._component(name, step, depth), inner[name])
            self.notes.extend(inner[name].notes)
            for inner_name, inner_step in expanded.steps.items():
                flat = f"{name}{SEPARATOR}{inner_name}"
                if flat in ordered or flat in self.steps:
                    raise self.fail(name, f"its inner step '{inner_name}' is named like step '{flat}'", "")
                ordered[flat] = inner_step
                origin[flat] = inner[name].origin[inner_name]
            self.given_at.update({f"{name}{SEPARATOR}{k}": v for k, v in expanded.given_at.items()})
        self.steps, self.origin = ordered, origin

    def path(self, name: str) -> str:
        return f"{self.label}{SEPARATOR}{name}" if self.label else name

    def fail(self, name: str, message: str, where: str) -> InvalidSpec:
        return InvalidSpec(
            f"step '{self.path(name)}': {message}",
            field=f"{self.where}.{name}" + (f".{where}" if where else ""),
        )

    def _check_name(self, name: str) -> None:
        if not name.isidentifier():
            raise InvalidSpec(
                f"step name '{name}' must be letters, digits and '_'", field=f"{self.where}.{name}"
            )

    def _check_type(self, name: str, step: Any) -> None:
        """A step inside a nested pipeline is refused as one of the top level is, with its path."""
        from shipyard.specs.pipeline import OTHER_STEPS

        kind = step.get("type", "command") if isinstance(step, Mapping) else "command"
        if kind != "command":
            why = OTHER_STEPS.get(str(kind), f"step type '{kind}' is not one Shipyard knows")
            raise self.fail(
                name, f"is a {kind} step: {why}; Shipyard runs pipelines of command steps", "type"
            )

    def _component(self, name: str, step: Mapping[str, Any], depth: int) -> Mapping[str, Any]:
        component = step.get("component")
        if depth >= MAX_DEPTH:
            raise self.fail(name, f"pipelines nest more than {MAX_DEPTH} deep", "component")
        if isinstance(component, str) and component.startswith("azureml:"):
            raise registered(self.path(name), component, f"{self.where}.{name}.component")
        if not isinstance(component, Mapping):
            raise self.fail(
                name,
                "a nested pipeline step needs 'component:', a pipeline component file or mapping"
                if component is None
                else f"nested pipeline component '{component}' must be read by `shipyard job create -f`",
                "component",
            )
        if component.get("type", "pipeline") != "pipeline":
            raise self.fail(
                name,
                f"a pipeline step runs a pipeline component, not a {component.get('type')}"
                " component; remove 'type: pipeline'",
                "type",
            )
        jobs = component.get("jobs")
        if not isinstance(jobs, Mapping) or not jobs:
            raise self.fail(name, "its pipeline component has no 'jobs:'", "component")
        return component

    def _rewrite_step(self, name: str, step: Any) -> Any:
        """``${{parent.jobs.<nested>.outputs.o}}`` in the step's inputs → the inner step's output."""
        inputs = step.get("inputs") if isinstance(step, Mapping) else None
        if not isinstance(inputs, Mapping):
            return step
        out = {}
        for n, value in inputs.items():
            out[n] = _map_binding(value, lambda b, n=n: self._upstream(name, str(n), b))
        return {**step, "inputs": out}

    def _upstream(self, name: str, n: str, binding: str) -> str | None:
        m = _BINDING.match(binding.strip())
        up = _UPSTREAM.match(m["expr"]) if m else None
        if up is None or up["step"] not in self.nested_outputs:
            return None
        outputs = self.nested_outputs[up["step"]]
        if up["output"] not in outputs:
            names = ", ".join(outputs) or "none"
            raise self.fail(
                name,
                f"input '{n}' reads output '{up['output']}' of the nested pipeline '{up['step']}',"
                f" which has no such output (outputs: {names})",
                f"inputs.{n}",
            )
        step, output = outputs[up["output"]]
        return f"${{{{parent.jobs.{step}.outputs.{output}}}}}"


class _Expansion:
    """One nested step's inner steps with the step's own bindings put in."""

    def __init__(
        self, outer: _Level, name: str, step: Mapping[str, Any], component: Mapping[str, Any], inner: _Level
    ) -> None:
        self.outer, self.name, self.inner = outer, name, inner
        declared_in = component.get("inputs") or {}
        declared_out = component.get("outputs") or {}
        given = step.get("inputs") or {}
        bound_out = step.get("outputs") or {}
        # Azure's own example (nyc_taxi_data_regression_with_pipeline_component) gives one more
        # input than its component declares, and runs: it is ignored, with a note.
        for n in given:
            if n not in declared_in:
                outer.notes.append(
                    f"step {outer.path(name)}: input '{n}' is not an input of its pipeline component"
                    f" (inputs: {', '.join(declared_in) or 'none'}); ignored"
                )
        for n in bound_out:
            if n not in declared_out:
                raise outer.fail(
                    name,
                    f"the pipeline component has no output '{n}' (outputs: "
                    f"{', '.join(declared_out) or 'none'})",
                    f"outputs.{n}",
                )
        self.declared_in: Mapping[str, Any] = declared_in
        self.given: Mapping[str, Any] = given
        self.bound_out: Mapping[str, Any] = bound_out
        self.compute = step.get("compute")
        self.given_at = dict(inner.given_at)  # an outer level's value wins: it is where it is written
        self.steps = {n: self._step(n, s) for n, s in inner.steps.items()}
        for n in bound_out:
            if n not in outer.nested_outputs[name]:
                raise outer.fail(
                    name,
                    f"output '{n}' of the pipeline component is written by none of its"
                    " steps (one binds it with ${{parent.outputs." + n + "}})",
                    f"outputs.{n}",
                )

    def _value(self, inner_step: str, where: str, x: str) -> tuple[bool, Any]:
        """What ``${{parent.inputs.x}}`` of an inner step is: (given?, the value)."""
        if x not in self.declared_in:
            raise InvalidSpec(
                f"step '{self.inner_path(inner_step)}': the pipeline component has no input '{x}'"
                f" (inputs: {', '.join(self.declared_in) or 'none'})",
                field=f"{self.inner.origin[inner_step]}.{where}",
            )
        if x in self.given and self.given[x] is not None:
            key = f"{inner_step}.{where.removesuffix('.path')}"
            self.given_at[key] = f"{self.outer.where}.{self.name}.inputs.{x}"
            return True, self.given[x]
        declared = self.declared_in[x]
        default = declared.get("default") if isinstance(declared, Mapping) else None
        if default is not None:
            return True, default
        if isinstance(declared, Mapping) and declared.get("optional"):
            return False, None
        raise self.outer.fail(
            self.name,
            f"input '{x}' of the pipeline component is required (step '{inner_step}' reads it);"
            " bind it under 'inputs:'",
            "inputs",
        )

    def inner_path(self, inner_step: str) -> str:
        return f"{self.outer.path(self.name)}{SEPARATOR}{inner_step}"

    def _step(self, inner_name: str, step: Any) -> Any:
        if not isinstance(step, Mapping):
            return step
        out = dict(step)
        inputs = step.get("inputs")
        if isinstance(inputs, Mapping):
            new: dict[str, Any] = {}
            for n, value in inputs.items():
                given, bound = self._input(inner_name, f"inputs.{n}", value)
                if given:
                    new[n] = bound
            out["inputs"] = new
        compute = step.get("compute")
        if isinstance(compute, str) and (x := _parent_input(compute)) is not None:
            given, value = self._value(inner_name, "compute", x)
            if given and isinstance(value, str):
                out["compute"] = value
            elif given:
                out["compute"] = str(value)
            else:
                out.pop("compute")
        elif compute is None and self.compute is not None:
            out["compute"] = self.compute
        outputs = step.get("outputs")
        if isinstance(outputs, Mapping):
            out["outputs"] = {n: self._output(inner_name, str(n), v) for n, v in outputs.items()}
        return out

    def _input(self, inner_name: str, where: str, value: Any) -> tuple[bool, Any]:
        if isinstance(value, str):
            if (x := _parent_input(value)) is not None:
                return self._value(inner_name, where, x)
            return True, self._prefixed(value)
        if isinstance(value, Mapping) and isinstance(value.get("path"), str):
            path = value["path"]
            if (x := _parent_input(path)) is None:
                return True, {**value, "path": self._prefixed(path)}
            given, outer = self._value(inner_name, f"{where}.path", x)
            if not given:
                return False, None
            if isinstance(outer, Mapping):
                return True, {**{k: v for k, v in value.items() if k != "path"}, **outer}
            if isinstance(outer, str):
                return True, {**value, "path": outer}
            return True, outer
        return True, value

    def _prefixed(self, binding: str) -> str:
        """An inner step's ``${{parent.jobs.s.outputs.o}}`` names the flat step ``<nested>-s``."""
        m = _BINDING.match(binding.strip())
        up = _UPSTREAM.match(m["expr"]) if m else None
        if up is None:
            return binding
        return f"${{{{parent.jobs.{self.name}{SEPARATOR}{up['step']}.outputs.{up['output']}}}}}"

    def _output(self, inner_name: str, n: str, value: Any) -> Any:
        path = value.get("path") if isinstance(value, Mapping) else value
        m = _BINDING.match(path.strip()) if isinstance(path, str) else None
        o = _OUTPUT.match(m["expr"]) if m else None
        if o is None:
            return value
        bound = self.bound_out.get(o["name"])
        target = bound.get("path") if isinstance(bound, Mapping) else bound
        rest = {k: v for k, v in value.items() if k != "path"} if isinstance(value, Mapping) else {}
        if isinstance(target, str) and "${{" in target:
            return {**rest, "path": target} if rest else target
        return rest or None


def registered(step: str, component: str, field_: str) -> InvalidSpec:
    """A nested pipeline step naming a registered pipeline component: refused, and why."""
    where = "Azure's registries" if component.startswith("azureml://registries/") else "the workspace"
    return InvalidSpec(
        f"step '{step}': nested pipeline '{component}' is a registered pipeline component (in {where});"
        " Shipyard registers command components only — name the pipeline component's file"
        " (component: ./pipeline_component.yml)",
        field=field_,
    )


def _written_outputs(steps: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """A pipeline component's outputs: output → (the step, its output bound to ``${{parent.outputs.o}}``)."""
    out: dict[str, tuple[str, str]] = {}
    for name, step in steps.items():
        outputs = step.get("outputs") if isinstance(step, Mapping) else None
        for n, value in (outputs or {}).items() if isinstance(outputs, Mapping) else ():
            path = value.get("path") if isinstance(value, Mapping) else value
            m = _BINDING.match(path.strip()) if isinstance(path, str) else None
            o = _OUTPUT.match(m["expr"]) if m else None
            if o is not None:
                out[o["name"]] = (str(name), str(n))
    return out


def _parent_input(text: str) -> str | None:
    m = _BINDING.match(text.strip())
    x = _INPUT.match(m["expr"]) if m else None
    return x["name"] if x else None


def _map_binding(value: Any, rewrite: Any) -> Any:
    """``value`` (a step input: a binding string or a ``{path: binding}`` mapping) rewritten."""
    if isinstance(value, str) and "${{" in value:
        new = rewrite(value)
        return value if new is None else new
    if isinstance(value, Mapping) and isinstance(value.get("path"), str) and "${{" in value["path"]:
        new = rewrite(value["path"])
        return value if new is None else {**value, "path": new}
    return value
