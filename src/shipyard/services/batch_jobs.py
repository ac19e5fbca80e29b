"""Invoking a batch endpoint: one command job per invocation, through :class:`JobService`.

The job runs ``python -m shipyard.serving.batch`` on the deployment's compute target with two
inputs — ``model`` (the deployment's pinned model snapshot) and ``data`` (the data asset named
by ``--input``) — its code snapshot as the working directory, and the scoring settings in
``SHIPYARD_BATCH_CONFIG`` (JSON). The job's log shows the progress; its run keeps
``outputs/<output_file_name>`` and ``outputs/batch_summary.json``.
"""

from __future__ import annotations

import json

from shipyard.domain.batch_endpoints import BatchDeployment, BatchInvocation
from shipyard.domain.context import RequestContext
from shipyard.domain.jobs import Job
from shipyard.errors import InvalidArgument, NotFound
from shipyard.services._clock import now_ms
from shipyard.services.batch_endpoints import BatchEndpointService
from shipyard.services.data_assets import DataAssetService
from shipyard.services.jobs import EnvironmentChoice, InputValue, JobService, JobSubmission
from shipyard.services.ports import Database
from shipyard.specs.refs import parse_asset_ref

__all__ = ["BATCH_COMMAND", "BATCH_CONFIG_VARIABLE", "BATCH_SQL_URL_VARIABLE", "BatchJobService"]

BATCH_CONFIG_VARIABLE = "SHIPYARD_BATCH_CONFIG"
BATCH_SQL_URL_VARIABLE = "SHIPYARD_BATCH_SQL_URL"
BATCH_COMMAND = "python -m shipyard.serving.batch --model ${{inputs.model}} --data ${{inputs.data}}"
_INPUT_TYPES = ("uri_file", "uri_folder")
MAX_LISTED_JOBS = 1000


class BatchJobService:
    def __init__(
        self, db: Database, endpoints: BatchEndpointService, data: DataAssetService, jobs: JobService
    ) -> None:
        self.db = db
        self.endpoints = endpoints
        self.data = data
        self.jobs = jobs

    def invoke(
        self,
        ctx: RequestContext,
        endpoint: str,
        input_ref: str,
        deployment: str | None = None,
        job_name: str | None = None,
    ) -> Job:
        """Score the data asset ``input_ref`` (``azureml:name@latest`` / ``azureml:name:version``)
        with ``deployment`` (default: the endpoint's default deployment); the job is queued."""
        found = self.endpoints.get(ctx, endpoint)
        name = deployment or found.default_deployment
        if name is None:
            raise InvalidArgument(
                f"batch endpoint {endpoint!r} has no default deployment; pass --deployment-name or"
                " create one with `shipyard batch-deployment create -f … --set-default`"
            )
        chosen = self.endpoints.get_deployment(ctx, endpoint, name)
        data_ref, data_type = self._data(ctx, input_ref)
        spec = chosen.spec
        env = spec["environment"]
        settings = spec["settings"]
        config = _config(chosen, data_type)
        job = self.jobs.create(
            ctx,
            JobSubmission(
                command=BATCH_COMMAND,
                inputs={
                    "model": InputValue("snapshot", spec["model"]["snapshot"], "uri_folder"),
                    "data": InputValue("data", data_ref, data_type),
                },
                code_digest=None if spec["code"] is None else spec["code"]["snapshot"],
                environment=EnvironmentChoice(
                    name=env.get("name"),
                    version=env.get("version"),
                    label=env.get("label"),
                    python=env.get("python"),
                    requirements=tuple(env.get("requirements") or ()),
                    image=env.get("image"),
                ),
                compute=spec["compute"],
                environment_variables={
                    **settings.get("environment_variables", {}),
                    BATCH_CONFIG_VARIABLE: json.dumps(config, sort_keys=True),
                    **_sql_url(chosen),
                },
                name=job_name,
                experiment_name=endpoint,
                description=f"batch scoring of {input_ref} by {endpoint}/{name}",
                tags={
                    "shipyard.batch.endpoint": endpoint,
                    "shipyard.batch.deployment": name,
                    "shipyard.batch.input": input_ref,
                },
                spec={"batch_endpoint": endpoint, "deployment": name, "input": input_ref},
            ),
        )
        with self.db.write() as uow:
            uow.batch_endpoints.add_invocation(
                ctx.workspace, BatchInvocation(endpoint, name, job.name, now_ms())
            )
        return job

    def list_jobs(self, ctx: RequestContext, endpoint: str, limit: int = 100) -> list[Job]:
        """The endpoint's jobs, newest first (jobs deleted since are left out)."""
        if not 1 <= limit <= MAX_LISTED_JOBS:
            raise InvalidArgument(f"max_results must be between 1 and {MAX_LISTED_JOBS}")
        self.endpoints.get(ctx, endpoint)
        with self.db.read() as uow:
            invocations = uow.batch_endpoints.invocations(ctx.workspace, endpoint, limit)
        out: list[Job] = []
        for invocation in invocations:
            try:
                out.append(self.jobs.get(ctx, invocation.job_name))
            except NotFound:
                continue
        return out

    def _data(self, ctx: RequestContext, input_ref: str) -> tuple[str, str]:
        if not input_ref.startswith("azureml:"):
            raise InvalidArgument(
                f"--input {input_ref!r} is not a data asset; register it with `shipyard data create`"
                " and pass azureml:<name>@latest or azureml:<name>:<version>"
            )
        ref = parse_asset_ref(input_ref, field="input")
        if ref.label is not None and ref.label != "latest":
            raise InvalidArgument(f"--input: data asset label {ref.label!r} is unknown; use @latest")
        try:
            asset = self.data.get(ctx, ref.name, ref.version or "latest")
        except NotFound:
            raise NotFound(
                f"--input: no data asset {input_ref.removeprefix('azureml:')!r} in workspace"
                f" {ctx.workspace!r}; register it with `shipyard data create`",
                input=input_ref,
            ) from None
        if asset.type not in _INPUT_TYPES:
            raise InvalidArgument(
                f"--input: data asset {asset.name}:{asset.version} is a {asset.type}; batch endpoints"
                " score a uri_file (CSV or Parquet) or a uri_folder of such files"
            )
        reference = f"{asset.name}:{asset.version}"  # pinned: a newer version does not change this job
        return reference, asset.type


def _config(deployment: BatchDeployment, data_type: str) -> dict[str, object]:
    spec = deployment.spec
    settings = spec["settings"]
    retry = settings["retry_settings"]
    return {
        "endpoint": deployment.endpoint,
        "deployment": deployment.name,
        "model_kind": spec["model"]["kind"],
        "scoring_script": None if spec["code"] is None else spec["code"]["scoring_script"],
        "input_type": data_type,
        "mini_batch_size": settings["mini_batch_size"],
        "concurrency": int(spec["instance_count"]) * int(settings["max_concurrency_per_instance"]),
        "max_retries": retry["max_retries"],
        "timeout_s": retry["timeout"],
        "error_threshold": settings["error_threshold"],
        "logging_level": settings["logging_level"],
        "output_action": settings["output_action"],
        "output_file_name": settings["output_file_name"],
        # The URL travels apart (BATCH_SQL_URL_VARIABLE): it may name a secret.
        "output": None if spec["output"] is None else {"table": spec["output"]["table"]},
    }


def _sql_url(deployment: BatchDeployment) -> dict[str, str]:
    """The SQL target as the job's own variable, ``${{secrets.…}}`` still in it: the runner
    reveals it into the process's environment only."""
    output = deployment.spec["output"]
    return {} if output is None else {BATCH_SQL_URL_VARIABLE: output["sql_url"]}
