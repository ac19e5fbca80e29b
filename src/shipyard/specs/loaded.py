"""``load_job``: a job file read, validated and checked against the disk before anything runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidSpec
from shipyard.specs._yaml import LoadedText
from shipyard.specs.environment import InlineEnvironment, PythonEnvironment, resolve_environment
from shipyard.specs.git import project_root
from shipyard.specs.job import CommandJobSpec, LiteralValue, TypedInput
from shipyard.specs.refs import AssetRef, LocalPathRef, Ref, parse_asset_ref, parse_ref

__all__ = ["LoadedComposite", "LoadedJob", "ResolvedInput", "load_any", "load_job", "loaded_command"]


@dataclass(frozen=True)
class ResolvedInput:
    """An input after loading: a literal ``value``, or data behind ``ref`` (None: optional, not given)."""

    name: str
    type: str | None
    value: LiteralValue | None = None
    ref: Ref | None = None
    mode: str | None = None

    @property
    def is_given(self) -> bool:
        return self.value is not None or self.ref is not None


@dataclass(frozen=True)
class LoadedJob:
    """A validated job whose local paths are absolute and exist.

    ``environment`` is the named asset to look up, the Python environment read from an inline
    spec, or None (the server's interpreter). ``notes`` say which accepted fields are ignored.
    ``raw`` is the file's mapping with the overrides applied, as validated (what to send on:
    re-serialising ``spec`` would turn an empty ``outputs.model:`` into a full mapping).
    """

    spec: CommandJobSpec
    source: Path
    project_root: Path
    code: Path | None
    inputs: Mapping[str, ResolvedInput]
    environment: AssetRef | PythonEnvironment | None
    notes: tuple[str, ...]
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedComposite:
    """A composite job file (sweep, pipeline) read and checked against the disk.

    ``parts`` are what the client uploads as it would for a command job: ``""`` is the top
    level (a sweep's trial), other keys are a pipeline's steps. ``inputs`` are the composite's
    own inputs (local paths among them are uploaded). ``raw`` is sent as the job's ``spec``.
    """

    type: str
    source: Path
    raw: Mapping[str, Any]
    parts: Mapping[str, LoadedJob] = field(default_factory=dict)
    inputs: Mapping[str, ResolvedInput] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def load_any(path: Path, overrides: Sequence[str] = ()) -> LoadedJob | LoadedComposite:
    """A job file of any type: ``command`` here, another type by ``shipyard.specs.<type>``'s
    ``load_file(path, overrides)`` (a type is a module: nothing here lists them)."""
    import importlib

    from shipyard.specs._yaml_reader import load_mapping

    kind = "command"
    try:
        data: Any = load_mapping(path.read_text(encoding="utf-8"), str(path))
    except (InvalidSpec, OSError, UnicodeDecodeError):
        data = {}  # load_job reports the file's problem with its line
    if isinstance(data, Mapping):
        kind = str(data.get("type") or "command")
    for override in overrides:
        key, _, value = override.partition("=")
        if key.strip() == "type":
            kind = value.strip()
    if kind == "command" or not kind.isidentifier():
        return load_job(path, overrides)
    try:
        module = importlib.import_module(f"shipyard.specs.{kind}")
    except ImportError:
        module = None
    load_file = getattr(module, "load_file", None)
    if load_file is None:
        return load_job(path, overrides)  # which refuses the type with its line
    loaded = load_file(path, overrides)
    assert isinstance(loaded, LoadedComposite)
    return loaded


def load_job(path: Path, overrides: Sequence[str] = ()) -> LoadedJob:
    """Read ``path`` (with ``--set`` overrides) and check code, inputs and environment files."""
    text = LoadedText.read(path, CommandJobSpec, overrides)
    spec = text.validate(CommandJobSpec)
    return loaded_command(spec, text.data, path.resolve(), text)


def loaded_command(spec: CommandJobSpec, raw: Mapping[str, Any], source: Path, text: LoadedText) -> LoadedJob:
    """A validated command job (or a composite's part) with its local paths resolved from
    ``source``'s folder and checked; problems are placed on their line by ``text``."""
    base = source.parent
    root = project_root(source)
    try:
        code = _code_folder(spec.code, base, root) if spec.code is not None else None
        inputs = {name: _resolve_input(name, value, base) for name, value in spec.inputs.items()}
        environment: AssetRef | PythonEnvironment | None = None
        notes = list(spec.notes())
        if isinstance(spec.environment, str):
            environment = parse_asset_ref(spec.environment, field="environment")
        elif isinstance(spec.environment, InlineEnvironment):
            environment = _inline_environment(spec.environment, base)
            notes.extend(n for n in environment.notes if not n.startswith("image "))
    except InvalidSpec as exc:
        raise text.locate(exc) from None
    return LoadedJob(
        spec=spec,
        source=source,
        project_root=root,
        code=code,
        inputs=inputs,
        environment=environment,
        notes=tuple(notes),
        raw=raw,
    )


def _code_folder(code: str, base: Path, root: Path) -> Path:
    folder = (base / Path(code).expanduser()).resolve()
    if not folder.is_relative_to(root):
        raise InvalidSpec(
            f"code '{code}' resolves to {folder}, outside the project {root}; "
            "the code folder must be inside the repository (or the folder) of the job file",
            field="code",
        )
    if not folder.exists():
        raise InvalidSpec(f"code '{code}' does not exist ({folder})", field="code")
    if not folder.is_dir():
        raise InvalidSpec(f"code '{code}' is not a folder ({folder})", field="code")
    return folder


def _resolve_input(name: str, value: TypedInput | LiteralValue, base: Path) -> ResolvedInput:
    if not isinstance(value, TypedInput):
        return ResolvedInput(name=name, type=None, value=value)
    if value.path is None:
        return ResolvedInput(name=name, type=value.type, value=value.default, mode=value.mode)
    field = f"inputs.{name}.path"
    try:
        ref = parse_ref(value.path, base, field=field)
    except InvalidSpec as exc:
        raise InvalidSpec(f"input '{name}': {exc.message}", field=field) from None
    if isinstance(ref, LocalPathRef):
        if not ref.path.exists():
            raise InvalidSpec(
                f"input '{name}': '{value.path}' does not exist ({ref.path})",
                field=field,
            )
        if value.type == "uri_file" and not ref.path.is_file():
            raise InvalidSpec(f"input '{name}' is a uri_file but {ref.path} is a folder", field=field)
        if value.type == "uri_folder" and not ref.path.is_dir():
            raise InvalidSpec(f"input '{name}' is a uri_folder but {ref.path} is a file", field=field)
    return ResolvedInput(name=name, type=value.type, ref=ref, mode=value.mode)


def _inline_environment(env: InlineEnvironment, base: Path) -> PythonEnvironment:
    try:
        return resolve_environment(env, base)
    except InvalidSpec as exc:
        field = f"environment.{exc.details.get('field') or ''}".rstrip(".")
        raise InvalidSpec(f"environment: {exc.message}", **{**exc.details, "field": field}) from None
