"""Batch endpoints and their deployments: create, read, update, delete, choose the default.

A deployment is checked whole when it is created — endpoint, model (a registered version or
an uploaded folder; an MLflow model needs no code, any other a scoring script with
``init()``/``run(mini_batch)``), environment, compute target — and its model files are pinned
as a content-addressed snapshot, which every invocation's job then receives as an input.
Nothing runs until ``invoke`` (:mod:`shipyard.services.batch_jobs`). An update checks and
pins the new file the same way and replaces the stored spec: a job copies what it needs when
it is created, so the jobs already queued or running keep the spec they started with.
"""

from __future__ import annotations

import builtins
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from shipyard.domain.batch_endpoints import BatchDeployment, BatchEndpoint
from shipyard.domain.context import RequestContext
from shipyard.domain.validation import check_description
from shipyard.errors import InvalidSpec, NotFound
from shipyard.services._clock import now_ms
from shipyard.services.access.secrets import SecretService
from shipyard.services.endpoint_models import ModelFiles, ResolvedModel
from shipyard.services.job_assets import ComputeService, EnvironmentService
from shipyard.services.job_specs import InlineEnvironmentValues, environment_choice
from shipyard.services.ports import Database
from shipyard.services.snapshots import SnapshotService
from shipyard.services.tracking import TrackingService
from shipyard.specs.batch_endpoint import BatchDeploymentSpec, BatchEndpointSpec
from shipyard.specs.deployment import InlineModel
from shipyard.specs.refs import AssetRef, parse_asset_ref

__all__ = ["BatchDeploymentRequest", "BatchEndpointService", "batch_endpoint_not_found"]


def batch_endpoint_not_found(workspace: str, name: str) -> NotFound:
    return NotFound(
        f"no batch endpoint named {name!r} in workspace {workspace!r};"
        " create it with `shipyard batch-endpoint create -f endpoint.yml`",
        name=name,
    )


@dataclass(frozen=True, slots=True)
class BatchDeploymentRequest:
    """A batch deployment file as the server receives it: local folders already uploaded."""

    spec: BatchDeploymentSpec
    source: str = "deployment.yml"
    raw: Mapping[str, Any] | None = None
    model_snapshot: str | None = None
    code_snapshot: str | None = None
    environment: InlineEnvironmentValues | None = None
    set_default: bool = False


class BatchEndpointService:
    def __init__(
        self,
        db: Database,
        models: ModelFiles,
        snapshots: SnapshotService,
        environments: EnvironmentService,
        computes: ComputeService,
        secrets: SecretService | None = None,
    ) -> None:
        self.db = db
        self.secrets = secrets  # checks ${{secrets.…}} in files; None: none allowed to matter (tests)
        self.models = models
        self.snapshots = snapshots
        self.environments = environments
        self.computes = computes

    # -- endpoints ---------------------------------------------------------------------

    def create(self, ctx: RequestContext, spec: BatchEndpointSpec) -> BatchEndpoint:
        check_description(spec.description)
        tags = TrackingService._check_tags(dict(spec.tags))
        now = now_ms()
        endpoint = BatchEndpoint(
            name=spec.name,
            workspace=ctx.workspace,
            description=spec.description or "",
            tags=tags,
            default_deployment=None,
            created_at=now,
            created_by=ctx.principal.name,
            updated_at=now,
            spec={**spec.model_dump(mode="json", exclude_none=True), "notes": spec.notes()},
        )
        with self.db.write() as uow:
            ws = uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now)
            uow.batch_endpoints.create(ws, endpoint)
        return endpoint

    def get(self, ctx: RequestContext, name: str) -> BatchEndpoint:
        with self.db.read() as uow:
            found = uow.batch_endpoints.get(ctx.workspace, name)
        if found is None:
            raise batch_endpoint_not_found(ctx.workspace, name)
        return found

    def list(self, ctx: RequestContext) -> list[BatchEndpoint]:
        with self.db.read() as uow:
            return uow.batch_endpoints.list(ctx.workspace)

    def delete(self, ctx: RequestContext, name: str) -> None:
        """The endpoint with its deployments; the jobs it ran stay, with their outputs."""
        with self.db.write() as uow:
            if not uow.batch_endpoints.delete(ctx.workspace, name):
                raise batch_endpoint_not_found(ctx.workspace, name)

    # -- deployments -------------------------------------------------------------------

    def get_deployment(self, ctx: RequestContext, endpoint: str, name: str) -> BatchDeployment:
        with self.db.read() as uow:
            found = uow.batch_deployments.get(ctx.workspace, endpoint, name)
            known = found is not None or uow.batch_endpoints.get(ctx.workspace, endpoint) is not None
        if found is None:
            if not known:
                raise batch_endpoint_not_found(ctx.workspace, endpoint)
            raise _deployment_not_found(endpoint, name)
        return found

    def list_deployments(self, ctx: RequestContext, endpoint: str) -> builtins.list[BatchDeployment]:
        with self.db.read() as uow:
            if uow.batch_endpoints.get(ctx.workspace, endpoint) is None:
                raise batch_endpoint_not_found(ctx.workspace, endpoint)
            return uow.batch_deployments.list(ctx.workspace, endpoint)

    def create_deployment(self, ctx: RequestContext, request: BatchDeploymentRequest) -> BatchDeployment:
        """Checked whole first; the first deployment of an endpoint becomes its default."""
        spec = request.spec
        self.get(ctx, spec.endpoint_name)
        resolved, summary = self._resolve(ctx, request, "create")
        now = now_ms()
        deployment = BatchDeployment(
            endpoint=spec.endpoint_name,
            name=spec.name,
            workspace=ctx.workspace,
            spec=resolved,
            model=summary,
            created_at=now,
            created_by=ctx.principal.name,
            updated_at=now,
        )
        with self.db.write() as uow:
            endpoint = uow.batch_endpoints.get(ctx.workspace, spec.endpoint_name)
            if endpoint is None:
                raise batch_endpoint_not_found(ctx.workspace, spec.endpoint_name)
            uow.batch_deployments.create(ctx.workspace, deployment)
            if request.set_default or endpoint.default_deployment is None:
                uow.batch_endpoints.set_default(ctx.workspace, spec.endpoint_name, spec.name, now)
        return deployment

    def update_deployment(self, ctx: RequestContext, request: BatchDeploymentRequest) -> BatchDeployment:
        """Replace the deployment's spec, checked whole as on create; the next invoke uses it."""
        spec = request.spec
        current = self.get_deployment(ctx, spec.endpoint_name, spec.name)
        resolved, summary = self._resolve(ctx, request, "update")
        now = now_ms()
        deployment = replace(current, spec=resolved, model=summary, updated_at=now)
        with self.db.write() as uow:
            if not uow.batch_deployments.update(ctx.workspace, deployment):
                raise _deployment_not_found(spec.endpoint_name, spec.name)
            if request.set_default:
                uow.batch_endpoints.set_default(ctx.workspace, spec.endpoint_name, spec.name, now)
        return deployment

    def delete_deployment(self, ctx: RequestContext, endpoint: str, name: str) -> None:
        """Deleting the default leaves the endpoint without one until another is set."""
        with self.db.write() as uow:
            found = uow.batch_endpoints.get(ctx.workspace, endpoint)
            if found is None:
                raise batch_endpoint_not_found(ctx.workspace, endpoint)
            if not uow.batch_deployments.delete(ctx.workspace, endpoint, name):
                raise _deployment_not_found(endpoint, name)
            if found.default_deployment == name:
                uow.batch_endpoints.set_default(ctx.workspace, endpoint, None, now_ms())

    # -- checking a request --------------------------------------------------------------

    def _resolve(
        self, ctx: RequestContext, request: BatchDeploymentRequest, verb: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        spec = request.spec
        command = f"shipyard batch-deployment {verb} -f"
        if self.secrets is not None:
            referring = [*spec.settings.environment_variables.values()]
            if spec.output is not None:
                referring.append(spec.output.sql_url)
            self.secrets.check_refs(ctx, referring, request.source)
        model = self.models.resolve(ctx, _model_ref(spec, request, command), request.model_snapshot)
        assert model is not None  # the spec requires a model
        code = None
        if spec.code_configuration is not None:
            code = self._code(request, command)
        elif model.kind != "mlflow":
            raise InvalidSpec(
                f"{request.source}: {model} has no MLmodel file, so it is not an MLflow model; add"
                " code_configuration {code, scoring_script} with init() and run(mini_batch)",
                field="code_configuration",
            )
        choice = environment_choice(
            spec.environment,
            request.environment,
            request.source,
            "deployment",
            command,
        )
        env = self.environments.resolve_in(ctx.workspace, choice)
        compute = self.computes.resolve(ctx, spec.compute_name)
        digest = self._pin(model)
        summary = {
            "kind": model.kind,
            "name": model.name,
            "version": model.version,
            "source": model.source,
            "snapshot": digest,
        }
        resolved: dict[str, Any] = {
            "model": summary,
            "code": code,
            "environment": {
                "name": choice.name,
                "version": choice.version,
                "label": choice.label,
                "python": choice.python,
                "requirements": list(choice.requirements),
                "image": choice.image,
                "source": env.source,
            },
            "compute": compute.name,
            "instance_count": spec.instance_count,
            "settings": spec.settings.model_dump(mode="json"),
            "output": None if spec.output is None else spec.output.model_dump(mode="json"),
            "description": spec.description or "",
            "tags": TrackingService._check_tags(dict(spec.tags)),
            "notes": spec.notes(),
            "file": dict(request.raw or {}),
        }
        return resolved, summary

    def _code(self, request: BatchDeploymentRequest, command: str) -> dict[str, str]:
        spec = request.spec
        assert spec.code_configuration is not None
        if not request.code_snapshot:
            raise InvalidSpec(
                f"{request.source}: code_configuration.code '{spec.code_configuration.code}' was not"
                f" uploaded; send the file with `{command}`",
                field="code_configuration.code",
            )
        script = Path(spec.code_configuration.scoring_script).as_posix()
        files = {f.path for f in self.snapshots.manifest(request.code_snapshot).files}
        if script not in files:
            raise InvalidSpec(
                f"{request.source}: scoring_script '{script}' is not in the uploaded code folder",
                field="code_configuration.scoring_script",
            )
        return {"snapshot": request.code_snapshot, "scoring_script": script}

    def _pin(self, model: ResolvedModel) -> str:
        """The model's files as a snapshot (content-addressed: no new blob for known files)."""
        if model.snapshot is not None:
            return model.snapshot
        with tempfile.TemporaryDirectory(prefix="shipyard-batch-model-") as tmp:
            folder = Path(tmp) / "model"
            self.models.materialize(model, folder)
            return self.snapshots.snapshot_local_folder(folder).digest


def _deployment_not_found(endpoint: str, name: str) -> NotFound:
    return NotFound(f"batch endpoint {endpoint!r} has no deployment named {name!r}", name=name)


def _model_ref(spec: BatchDeploymentSpec, request: BatchDeploymentRequest, command: str) -> AssetRef | None:
    model = spec.model
    if model is None or request.model_snapshot:
        return None
    if isinstance(model, InlineModel):
        if model.path is None:
            assert model.name is not None
            return AssetRef(name=model.name, version=model.version)
        where = "model.path"
    elif model.startswith("azureml:"):
        return parse_asset_ref(model, field="model")
    else:
        where = "model"
    raise InvalidSpec(
        f"{request.source}: the model is a local path, which the server cannot read;"
        f" send the file with `{command}` (which uploads it)",
        field=where,
    )
