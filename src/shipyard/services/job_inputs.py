"""A job's folder: its code, its inputs as local paths, its output folders, its command.

Layout under ``<home>/jobs/<workspace>/<job>/``::

    code/              the code snapshot (the process's working directory)
    code/outputs/      created empty if absent: Azure ML jobs write there (``./outputs``);
                       kept with the run afterwards, as Azure ML does
    inputs/<name>/     a data input materialised (a uri_file input is the one file inside;
                       a registered model: its files, as a deployment gets them);
                       a remote one (https://, s3://…) fetched there (:mod:`.job_remote`)
    outputs/<name>/    what ``${{outputs.<name>}}`` points at; kept with the run afterwards
    stream.log         what ``job stream`` follows: preparation lines, then the process's output
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.domain.context import Principal, RequestContext
from shipyard.domain.data_assets import DataAsset
from shipyard.domain.jobs import Job
from shipyard.domain.paths import clean_relative_path, join_key
from shipyard.domain.registry import ModelVersion
from shipyard.errors import InvalidArgument, NotFound
from shipyard.services.endpoint_models import ModelFiles
from shipyard.services.job_remote import RemoteInputs
from shipyard.services.ports import ArtifactStore, Database, UnitOfWork
from shipyard.services.registry import RegistryService
from shipyard.services.snapshots import SnapshotService
from shipyard.specs.bindings import render_command
from shipyard.specs.refs import AssetRef

if TYPE_CHECKING:
    from shipyard.services.jobs import InputValue

__all__ = ["InputResolver", "PreparedInputs", "find_data_asset", "find_model_version"]

_FILE_TYPES = frozenset({"uri_file"})


@dataclass(frozen=True, slots=True)
class PreparedInputs:
    working_dir: Path
    inputs: dict[str, str | None]
    outputs: dict[str, str]

    def render(self, command: str) -> str:
        return render_command(command, self.inputs, self.outputs)


class InputResolver:
    def __init__(self, db: Database, store: ArtifactStore, snapshots: SnapshotService) -> None:
        self.db = db
        self.store = store
        self.snapshots = snapshots
        self.remote = RemoteInputs(store, snapshots)
        self.models = ModelFiles(db, store, RegistryService(db), snapshots)

    def prepare(self, job: Job, folder: Path, log: Callable[[Job, str], None]) -> PreparedInputs:
        code = folder / "code"
        if job.code_digest:
            snapshot = self.snapshots.materialize(job.code_digest, code)
            log(
                job,
                f"code: {len(snapshot.files)} files, {snapshot.size:,} bytes"
                f" (snapshot {job.code_digest[:12]})",
            )
        else:
            code.mkdir(parents=True, exist_ok=True)
        if not (code / "outputs").exists():
            (code / "outputs").mkdir()
        from shipyard.services.jobs import command_of  # jobs.py imports this module

        values: dict[str, str | None] = {}
        command = command_of(job)
        for name, item in command.inputs.items():
            values[name] = self._input(job, folder, name, item, log)
            if item.kind != "literal":
                log(job, f"input {name}: {values[name]}")
        outputs: dict[str, str] = {}
        for name, type_ in command.outputs.items():
            path = folder / "outputs" / name
            path.mkdir(parents=True, exist_ok=True)
            # A uri_file output is a file the command writes (`echo hi > ${{outputs.o}}`), as on
            # Azure ML: named after the output, in the folder kept as the run's outputs/<name>/.
            outputs[name] = str(path / name) if type_ == "uri_file" else str(path)
        return PreparedInputs(code, values, outputs)

    def _input(
        self, job: Job, folder: Path, name: str, item: InputValue, log: Callable[[Job, str], None]
    ) -> str | None:
        kind, value, type_ = item.kind, item.value, item.type
        if kind == "literal":
            return value
        dest = folder / "inputs" / name
        if kind == "data":
            with self.db.read() as uow:
                asset = find_data_asset(uow, job.workspace, name, value)
            if not asset.content_hash:  # an external URL, recorded without a copy
                kind, value = "url", asset.path
            else:
                kind, value = "snapshot", asset.content_hash
        if kind == "model":
            log(job, f"input {name}: model {value}")
            return self._model(job, name, value, dest)
        if kind == "url":
            if value.startswith("file://"):
                return value.removeprefix("file://")
            files = self.remote.fetch(value, dest, lambda line: log(job, f"input {name}: {line}"))
            return self._as_type(name, dest, files, type_)
        if kind == "snapshot":
            snapshot = self.snapshots.materialize(value, dest)
            return self._as_type(name, dest, [f.path for f in snapshot.files], type_)
        if kind == "run":
            return self._run_artifacts(job, name, value, dest, type_)
        raise InvalidArgument(f"input {name!r}: unknown kind {kind!r}")

    def _model(self, job: Job, name: str, reference: str, dest: Path) -> str:
        """A registered model version's files, as a deployment gets them (the job acts as
        its submitter in its workspace)."""
        ctx = RequestContext(Principal(job.created_by, authenticated=True), job.workspace)
        version = find_model_version(self.db, ctx, name, reference)
        ref = AssetRef(name=reference.partition(":")[0].partition("@")[0], version=str(version.version))
        model = self.models.resolve(ctx, ref, None)
        assert model is not None  # a reference always resolves to a version or raises
        self.models.materialize(model, dest)
        return str(dest)

    def _run_artifacts(self, job: Job, name: str, value: str, dest: Path, type_: str) -> str:
        run_id, _, path = value.partition("/")
        with self.db.read() as uow:
            ref = uow.runs.ref(run_id)
        if ref is None or ref.workspace != job.workspace:
            raise NotFound(f"input {name!r}: no run {run_id!r}")
        clean = clean_relative_path(path, allow_empty=True)
        base = join_key(ref.artifact_uri, clean) if clean else ref.artifact_uri
        copied: list[str] = []
        for info in self.store.list(base):
            rel = info.key[len(base) :].lstrip("/")
            target = dest / rel if rel else dest / Path(clean).name
            target.parent.mkdir(parents=True, exist_ok=True)
            with self.store.get(info.key) as reader, target.open("wb") as out:
                while chunk := reader.read(1 << 20):
                    out.write(chunk)
            copied.append(target.relative_to(dest).as_posix())
        if not copied:
            raise NotFound(f"input {name!r}: run {run_id} has no artifact {clean or '(any)'!r}")
        return self._as_type(name, dest, copied, type_)

    @staticmethod
    def _as_type(name: str, dest: Path, files: list[str], type_: str) -> str:
        if type_ in _FILE_TYPES:
            if len(files) != 1:
                raise InvalidArgument(f"input {name!r} is a uri_file but holds {len(files)} files")
            return str(dest / files[0])
        return str(dest)


def find_model_version(db: Database, ctx: RequestContext, input_name: str, reference: str) -> ModelVersion:
    """``name:version``, ``name@latest`` or ``name@<alias>`` of a registered model; NotFound
    naming the input."""
    name, sep, version = reference.partition(":")
    if not sep:
        name, _, version = reference.partition("@")
    try:
        return RegistryService(db).get_version(ctx, name, version)
    except NotFound as exc:
        raise NotFound(
            f"input {input_name!r}: {exc.message} (`shipyard model list` shows those there are)",
            input=input_name,
        ) from None


def find_data_asset(uow: UnitOfWork, workspace: str, input_name: str, reference: str) -> DataAsset:
    """``name:version`` or ``name@latest`` of a data asset; NotFound naming the input."""
    name, sep, version = reference.partition(":")
    if sep:
        found = uow.data_assets.get(workspace, name, version)
    else:
        name, _, label = reference.partition("@")
        if label != "latest":
            raise InvalidArgument(f"input {input_name!r}: data asset label {label!r} is unknown; use @latest")
        found = uow.data_assets.latest(workspace, name)
    if found is None:
        raise NotFound(
            f"input {input_name!r}: no data asset {reference!r} in workspace {workspace!r}"
            " (`shipyard data list` shows those there are)",
            input=input_name,
        )
    return found
