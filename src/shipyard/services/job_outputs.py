"""Outputs a job file names become assets when the job completes, as in Azure ML.

An output with ``name`` (and optionally ``version``) in the job file::

    outputs:
      model: {type: custom_model, name: iris-model}        # → a model version in the registry
      scores: {type: uri_folder, name: scores, version: "3"}  # → a data asset version

is registered after its files are kept with the run: a ``uri_folder``/``uri_file`` output
becomes a data asset version (its files copied once into the content-addressed store), an
``mlflow_model``/``custom_model`` output a new version of that registered model, whose
source is ``runs:/<run id>/outputs/<output>``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shipyard.domain.context import Principal, RequestContext
from shipyard.domain.jobs import Job
from shipyard.errors import InvalidArgument, ShipyardError
from shipyard.services.data_assets import DataAssetService
from shipyard.services.registry import RegistryService
from shipyard.services.snapshots import SnapshotService

__all__ = ["OutputRegistrar"]

log = logging.getLogger("shipyard.jobs")

_MODEL_TYPES = frozenset({"mlflow_model", "custom_model"})


class OutputRegistrar:
    def __init__(self, snapshots: SnapshotService, data: DataAssetService, registry: RegistryService) -> None:
        self.snapshots = snapshots
        self.data = data
        self.registry = registry

    def register(self, job: Job, outputs_dir: Path, say: Callable[[str], None], submitter: Principal) -> None:
        """Register every named output of a completed job as its ``submitter`` may; each
        failure is said, not raised: the job's own work succeeded and its files are kept
        with the run either way."""
        declared: dict[str, Any] = (job.spec.get("file") or {}).get("outputs") or {}
        ctx = RequestContext(principal=submitter, workspace=job.workspace)
        for output, spec in sorted(declared.items()):
            if not isinstance(spec, dict) or not spec.get("name"):
                continue
            kind = str(spec.get("type") or "uri_folder")
            needed = "models:write" if kind in _MODEL_TYPES else "data:write"
            if not ctx.may(needed):
                say(
                    f"output {output}: not registered as {spec['name']}: {submitter.name!r} may not"
                    f" ({needed} in workspace {job.workspace!r}); its files stay with the run"
                )
                continue
            try:
                say(self._register_one(ctx, job, output, spec, outputs_dir / output))
            except ShipyardError as exc:  # the user's to fix (a taken version, no files): said, no more
                say(f"output {output}: not registered as {spec['name']}: {exc.message}")
            except Exception as exc:  # the job stays Completed: its own work succeeded
                # Not the user's mistake but ours: the job's log says what failed, and the
                # server log keeps the traceback, which is what a fix needs.
                log.exception("job %s: registering output %s as %s failed", job.name, output, spec["name"])
                say(
                    f"output {output}: not registered as {spec['name']}: {type(exc).__name__}: {exc}"
                    " (a bug: the server log has the traceback)"
                )

    def _register_one(
        self, ctx: RequestContext, job: Job, output: str, spec: dict[str, Any], folder: Path
    ) -> str:
        kind = str(spec.get("type") or "uri_folder")
        name = str(spec["name"])
        version = None if spec.get("version") is None else str(spec["version"])
        if kind in _MODEL_TYPES:
            registered = self.registry.register(
                ctx,
                name,
                job.run_id,
                f"outputs/{output}",
                description=str(spec.get("description") or f"output {output} of job {job.name}"),
                tags={"shipyard.job.name": job.name},
            )
            note = "" if version is None else f" (the registry numbers versions itself; {version!r} not used)"
            return f"output {output}: registered model {name} version {registered.version}{note}"
        snapshot = self.snapshots.snapshot_local_folder(folder)
        if not snapshot.files:
            raise InvalidArgument("the job wrote no files there")
        if kind == "uri_file" and len(snapshot.files) != 1:
            raise InvalidArgument(f"a uri_file output must hold one file, not {len(snapshot.files)}")
        asset = self.data.create(
            ctx,
            name,
            version,
            type=kind,
            snapshot=snapshot.digest,
            description=str(spec.get("description") or f"output {output} of job {job.name}"),
            tags={"shipyard.job.name": job.name, "shipyard.job.run_id": job.run_id},
        )
        return f"output {output}: registered data asset {asset.name}:{asset.version}"
