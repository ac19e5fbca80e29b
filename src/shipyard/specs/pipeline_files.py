"""Reading a pipeline job from disk, as the client does before anything is sent.

Local component files (``component: ./train.yml``, ``file:./train.yml``) are read here and put
*into* the mapping sent to the server (``component:`` becomes the component's own mapping), since
the server cannot read the user's disk; an error in one names that file and its line. A
pipeline job whose ``component:`` is a pipeline component file gets that component's steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidSpec
from shipyard.specs._yaml import LineDict, LoadedText
from shipyard.specs.component import CommandComponentSpec, component_type
from shipyard.specs.job import TypedInput
from shipyard.specs.pipeline import PipelineComponentSpec, PipelineJobSpec
from shipyard.specs.pipeline_graph import PipelinePlan, plan
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


def read_component(path: Path) -> tuple[CommandComponentSpec | PipelineComponentSpec, LoadedText]:
    """A component file of either runnable type; other types are refused with the reason."""
    probe = LoadedText.read(path, CommandComponentSpec)
    model: type[CommandComponentSpec] | type[PipelineComponentSpec] = (
        PipelineComponentSpec if component_type(probe.data) == "pipeline" else CommandComponentSpec
    )
    return probe.validate(model), probe


def read_pipeline(path: Path, overrides: Sequence[str] = (), *, absolute_paths: bool = True) -> PipelineFile:
    """Read ``path`` (with ``--set`` overrides), its local components, and check the graph.

    ``absolute_paths``: local data paths in the steps' command mappings become absolute (what
    the client uploads); the corpus test keeps them as written."""
    source = path.resolve()
    text = LoadedText.read(path, PipelineJobSpec, overrides)
    spec = text.validate(PipelineJobSpec)
    raw: dict[str, Any] = dict(text.data)
    if spec.component is not None:
        spec, raw = _from_pipeline_component(spec, raw, text, source)
    components: dict[str, LocalComponent] = {}
    jobs = {name: dict(step) for name, step in (raw.get("jobs") or {}).items()}
    for name, step in spec.jobs.items():
        ref = step.component
        if isinstance(ref, str) and not ref.startswith("azureml:"):
            local = _local_component(name, ref, source.parent, text)
            components[name] = local
            jobs[name]["component"] = _plain(local.text.data)
    raw["jobs"] = jobs
    spec = PipelineJobSpec.model_validate(raw) if components else spec

    def lookup(step: str, ref: str) -> CommandComponentSpec | None:
        return components[step].spec if step in components else None

    try:
        graph = plan(spec, raw, lookup, source.parent if absolute_paths else None)
    except InvalidSpec as exc:
        raise text.locate(exc) from None
    return PipelineFile(spec, text, source, raw, components, graph)


def _local_component(step: str, ref: str, base: Path, text: LoadedText) -> LocalComponent:
    where = f"jobs.{step}.component"
    try:
        target = parse_ref(ref.removeprefix("file:"), base, field=where)
    except InvalidSpec as exc:
        raise text.locate(InvalidSpec(f"step '{step}': component {exc.message}", field=where)) from None
    if not isinstance(target, LocalPathRef):
        raise text.locate(
            InvalidSpec(
                f"step '{step}': component '{ref}' is not a file or an azureml:<name>:<version> reference",
                field=where,
            )
        )
    if not target.path.is_file():
        raise text.locate(
            InvalidSpec(f"step '{step}': component file '{ref}' does not exist ({target.path})", field=where)
        )
    spec, comp_text = read_component(target.path)
    if isinstance(spec, PipelineComponentSpec):
        raise text.locate(
            InvalidSpec(
                f"step '{step}': '{ref}' is a pipeline component; nested pipelines are not supported"
                " (copy its steps into this pipeline)",
                field=where,
            )
        )
    return LocalComponent(spec, comp_text, target.path)


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
    from shipyard.specs._yaml import validate_spec
    from shipyard.specs.job import CommandJobSpec
    from shipyard.specs.loaded import LoadedComposite, ResolvedInput, loaded_command

    pipeline = read_pipeline(path, overrides)
    parts = {}
    notes = list(pipeline.spec.notes())
    for name, step in pipeline.plan.steps.items():
        local = pipeline.components.get(name)
        source, text = (local.source, local.text) if local else (pipeline.source, pipeline.text)
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
    from shipyard.specs._yaml import validate_spec
    from shipyard.specs.job import CommandJobSpec
    from shipyard.specs.loaded import loaded_command

    source = path.resolve()
    text = LoadedText.read(path, CommandComponentSpec, overrides)
    spec = text.validate(CommandComponentSpec)
    if spec.name is None:
        raise text.locate(InvalidSpec("a registered component needs a 'name'", field="name"))
    # What is read from the disk is what a command job with this code and environment reads.
    files = {k: text.data[k] for k in ("code", "environment") if text.data.get(k) is not None}
    part = validate_spec({**files, "command": "true"}, CommandJobSpec, str(path))
    return spec, _plain(text.data), loaded_command(part, files, source, text)
