"""MLflow's proxied artifact service: artifacts addressed by their full key in our store.

The ``mlflow`` client writes ``mlflow-artifacts:/<key>`` URIs the server handed out, so the
paths reaching us are store keys, not paths relative to a run. Only two kinds of key are
accepted, both under an experiment of the caller's workspace:

    <workspace>/<experiment id>/<run id>/artifacts/<path>        a run's artifacts
    <workspace>/<experiment id>/models/<model id>/artifacts/<path>   a logged model's

The run or the logged model must exist (a deleted run's files stay readable; a deleted
model's files are gone) and the key must lie under its own artifact location.
Run artifacts go through :class:`ArtifactService` (hash-checked, recorded in the artifact
index, so ``/api/v1`` lists them); logged-model files are written to the store directly.
Anything else — another workspace, an experiment's root, a made-up folder — is refused.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import BinaryIO

from anyio import to_thread

from shipyard.domain.context import RequestContext
from shipyard.domain.paths import clean_relative_path, join_key
from shipyard.errors import InvalidPath, NotFound
from shipyard.services.artifacts import ArtifactEntry, ArtifactService
from shipyard.services.ports import UnitOfWork
from shipyard.services.tracking import TrackingService

__all__ = ["ProxiedArtifactService", "ProxiedTarget"]

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_MODEL_ID = re.compile(r"^m-[0-9a-f]{1,64}$")
_HINT = (
    "<workspace>/<experiment id>/<run id>/artifacts/…"
    " or <workspace>/<experiment id>/models/<model id>/artifacts/…"
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
