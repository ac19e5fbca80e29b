"""MLflow's proxied artifact service: artifacts addressed by their full key in our store.

The ``mlflow`` client writes ``mlflow-artifacts:/<key>`` URIs the server handed out, so the
paths reaching us are store keys, not paths relative to a run. Only two kinds of key are
accepted, all under an experiment of the caller's workspace:

    <workspace>/<experiment id>/<run id>/artifacts/<path>        a run's artifacts
    <workspace>/<experiment id>/models/<model id>/artifacts/<path>   a logged model's
    <workspace>/<experiment id>/traces/<trace id>/artifacts/attachments/<uuid>
                                                                   a trace's attachment

The run, logged model or trace must exist (a deleted run's files stay readable; a deleted
model's files are gone) and the key must lie under its own artifact location. A trace's
folder takes only what MLflow's client puts there: attachments (images, audio, PDFs a span's
inputs or outputs hold), one file each, named by a canonical UUID — its spans live in the
database. Run artifacts go through :class:`ArtifactService` (hash-checked, recorded in the
artifact index, so ``/api/v1`` lists them); logged-model files and trace attachments are
written to the store directly.
Anything else — another workspace, an experiment's root, a made-up folder — is refused.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import BinaryIO

from anyio import to_thread

from shipyard.domain.context import RequestContext
from shipyard.domain.paths import clean_relative_path, join_key
from shipyard.errors import InvalidPath, NotFound
from shipyard.services.artifacts import ArtifactEntry, ArtifactService
from shipyard.services.ports import UnitOfWork
from shipyard.services.trace_payloads import trace_folder
from shipyard.services.trace_ports import TRACES
from shipyard.services.tracking import TrackingService

__all__ = ["ProxiedArtifactService", "ProxiedTarget"]

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_MODEL_ID = re.compile(r"^m-[0-9a-f]{1,64}$")
_HINT = (
    "<workspace>/<experiment id>/<run id>/artifacts/…"
    ", <workspace>/<experiment id>/models/<model id>/artifacts/…"
    " or <workspace>/<experiment id>/traces/<trace id>/artifacts/attachments/<uuid>"
)


@dataclass(frozen=True, slots=True)
class ProxiedTarget:
    """Where a proxied path lands: a run's artifact (``run_id`` and ``path`` inside its
    root) or a logged model's file (``run_id`` None, ``key`` only)."""

    key: str
    run_id: str | None
    path: str


class ProxiedArtifactService:
    def __init__(self, artifacts: ArtifactService) -> None:
        self.artifacts = artifacts
        self.db = artifacts.db
        self.store = artifacts.store

    def resolve(self, ctx: RequestContext, path: str, *, allow_root: bool = False) -> ProxiedTarget:
        """Confine ``path`` to a run's or a logged model's artifact root in ``ctx``'s workspace."""
        clean = clean_relative_path(path)
        parts = clean.split("/")
        if len(parts) < 4 or parts[0] != ctx.workspace:
            raise InvalidPath(f"artifact paths look like {_HINT}", path=clean)
        with self.db.read() as uow:
            experiment = TrackingService._experiment(uow, ctx, parts[1])
            if parts[2] == "models":
                if len(parts) < 5 or not _MODEL_ID.match(parts[3]) or parts[4] != "artifacts":
                    raise InvalidPath(f"artifact paths look like {_HINT}", path=clean)
                root = self._model_root(uow, ctx, parts[3])
                if root != join_key(experiment.artifact_location, "models", parts[3], "artifacts"):
                    raise InvalidPath(
                        f"logged model {parts[3]} keeps its files under {root!r}, not in experiment"
                        f" {experiment.id}",
                        path=clean,
                    )
                run_id = None
            elif parts[2] == "traces":
                root = self._trace_root(uow, ctx, experiment.id, parts, clean)
                run_id = None
            else:
                if not _RUN_ID.match(parts[2]) or parts[3] != "artifacts":
                    raise InvalidPath(f"artifact paths look like {_HINT}", path=clean)
                ref = TrackingService._ref(uow, ctx, parts[2], allow_deleted=True)
                root, run_id = ref.artifact_uri, ref.run_id
        if clean != root and not clean.startswith(root + "/"):
            raise InvalidPath("the path is not inside the artifact root it names", path=clean)
        inner = clean[len(root) + 1 :]
        if not inner and not allow_root:
            raise InvalidPath("name a file inside the artifact root, not the root itself", path=clean)
        return ProxiedTarget(key=clean, run_id=run_id, path=inner)

    @staticmethod
    def _trace_root(
        uow: UnitOfWork, ctx: RequestContext, experiment_id: str, parts: list[str], clean: str
    ) -> str:
        # <ws>/<exp>/traces/<trace id>/artifacts[/attachments/<uuid>]: nothing else, and no
        # deeper — MLflow's client writes one file per attachment, named by its UUID.
        if len(parts) < 5 or parts[4] != "artifacts" or len(parts) > 7:
            raise InvalidPath(f"artifact paths look like {_HINT}", path=clean)
        if len(parts) >= 6 and parts[5] != "attachments":
            raise InvalidPath("a trace's artifact folder holds only its attachments/", path=clean)
        if len(parts) == 7 and not _canonical_uuid(parts[6]):
            raise InvalidPath(
                f"Invalid attachment path: '{parts[6]}'. Attachment path must be a valid UUID.", path=clean
            )
        trace_id = parts[3]
        found = uow[TRACES].ref(ctx.workspace, trace_id) if len(trace_id) <= 128 else None
        if found is None or found.experiment_id != experiment_id:
            raise NotFound(f"Trace with ID '{trace_id}' not found.", trace_id=trace_id)
        return trace_folder(found.artifact_location, trace_id) + "/artifacts"

    @staticmethod
    def _model_root(uow: UnitOfWork, ctx: RequestContext, model_id: str) -> str:
        root = uow.logged_models.artifact_location(ctx.workspace, model_id)
        if root is None:
            raise NotFound(
                f"no logged model with id {model_id!r} in workspace {ctx.workspace!r}", model_id=model_id
            )
        return root

    async def upload(self, ctx: RequestContext, path: str, body: AsyncIterable[bytes]) -> None:
        target = await to_thread.run_sync(lambda: self.resolve(ctx, path))
        if target.run_id is not None:
            await self.artifacts.upload(ctx, target.run_id, target.path, body)
        else:
            await self.artifacts.put_stream(target.key, body)

    def open(self, ctx: RequestContext, path: str) -> BinaryIO:
        target = self.resolve(ctx, path)
        if target.run_id is not None:
            return self.artifacts.open(ctx, target.run_id, target.path)[0]
        return self.store.get(target.key)

    def open_trace_attachment(self, ctx: RequestContext, trace_id: str, attachment_id: str) -> BinaryIO:
        """An attachment of a trace by its id (what MLflow's UI asks ``get-trace-artifact``)."""
        if not _canonical_uuid(attachment_id):
            raise InvalidPath(
                f"Invalid attachment path: '{attachment_id}'. Attachment path must be a valid UUID.",
                path=attachment_id,
            )
        with self.db.read() as uow:
            found = uow[TRACES].ref(ctx.workspace, trace_id) if len(trace_id) <= 128 else None
        if found is None:
            raise NotFound(f"Trace with ID '{trace_id}' not found.", trace_id=trace_id)
        key = join_key(
            trace_folder(found.artifact_location, trace_id), "artifacts", "attachments", attachment_id
        )
        return self.store.get(key)

    def list(self, ctx: RequestContext, path: str) -> list[ArtifactEntry]:
        """Immediate children of a folder, named relative to it; [] for a file or nothing."""
        target = self.resolve(ctx, path, allow_root=True)
        base = f"{target.path}/" if target.path else ""
        if target.run_id is not None:
            with self.db.read() as uow:
                ref = TrackingService._ref(uow, ctx, target.run_id, allow_deleted=True)
                records = uow.artifacts.under(ref, target.path)
            files = [(r.path[len(base) :], r.size) for r in records if r.path != target.path]
        else:
            prefix = target.key + "/"
            files = [
                (info.key[len(prefix) :], info.size)
                for info in self.store.list(target.key)
                if info.key.startswith(prefix)
            ]
        entries: dict[str, ArtifactEntry] = {}
        for rest, size in files:
            head, sep, _ = rest.partition("/")
            if sep:
                entries.setdefault(head, ArtifactEntry(head, True, None, None))
            else:
                entries[head] = ArtifactEntry(head, False, size, None)
        return sorted(entries.values(), key=lambda e: e.path)

    def delete(self, ctx: RequestContext, path: str) -> None:
        """Delete a file or a whole folder; NotFound when there is nothing there."""
        target = self.resolve(ctx, path, allow_root=True)
        if target.run_id is not None:
            with self.db.write() as uow:
                ref = TrackingService._ref(uow, ctx, target.run_id)
                doomed = [r.path for r in uow.artifacts.under(ref, target.path)]
                uow.artifacts.forget(ref, doomed)
            keys = [join_key(ref.artifact_uri, p) for p in doomed]
        else:
            keys = [info.key for info in self.store.list(target.key)]
        if not keys:
            raise NotFound(f"no artifact at {target.key!r}", path=target.key)
        for key in keys:
            self.store.delete(key)


def _canonical_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False
