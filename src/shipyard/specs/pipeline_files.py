"""Reading a pipeline job from disk, as the client does before anything is sent.

Local component files (``component: ./train.yml``, ``file:./train.yml``) are read here and put
*into* the mapping sent to the server (``component:`` becomes the component's own mapping), since
the server cannot read the user's disk; an error in one names that file and its line. A
pipeline job whose ``component:`` is a pipeline component file gets that component's steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidSpec
from shipyard.specs._yaml import LineDict, LoadedText, validate_spec
from shipyard.specs.component import CommandComponentSpec, component_type
from shipyard.specs.job import TypedInput
from shipyard.specs.pipeline import PipelineComponentSpec, PipelineJobSpec
from shipyard.specs.pipeline_graph import PipelinePlan, plan
from shipyard.specs.pipeline_nested import flatten, origin_field
from shipyard.specs.refs import LocalPathRef, parse_ref

if TYPE_CHECKING:
    from shipyard.specs.loaded import LoadedComposite, LoadedJob

__all__ = [
    "LocalComponent",
    "PipelineFile",
    "load_pipeline",
    "local_inputs",
    "read_component",
    "read_pipeline",
]


@dataclass(frozen=True)
class LocalComponent:
    """A step's component read from its file: ``text`` places errors (and its ``code``) there."""

    spec: CommandComponentSpec
    text: LoadedText
    source: Path


@dataclass(frozen=True)
class PipelineFile:
    """A pipeline job read and checked (but not its code and data folders): ``raw`` is what is
    sent to the server, with local components inlined."""

    spec: PipelineJobSpec
    text: LoadedText
    source: Path
    raw: dict[str, Any]
    components: dict[str, LocalComponent]
    plan: PipelinePlan
    # step → the file it is written in (its code and data paths are relative to it)
    holders: dict[str, tuple[Path, LoadedText]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what expanding nested pipelines noticed


def read_component(path: Path) -> tuple[CommandComponentSpec | PipelineComponentSpec, LoadedText]:
    """A component file of either runnable type; other types are refused with the reason."""
    probe = LoadedText.read(path, CommandComponentSpec)
    model: type[CommandComponentSpec] | type[PipelineComponentSpec] = (
        PipelineComponentSpec if component_type(probe.data) == "pipeline" else CommandComponentSpec
    )
    return probe.validate(model), probe


def read_pipeline(path: Path, overrides: Sequence[str] = (), *, absolute_paths: bool = True) -> PipelineFile:
    """Read ``path`` (with ``--set`` overrides), its local components, and check the graph.

    Nested pipelines (pipeline components as steps) are read with their components and
    expanded (:func:`shipyard.specs.pipeline_nested.flatten`); ``raw`` keeps them nested, as
    written, with their files inside (the server expands them the same way). An error is
    placed in the file that holds it.

    ``absolute_paths``: local data paths in the steps' command mappings become absolute (what
    the client uploads); the corpus test keeps them as written."""
    source = path.resolve()
    text = LoadedText.read(path, PipelineJobSpec, overrides)
    spec = text.validate(PipelineJobSpec)
    raw: dict[str, Any] = dict(text.data)
    if spec.component is not None:
        spec, raw = _from_pipeline_component(spec, raw, text, source)
    tree = _Tree(text, source)
    raw["jobs"] = tree.inline(raw.get("jobs") or {}, "jobs", source.parent, text, source, (source,))
    try:
        flat = flatten(raw)
        spec = validate_spec(flat.raw, PipelineJobSpec, str(path)) if tree.inlined else spec
    except InvalidSpec as exc:
        raise tree.locate(exc) from None
    components = {s: tree.components[o] for s, o in flat.origin.items() if o in tree.components}

    def lookup(step: str, ref: str) -> CommandComponentSpec | None:
        return components[step].spec if step in components else None

    try:
        graph = plan(spec, flat.raw, lookup, source.parent if absolute_paths else None)
    except InvalidSpec as exc:
        where = origin_field(flat, exc.details.get("field"))
        raise tree.locate(InvalidSpec(exc.message, **{**exc.details, "field": where})) from None
    holders = {s: tree.holders.get(o, (source, text)) for s, o in flat.origin.items()}
    return PipelineFile(spec, text, source, raw, components, graph, holders, flat.notes)


class _Tree:
    """A pipeline's steps with every local component file read into them, and where each part
    came from: ``files`` (a field prefix → the file holding what is under it), ``components``
    (a step's field → its command component file), ``holders`` (a step's field → the file it is
    written in, against which its own code and data paths are read)."""

    def __init__(self, text: LoadedText, source: Path) -> None:
        self.files: dict[str, LoadedText] = {"": text}
        self.components: dict[str, LocalComponent] = {}
        self.holders: dict[str, tuple[Path, LoadedText]] = {}
        self.inlined = False

    def locate(self, exc: InvalidSpec) -> InvalidSpec:
        field_ = str(exc.details.get("field") or "")
        prefix = max((p for p in self.files if not p or field_ == p or field_.startswith(f"{p}.")), key=len)
        inner = field_.removeprefix(prefix).removeprefix(".") if prefix else field_
        return self.files[prefix].locate(InvalidSpec(exc.message, **{**exc.details, "field": inner or None}))

    def inline(
        self, jobs: Any, where: str, folder: Path, text: LoadedText, source: Path, stack: tuple[Path, ...]
    ) -> dict[str, Any]:
        """``jobs`` with each local component (and each nested pipeline's, recursively) inside."""
        out: dict[str, Any] = {}
        nested_level = len(stack) > 1 or where != "jobs"
        for name, written in jobs.items() if isinstance(jobs, dict) else ():
            field_ = f"{where}.{name}"
            if not isinstance(written, dict):
                out[name] = written
                continue
            step = dict(written)
            self.holders[field_] = (source, text)
            if nested_level:
                step = _rebased_inputs(step, folder)
            ref = step.get("component")
            if isinstance(ref, str) and not ref.startswith("azureml:"):
                target = _component_file(name, ref, folder, field_, self.locate)
                if target in stack:
                    chain = " → ".join(p.name for p in (*stack[stack.index(target) :], target))
                    raise self.locate(InvalidSpec(
                        f"step '{name}': pipeline component '{ref}' includes itself ({chain})",
                        field=f"{field_}.component",
                    ))  # fmt: skip
                try:
                    component, comp_text = read_component(target)
                except InvalidSpec as exc:
                    if not _is_pipeline_file(target):
                        raise
                    # A step inside a nested pipeline: which one (its flat name is in no file).
                    label = field_.removeprefix("jobs.").replace(".component.jobs.", "-")
                    raise InvalidSpec(
                        f"nested pipeline step '{label}': {exc.message}", **exc.details
                    ) from None
                self.inlined = True
                data = _plain(comp_text.data)
                if isinstance(component, PipelineComponentSpec):
                    prefix = f"{field_}.component"
                    self.files[prefix] = comp_text
                    data["jobs"] = self.inline(
                        comp_text.data.get("jobs"), f"{prefix}.jobs", target.parent, comp_text, target,
                        (*stack, target),
                    )  # fmt: skip
                else:
                    self.components[field_] = LocalComponent(component, comp_text, target)
                step["component"] = data
            elif isinstance(ref, dict) and ref.get("type") == "pipeline":
                self.inlined = True
                step["component"] = {
                    **_plain(ref),
                    "jobs": self.inline(
                        ref.get("jobs"), f"{field_}.component.jobs", folder, text, source, stack
                    ),
                }
            out[name] = step
        return out


def _is_pipeline_file(path: Path) -> bool:
    try:
        return component_type(LoadedText.read(path, PipelineComponentSpec).data) == "pipeline"
    except InvalidSpec:
        return False


def _component_file(
    step: str, ref: str, base: Path, where: str, locate: Callable[[InvalidSpec], InvalidSpec]
) -> Path:
    field_ = f"{where}.component"
    try:
        target = parse_ref(ref.removeprefix("file:"), base, field=field_)
    except InvalidSpec as exc:
        raise locate(InvalidSpec(f"step '{step}': component {exc.message}", field=field_)) from None
    if not isinstance(target, LocalPathRef):
        raise locate(
            InvalidSpec(
                f"step '{step}': component '{ref}' is not a file or an azureml:<name>:<version> reference",
                field=field_,
            )
        )
    if not target.path.is_file():
        raise locate(
            InvalidSpec(f"step '{step}': component file '{ref}' does not exist ({target.path})", field=field_)
        )
    return target.path.resolve()


def _rebased_inputs(step: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A step of a pipeline component: its local data paths are relative to the component's file."""
    inputs = step.get("inputs")
    if not isinstance(inputs, dict):
        return step
    out: dict[str, Any] = {}
    for n, value in inputs.items():
        path = value.get("path") if isinstance(value, dict) else None
        if isinstance(path, str) and "${{" not in path:
            try:
                ref = parse_ref(path, folder, field=f"inputs.{n}.path")
            except InvalidSpec:
                ref = None
            out[n] = {**value, "path": str(ref.path)} if isinstance(ref, LocalPathRef) else value
        else:
            out[n] = value
    return {**step, "inputs": out}


def _from_pipeline_component(
    spec: PipelineJobSpec, raw: dict[str, Any], text: LoadedText, source: Path
) -> tuple[PipelineJobSpec, dict[str, Any]]:
    """A pipeline job that runs a pipeline component: the component's steps, with the job's
    inputs as the values of the component's inputs. Local paths of the component's steps are
    made absolute (they are relative to the component's file, not the job's)."""
    ref = str(spec.component)
    target = parse_ref(ref.removeprefix("file:"), source.parent, field="component")
    if not isinstance(target, LocalPathRef) or not target.path.is_file():
        raise text.locate(
            InvalidSpec(
                f"component '{ref}': expected a pipeline component file next to the job", field="component"
            )
        )
    component, comp_text = read_component(target.path)
    if not isinstance(component, PipelineComponentSpec):
        raise text.locate(
            InvalidSpec(
                f"component '{ref}' is a command component; a pipeline job runs a pipeline component",
                field="component",
            )
        )
    folder = target.path.parent
    inputs: dict[str, Any] = {}
    for name, declared in component.inputs.items():
        given = (raw.get("inputs") or {}).get(name)
        if given is not None:
            inputs[name] = given
        elif declared.default is not None:
            inputs[name] = {"type": declared.type, "default": declared.default}
        else:
            inputs[name] = {"type": declared.type, "optional": True}
    outputs: dict[str, Any] = {n: {"type": o.type} for n, o in component.outputs.items()}
    outputs.update(raw.get("outputs") or {})
    jobs = {name: _rebased(dict(step), folder) for name, step in comp_text.data["jobs"].items()}
    flat = {k: v for k, v in raw.items() if k != "component"}
    flat.update(inputs=inputs, outputs=outputs, jobs=jobs)
    flat.setdefault("display_name", component.display_name or component.name)
    try:
        return PipelineJobSpec.model_validate(flat), flat
    except InvalidSpec as exc:
        raise comp_text.locate(exc) from None


def _rebased(step: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A step of a pipeline component with its local component file and code made absolute."""
    component = step.get("component")
    if isinstance(component, str) and not component.startswith("azureml:"):
        step["component"] = str((folder / component.removeprefix("file:")).resolve())
    elif isinstance(component, dict) and isinstance(component.get("code"), str):
        step["component"] = {**component, "code": str((folder / component["code"]).resolve())}
    if isinstance(step.get("code"), str):
        step["code"] = str((folder / step["code"]).resolve())
    return step


def _plain(data: Any) -> Any:
    """A LineDict tree as plain dicts (what goes over the wire)."""
    if isinstance(data, (dict, LineDict)):
        return {k: _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    return data


def local_inputs(spec: PipelineJobSpec, base: Path) -> dict[str, tuple[TypedInput, Path]]:
    """The pipeline's own inputs that are local files or folders (the client uploads them)."""
    out: dict[str, tuple[TypedInput, Path]] = {}
    for name, value in spec.inputs.items():
        if isinstance(value, TypedInput) and value.path is not None:
            ref = parse_ref(value.path, base, field=f"inputs.{name}.path")
            if isinstance(ref, LocalPathRef):
                out[name] = (value, ref.path)
    return out


def load_pipeline(path: Path, overrides: Sequence[str] = ()) -> LoadedComposite:
    """What ``shipyard job create -f pipeline.yml`` uploads and sends: one part per step (its
    code folder is relative to its component's file), the pipeline's own local inputs."""
    from shipyard.specs.job import CommandJobSpec
    from shipyard.specs.loaded import LoadedComposite, ResolvedInput, loaded_command

    pipeline = read_pipeline(path, overrides)
    parts = {}
    notes = [*pipeline.spec.notes(), *pipeline.notes]
    for name, step in pipeline.plan.steps.items():
        local = pipeline.components.get(name)
        holder = pipeline.holders.get(name, (pipeline.source, pipeline.text))
        source, text = (local.source, local.text) if local else holder
        spec = validate_spec(step.command, CommandJobSpec, f"{path} step '{name}'")
        parts[name] = loaded_command(spec, step.command, source, text)
        notes.extend(f"step {name}: {note}" for note in parts[name].notes)
        if local is not None:
            notes.extend(f"step {name}: {note}" for note in local.spec.notes())
    inputs = {}
    for name, (value, folder) in local_inputs(pipeline.spec, pipeline.source.parent).items():
        if not folder.exists():
            raise pipeline.text.locate(
                InvalidSpec(
                    f"input '{name}': '{value.path}' does not exist ({folder})", field=f"inputs.{name}.path"
                )
            )
        inputs[name] = ResolvedInput(name=name, type=value.type, ref=LocalPathRef(folder), mode=value.mode)
    return LoadedComposite(
        type="pipeline",
        source=pipeline.source,
        raw=pipeline.raw,
        parts=parts,
        inputs=inputs,
        notes=tuple(dict.fromkeys(notes)),
    )


def load_component(
    path: Path, overrides: Sequence[str] = ()
) -> tuple[CommandComponentSpec, dict[str, Any], LoadedJob]:
    """``shipyard component create -f``: the component, the mapping to send, and its code folder
    and environment read from the disk (as a command job's, relative to the component file)."""
    from shipyard.specs.job import CommandJobSpec
    from shipyard.specs.loaded import loaded_command

    source = path.resolve()
    text = LoadedText.read(path, CommandComponentSpec, overrides)
    if component_type(text.data) == "pipeline":
        # Its steps' code folders and environments would each need keeping with it.
        raise text.locate(
            InvalidSpec(
                "a pipeline component is not registered: Shipyard registers command components;"
                " a pipeline uses a pipeline component by its file (component: ./pipeline_component.yml)",
                field="type",
            )
        )
    spec = text.validate(CommandComponentSpec)
    if spec.name is None:
        raise text.locate(InvalidSpec("a registered component needs a 'name'", field="name"))
    # What is read from the disk is what a command job with this code and environment reads.
    files = {k: text.data[k] for k in ("code", "environment") if text.data.get(k) is not None}
    part = validate_spec({**files, "command": "true"}, CommandJobSpec, str(path))
    return spec, _plain(text.data), loaded_command(part, files, source, text)
