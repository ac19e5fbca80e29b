"""The model a deployment serves: which files, what kind, and a copy of them on this host.

A registered version (``azureml:name:version`` / ``azureml:name@alias``) is resolved to the
artifact-store folder behind it — the logged model (``models:/m-<id>``) or the run's artifact
path (``runs:/<run>/<path>``). A local folder arrives as an uploaded snapshot. A folder with
an ``MLmodel`` file is an MLflow model (served without code); anything else is ``custom``.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from shipyard.domain.context import RequestContext
from shipyard.domain.model_sources import parse_model_source
from shipyard.domain.paths import clean_relative_path, join_key
from shipyard.errors import InvalidArgument, NotFound
from shipyard.services.ports import ArtifactStore, Database
from shipyard.services.registry import RegistryService
from shipyard.services.snapshots import SnapshotService
from shipyard.specs.refs import AssetRef

__all__ = ["ModelFiles", "ResolvedModel"]

_MLMODEL = "MLmodel"
_CHUNK = 1 << 20
_MAX_TEXT = 1 << 20  # a requirements file; anything larger is not one


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """Where a deployment's model files are: an artifact-store ``prefix`` (a registered
    version) or a ``snapshot`` digest (an uploaded folder); ``kind`` decides how it is served."""

    kind: Literal["mlflow", "custom"]
    name: str | None = None
    version: int | None = None
    source: str = ""
    prefix: str | None = None
    snapshot: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResolvedModel:
        return cls(**data)

    def __str__(self) -> str:
        if self.name is not None:
            return f"{self.name}:{self.version} ({self.kind}, {self.source})"
        return f"uploaded folder {str(self.snapshot)[:12]} ({self.kind})"


class ModelFiles:
    def __init__(
        self, db: Database, store: ArtifactStore, registry: RegistryService, snapshots: SnapshotService
    ) -> None:
        self.db = db
        self.store = store
        self.registry = registry
        self.snapshots = snapshots

    def resolve(
        self, ctx: RequestContext, ref: AssetRef | None, snapshot: str | None
    ) -> ResolvedModel | None:
        """The model a deployment names, as the caller sees it; NotFound for an unknown
        version or empty files."""
        workspace = ctx.workspace
        if snapshot is not None:
            files = [f.path for f in self.snapshots.manifest(snapshot).files]
            if not files:
                raise InvalidArgument("the uploaded model folder is empty")
            return ResolvedModel(kind=_kind(files), snapshot=snapshot, source="upload")
        if ref is None:
            return None
        version = self.registry.get_version(ctx, ref.name, ref.version or ref.label or "latest")
        prefix = self._prefix(workspace, version.logged_model_id, version.source, version.run_id)
        files = [info.key[len(prefix) :].lstrip("/") for info in self.store.list(prefix)]
        if not files:
            raise NotFound(
                f"model {ref.name}:{version.version} has no files in the artifact store"
                f" (source {version.source})",
                name=ref.name,
            )
        return ResolvedModel(
            kind=_kind(files), name=ref.name, version=version.version, source=version.source, prefix=prefix
        )

    def _prefix(self, workspace: str, logged_model_id: str | None, source: str, run_id: str | None) -> str:
        with self.db.read() as uow:
            if logged_model_id:
                location = uow.logged_models.artifact_location(workspace, logged_model_id)
                if location is not None:
                    return location
            parsed = parse_model_source(source)
            if parsed.kind == "artifact":
                return parsed.path
            run = parsed.run_id or run_id
            ref = uow.runs.ref(run) if run else None
            if ref is None or ref.workspace != workspace:
                raise NotFound(f"the run behind model source {source!r} does not exist")
            path = clean_relative_path(parsed.path, allow_empty=True)
            return join_key(ref.artifact_uri, path) if path else ref.artifact_uri

    def read_text(self, model: ResolvedModel, path: str) -> str | None:
        """One small file of the model (``requirements.txt``…), or None when it has none."""
        clean = clean_relative_path(path)
        if model.snapshot is not None:
            try:
                stream, _ = self.snapshots.open_file(model.snapshot, clean)
            except NotFound:
                return None
        else:
            assert model.prefix is not None
            key = join_key(model.prefix, clean)
            if not self.store.exists(key):
                return None
            stream = self.store.get(key)
        with stream:
            data = stream.read(_MAX_TEXT + 1)
        if len(data) > _MAX_TEXT:
            raise InvalidArgument(
                f"{clean} of model {model} is over {_MAX_TEXT} bytes; is it a requirements file?"
            )
        return data.decode("utf-8", errors="replace")

    def materialize(self, model: ResolvedModel, dest: Path) -> None:
        """Copy the model's files into the new folder ``dest`` — whole or not at all."""
        if model.snapshot is not None:
            self.snapshots.materialize(model.snapshot, dest)
            return
        assert model.prefix is not None
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.partial-"))
        try:
            for info in self.store.list(model.prefix):
                rel = info.key[len(model.prefix) :].lstrip("/")
                target = tmp.joinpath(*clean_relative_path(rel).split("/"))
                target.parent.mkdir(parents=True, exist_ok=True)
                with self.store.get(info.key) as src, target.open("wb") as out:
                    shutil.copyfileobj(src, out, _CHUNK)
            tmp.rename(dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _kind(files: list[str]) -> Literal["mlflow", "custom"]:
    return "mlflow" if _MLMODEL in files else "custom"
