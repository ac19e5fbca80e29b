"""Deployments of online endpoints: checked and recorded at once, brought up in the background.

``create`` and ``update`` check everything a user can get wrong — the endpoint, the model
(a registered version or an uploaded folder; an MLflow model needs no code, any other model a
scoring script), the environment — record the deployment as ``Creating``/``Updating`` with a
revision hash, and return: that record is the desired state, and any server may take the call.
One server with the ``serving`` role takes a lease on the row
(:mod:`~shipyard.services.endpoint_rollouts`: claimed with ``SKIP LOCKED``, renewed by a
heartbeat, taken over by another when it lapses) and, in a background thread, materialises
the model and the code into
``<home>/deployments/<workspace>/<endpoint>/<deployment>/<revision>/`` (atomically), builds the
environment (the one the file names; for a no-code MLflow model without one, the model's own:
:mod:`~shipyard.services.endpoint_environments`), hands a :class:`DeploymentPlan` to the
runtime and waits until every worker is ready: ``Succeeded``, or ``Failed`` with the reason.
Each stage is written to the deployment's preparation log as it happens — what
:meth:`DeploymentService.progress` serves to a client following it. Every other serving server
runs a ``Succeeded`` revision it did not bring up itself as a scoring replica does
(:meth:`DeploymentService.follow`, driven by :class:`~shipyard.services.scoring_replica.ScoringReplica`),
and stops a deleted deployment's workers (:meth:`DeploymentService.unfollow`); so does a
server at its start, for every ``Succeeded`` deployment.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import shipyard
from shipyard.domain.context import RequestContext
from shipyard.domain.endpoints import Deployment, DeploymentState, refuse_delete_with_traffic
from shipyard.errors import Conflict, InvalidSpec, NotFound, ShipyardError
from shipyard.services._clock import now_ms
from shipyard.services.access.process_credentials import ProcessCredentials
from shipyard.services.endpoint_environments import model_environment, read_model_requirements
from shipyard.services.endpoint_logs import (
    FilePreparationLogs,
    PreparationLogs,
    instance_line,
    tree,
)
from shipyard.services.endpoint_models import ModelFiles, ResolvedModel
from shipyard.services.endpoint_ports import Finish, Rollout
from shipyard.services.endpoint_settings import request_settings
from shipyard.services.endpoints import EndpointService, endpoint_not_found
from shipyard.services.environment_ports import (
    EnvironmentBuilder,
    EnvironmentRequest,
    server_environment,
    spec_hash,
)
from shipyard.services.job_assets import EnvironmentService
from shipyard.services.job_specs import InlineEnvironmentValues, environment_choice
from shipyard.services.ports import Database
from shipyard.services.serving_ports import (
    DeploymentKey,
    DeploymentPlan,
    DeploymentRuntime,
    InstanceState,
    Probe,
)
from shipyard.services.snapshots import SnapshotService
from shipyard.specs.deployment import OnlineDeploymentSpec, RequestSettings
from shipyard.specs.refs import AssetRef, parse_asset_ref

__all__ = ["DeploymentProgress", "DeploymentRequest", "DeploymentService"]

log = logging.getLogger(__name__)

_PLAN_KEYS = (
    "model",
    "code",
    "environment",
    "instance_count",
    "request_settings",
    "liveness_probe",
    "readiness_probe",
    "environment_variables",
)
_MAX_READY_WAIT_S = 900.0
_WATCH_S = 0.2  # how often bringing workers up looks at their states, to say what changed


@dataclass(frozen=True, slots=True)
class DeploymentRequest:
    """A deployment file as the server receives it: local folders already uploaded."""

    spec: OnlineDeploymentSpec
    source: str = "deployment.yml"
    raw: Mapping[str, Any] | None = None
    model_snapshot: str | None = None
    code_snapshot: str | None = None
    environment: InlineEnvironmentValues | None = None
    all_traffic: bool = False


@dataclass(frozen=True, slots=True)
class DeploymentProgress:
    """A deployment's state and what its preparation log gained since ``offset`` was asked:
    ``text`` (whole lines) and the ``offset`` to ask from next."""

    deployment: Deployment
    text: str
    offset: int


class DeploymentService:
    def __init__(
        self,
        db: Database,
        endpoints: EndpointService,
        models: ModelFiles,
        snapshots: SnapshotService,
        environments: EnvironmentService,
        builder: EnvironmentBuilder | None,
        runtime: DeploymentRuntime | None,
        deployments_dir: Path,
        credentials: ProcessCredentials | None = None,
        preparation: PreparationLogs | None = None,
        *,
        worker_logs: PreparationLogs | None = None,
        owner: str = "local",
        owner_label: str = "local",
        lease_s: float = 10.0,
    ) -> None:
        self.db = db
        # Who this server is when it holds a deployment's lease (kept across restarts, so a
        # restarted server takes back at once what it was bringing up), and for how long.
        self.owner = owner
        self.owner_label = owner_label
        self.lease_ms = int(lease_s * 1000)
        # Called after a change is recorded: the server's rollouts look for work at once
        # instead of at their next poll (set by DeploymentRollouts.start).
        self.wake: Callable[[], None] = lambda: None
        # What runs in this server's runtime (key → revision), and what it is bringing up
        # now; one lock orders a follower's apply against a rollout claimed meanwhile.
        self.running: dict[DeploymentKey, str] = {}
        self._provisioning: set[DeploymentKey] = set()
        self._apply_lock = threading.Lock()
        # Where the preparation logs go: a server's are data, shared by all servers
        # (endpoint_logs.StreamPreparationLogs); default: a file per deployment.
        self.preparation = preparation or FilePreparationLogs(deployments_dir)
        # The workers' output shared by every serving server; None: each server's file only.
        self.worker_logs = worker_logs
        # Reveals ${{secrets.…}} into the workers' environment; None: no secrets (tests).
        self.credentials = credentials
        self.endpoints = endpoints
        self.models = models
        self.snapshots = snapshots
        self.environments = environments
        self.builder = builder
        self.runtime = runtime  # None: a server that only reads deployments
        self.deployments_dir = deployments_dir
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="shipyard-deploy")
        self._closing = threading.Event()

    # -- reading -----------------------------------------------------------------------

    def get(self, ctx: RequestContext, endpoint: str, name: str) -> Deployment:
        with self.db.read() as uow:
            found = uow.deployments.get(ctx.workspace, endpoint, name)
            known = found is not None or uow.endpoints.get(ctx.workspace, endpoint) is not None
        if found is None:
            if not known:
                raise endpoint_not_found(ctx.workspace, endpoint)
            raise NotFound(f"endpoint {endpoint!r} has no deployment named {name!r}", name=name)
        return found

    def list(self, ctx: RequestContext, endpoint: str) -> list[Deployment]:
        with self.db.read() as uow:
            if uow.endpoints.get(ctx.workspace, endpoint) is None:
                raise endpoint_not_found(ctx.workspace, endpoint)
            return uow.deployments.list(ctx.workspace, endpoint)

    def logs(self, ctx: RequestContext, endpoint: str, name: str, lines: int = 100) -> str:
        """The preparation log (model, code, environment), then the workers' log."""
        self.get(ctx, endpoint, name)
        key = DeploymentKey(ctx.workspace, endpoint, name)
        prepared = self.preparation.tail(key, lines)
        return prepared + self._workers_log(key, lines)

    def _workers_log(self, key: DeploymentKey, lines: int) -> str:
        """This server's own workers' log when it has one (whole, with what is not shared
        yet); otherwise what the serving servers shared."""
        if self.runtime is not None:
            try:
                return self.runtime.logs(key, lines)
            except NotFound:
                pass
        return "" if self.worker_logs is None else self.worker_logs.tail(key, lines)

    def progress(self, ctx: RequestContext, endpoint: str, name: str, offset: int) -> DeploymentProgress:
        """What bringing the deployment up has said since byte ``offset`` of its preparation log
        (-1: nothing, just the end to follow from), and its state. The state is read first:
        once it is Succeeded or Failed, the text holds every line written before it."""
        deployment = self.get(ctx, endpoint, name)
        key = DeploymentKey(ctx.workspace, endpoint, name)
        text, end = self.preparation.read_from(key, offset)
        return DeploymentProgress(deployment, text, end)

    # -- changing ----------------------------------------------------------------------

    def create(self, ctx: RequestContext, request: DeploymentRequest) -> Deployment:
        spec = request.spec
        resolved, model = self._resolve(ctx, request)
        revision = _revision(resolved)
        now = now_ms()
        deployment = Deployment(
            endpoint=spec.endpoint_name,
            name=spec.name,
            workspace=ctx.workspace,
            state=DeploymentState.CREATING,
            reason="",
            revision=revision,
            spec=resolved,
            model=model,
            created_at=now,
            created_by=ctx.principal.name,
            updated_at=now,
        )
        with self.db.write() as uow:
            uow.deployments.create(ctx.workspace, deployment, all_traffic=request.all_traffic)
        self.endpoints.invalidate(ctx.workspace, spec.endpoint_name)
        self.wake()
        return deployment

    def update(self, ctx: RequestContext, request: DeploymentRequest) -> Deployment:
        """A new revision, rolled out without a gap: new workers are ready before old ones stop."""
        spec = request.spec
        current = self.get(ctx, spec.endpoint_name, spec.name)
        if current.busy:
            raise Conflict(
                f"deployment {spec.name!r} is {current.state}; wait until it has finished",
                state=str(current.state),
            )
        resolved, model = self._resolve(ctx, request)
        revision = _revision(resolved)
        with self.db.write() as uow:
            uow.deployments.update(
                ctx.workspace,
                spec.endpoint_name,
                spec.name,
                now_ms(),
                state=DeploymentState.UPDATING,
                revision=revision,
                spec=resolved,
                model=model,
                # a newer revision without the flag replaces an earlier wish
                all_traffic=request.all_traffic,
            )
        self.endpoints.invalidate(ctx.workspace, spec.endpoint_name)
        self.wake()
        return self.get(ctx, spec.endpoint_name, spec.name)

    def delete(self, ctx: RequestContext, endpoint: str, name: str) -> None:
        """Refused (409) while the deployment receives live or mirrored traffic."""
        with self.db.write() as uow:
            found = uow.endpoints.get(ctx.workspace, endpoint)
            if found is None:
                raise endpoint_not_found(ctx.workspace, endpoint)
            if uow.deployments.get(ctx.workspace, endpoint, name) is None:
                raise NotFound(f"endpoint {endpoint!r} has no deployment named {name!r}", name=name)
            refuse_delete_with_traffic(found, name)
            uow.deployments.delete(ctx.workspace, endpoint, name)
            traffic = {d: w for d, w in found.traffic.items() if d != name}
            uow.endpoints.update(ctx.workspace, endpoint, now_ms(), traffic=traffic)
        self.endpoints.invalidate(ctx.workspace, endpoint)
        # The other servers stop theirs when they next look (a wake-up, or their poll).
        self.unfollow(DeploymentKey(ctx.workspace, endpoint, name))

    # -- this server's share of the work ---------------------------------------------------

    def claim(self, *, own: bool = False) -> int:
        """Take the lease of Creating/Updating deployments nobody brings up (``own``: also
        those this server held before it restarted) and bring each up in the background."""
        if self.runtime is None or self._closing.is_set():
            return 0
        with self.db.read() as uow:
            # Most looks find nothing to do: they need no write transaction (SQLite's lock).
            if not uow.deployments.in_states([DeploymentState.CREATING, DeploymentState.UPDATING]):
                return 0
        with self.db.write() as uow:
            taken = uow.deployments.claim(self.owner, now_ms(), self.lease_ms, own=own)
        started = 0
        for rollout in taken:
            d = rollout.deployment
            key = DeploymentKey(d.workspace, d.endpoint, d.name)
            with self._apply_lock:
                if key in self._provisioning:
                    continue  # ours already, still coming up
                self._provisioning.add(key)
            self._say_claimed(key, rollout)
            self._pool.submit(self._bring_up, key, d.revision, d.spec)
            started += 1
        return started

    def renew(self) -> None:
        """The heartbeat: keep the leases of what this server is bringing up."""
        with self._apply_lock:
            if not self._provisioning:
                return
        with self.db.write() as uow:
            uow.deployments.renew(self.owner, now_ms(), self.lease_ms)

    def _say_claimed(self, key: DeploymentKey, rollout: Rollout) -> None:
        revision = rollout.deployment.revision
        then = " (then all live traffic to it, as its create asked)" if rollout.all_traffic else ""
        if rollout.previous_owner == self.owner:
            self._say(key, f"server restarted: applying revision {revision} again{then}")
        elif rollout.previous_owner is not None:
            self._say(
                key,
                f"server {self.owner_label} takes over revision {revision}{then}: the server bringing"
                " it up stopped renewing its lease",
            )
        else:
            self._say(key, f"server {self.owner_label}: bringing revision {revision} up{then}")

    def follow(self, key: DeploymentKey, deployment: Deployment, *, starting: bool = False) -> bool:
        """Run a Succeeded revision this server did not bring up (another server did, or it ran
        here before a restart; ``starting``: the server's first look). False: nothing to do,
        it runs here already or this server is bringing the deployment up itself."""
        if self.runtime is None:
            return False
        revision = deployment.revision
        with self._apply_lock:
            if key in self._provisioning or self.running.get(key) == revision:
                return False
        if starting:
            again = self._folder(key).is_dir()
            self._say(
                key,
                f"server restarted: applying revision {revision} again"
                if again
                else f"server {self.owner_label} started: applying revision {revision}",
            )
            say = self._say
        else:
            say = _quiet
        plan = self.prepare(key, revision, deployment.spec, say=say)
        with self._apply_lock:
            if key in self._provisioning:
                return False  # claimed here meanwhile (a newer revision): that rollout decides
            self.runtime.apply(plan)
            self.running[key] = revision
        done = (
            f"revision {revision}: every worker is ready"
            if starting
            else f"revision {revision}: every worker is ready on server {self.owner_label} too"
        )
        self._pool.submit(self._announce, key, plan, done)
        return True

    def unfollow(self, key: DeploymentKey) -> None:
        """Stop a deleted deployment's workers here and forget its files."""
        with self._apply_lock:
            if key in self._provisioning:
                return  # a namesake is coming up here: its rollout finds out for itself
            self.running.pop(key, None)
        if self.runtime is not None:
            self.runtime.remove(key)
        shutil.rmtree(self._folder(key), ignore_errors=True)

    def _announce(self, key: DeploymentKey, plan: DeploymentPlan, line: str) -> None:
        assert self.runtime is not None
        try:
            self.runtime.wait_ready(key, _ready_wait(plan.readiness))
        except Exception as exc:  # noqa: BLE001 - said in the log: the workers' own log has the rest
            if not self._closing.is_set():
                reason = exc.message if isinstance(exc, ShipyardError) else f"{type(exc).__name__}: {exc}"
                self._say(key, f"revision {plan.revision} on server {self.owner_label}: {reason}")
            return
        self._say(key, line)

    def close(self) -> None:
        """Stop bringing deployments up (server shutdown). What was interrupted keeps its
        state, so the next start applies it again instead of remembering a false failure."""
        self._closing.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- checking a request --------------------------------------------------------------

    def _resolve(
        self, ctx: RequestContext, request: DeploymentRequest
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        spec = request.spec
        self.endpoints.get(ctx, spec.endpoint_name)
        if self.credentials is not None:
            self.credentials.secrets.check_refs(
                ctx, spec.environment_variables.values(), f"{request.source}: environment_variables"
            )
        model = self.models.resolve(ctx, _model_ref(spec, request), request.model_snapshot)
        code = None
        if spec.code_configuration is not None:
            if not request.code_snapshot:
                raise InvalidSpec(
                    f"{request.source}: code_configuration.code '{spec.code_configuration.code}' was not"
                    " uploaded; create the deployment with `shipyard online-deployment create -f`",
                    field="code_configuration.code",
                )
            script = spec.code_configuration.scoring_script
            files = {f.path for f in self.snapshots.manifest(request.code_snapshot).files}
            if Path(script).as_posix() not in files:
                raise InvalidSpec(
                    f"{request.source}: scoring_script '{script}' is not in the uploaded code folder",
                    field="code_configuration.scoring_script",
                )
            code = {"snapshot": request.code_snapshot, "scoring_script": Path(script).as_posix()}
        elif model is None or model.kind != "mlflow":
            what = "" if model is None else f"{model} has no MLmodel file, so it is not an MLflow model; "
            raise InvalidSpec(
                f"{request.source}: {what}a scoring script is needed: add code_configuration"
                " {code, scoring_script} with init() and run(raw_data)",
                field="code_configuration",
            )
        if spec.environment is None and code is None and model is not None:
            environment = self._model_environment(model)
        else:
            env = self.environments.resolve_in(
                ctx.workspace,
                environment_choice(
                    spec.environment,
                    request.environment,
                    request.source,
                    "deployment",
                    "shipyard online-deployment create -f",
                ),
            )
            environment = {
                "source": env.source,
                "hash": env.spec_hash,
                "python": env.request.python,
                "requirements": list(env.request.requirements),
                "extra_index_urls": list(env.request.extra_index_urls),
            }
        resolved: dict[str, Any] = {
            "model": None if model is None else model.to_json(),
            "code": code,
            "environment": environment,
            "instance_count": spec.instance_count,
            "request_settings": request_settings(spec.request_settings, no_code=code is None),
            "liveness_probe": spec.liveness_probe.model_dump(),
            "readiness_probe": spec.readiness_probe.model_dump(),
            "environment_variables": dict(spec.environment_variables),
            "data_collector": None if spec.data_collector is None else spec.data_collector.model_dump(),
            "description": spec.description or "",
            "tags": dict(spec.tags),
            "notes": spec.notes(),
            "file": dict(request.raw or {}),
        }
        summary = (
            {}
            if model is None
            else {
                "kind": model.kind,
                "name": model.name,
                "version": model.version,
                "source": model.source,
                "snapshot": model.snapshot,
            }
        )
        return resolved, summary

    def _model_environment(self, model: ResolvedModel) -> dict[str, Any]:
        """A no-code MLflow model without an environment in its file: the model's own
        (:mod:`shipyard.services.endpoint_environments`); refused now when none can be had."""
        where = f"model {model}"
        wanted = read_model_requirements(lambda path: self.models.read_text(model, path), where)
        chosen = model_environment(wanted, where)
        return {
            "source": chosen.source,
            "hash": spec_hash(chosen.request),
            "python": chosen.request.python,
            "requirements": list(chosen.request.requirements),
            "extra_index_urls": list(chosen.request.extra_index_urls),
            "notes": list(chosen.notes),
        }

    # -- bringing it up --------------------------------------------------------------------

    def _folder(self, key: DeploymentKey) -> Path:
        return self.deployments_dir / key.workspace / key.endpoint / key.deployment

    def _say(self, key: DeploymentKey, line: str) -> None:
        self.preparation.say(key, line)

    def _bring_up(self, key: DeploymentKey, revision: str, spec: dict[str, Any]) -> None:
        assert self.runtime is not None
        try:
            plan = self.prepare(key, revision, spec)
            self._say(key, f"workers: starting {plan.instance_count} of revision {revision}")
            self.runtime.apply(plan)
            self._wait_ready(key, plan)
        except Exception as exc:
            if self._closing.is_set():
                return  # the lease stays: a restart (or another server) brings it up again
            reason = exc.message if isinstance(exc, ShipyardError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, ShipyardError):
                log.exception("deployment %s failed", key)
            self._say(key, f"failed: {reason}")
            self._release(key, None)
            self._finish(key, revision, DeploymentState.FAILED, reason)
            return
        self._say(key, f"revision {revision}: every worker is ready")
        self._release(key, revision)
        done = self._finish(key, revision, DeploymentState.SUCCEEDED, "")
        if done.outcome == "finished" and done.all_traffic:
            self.endpoints.route_all_traffic(key.workspace, key.endpoint, key.deployment)
            self._say(key, "all live traffic now goes to it (--all-traffic)")
        folder = self._folder(key)
        for old in folder.iterdir() if folder.is_dir() else ():
            if old.is_dir() and old.name != revision:
                shutil.rmtree(old, ignore_errors=True)

    def _release(self, key: DeploymentKey, revision: str | None) -> None:
        """Bringing ``key`` up is over here; ``revision`` (if it came up) runs here now, which
        a follower must know before the database says Succeeded."""
        with self._apply_lock:
            self._provisioning.discard(key)
            if revision is not None:
                self.running[key] = revision

    def _wait_ready(self, key: DeploymentKey, plan: DeploymentPlan) -> None:
        """Wait until every worker of the plan is ready, saying in the preparation log what each
        one does as it happens (started, loading, probes failing, crashed, ready)."""
        assert self.runtime is not None
        done = threading.Event()
        watcher = threading.Thread(
            target=self._watch_workers, args=(key, plan.revision, done), name=f"watch-{key}", daemon=True
        )
        watcher.start()
        try:
            self.runtime.wait_ready(key, _ready_wait(plan.readiness))
        finally:
            done.set()
            watcher.join(5.0)

    def _watch_workers(self, key: DeploymentKey, revision: str, done: threading.Event) -> None:
        assert self.runtime is not None
        started = time.monotonic()
        said: dict[int, tuple[InstanceState, str, int | None]] = {}
        while True:
            finished = done.is_set()  # one more look after the wait ended: the last changes
            for instance in self.runtime.instances(key):
                now = (instance.state, instance.message, instance.pid)
                if instance.pid is None and instance.state is InstanceState.STARTING:
                    continue  # its process is not started yet: nothing to say
                if instance.revision == revision and said.get(instance.index) != now:
                    said[instance.index] = now
                    self._say(key, instance_line(instance, time.monotonic() - started))
            if finished:
                return
            done.wait(_WATCH_S)

    def _finish(self, key: DeploymentKey, revision: str, state: DeploymentState, reason: str) -> Finish:
        with self.db.write() as uow:
            done = uow.deployments.finish(
                key.workspace,
                key.endpoint,
                key.deployment,
                revision,
                self.owner,
                now_ms(),
                state=state,
                reason=reason,
            )
        self.endpoints.invalidate(key.workspace, key.endpoint)
        if done.outcome == "gone":  # deleted while it was coming up
            self.unfollow(key)
        return done

    def _shipyard_shim(self) -> Path:
        shim = self.deployments_dir / ".worker-path"
        link = shim / "shipyard"
        if not link.exists():
            shim.mkdir(parents=True, exist_ok=True)
            tmp = shim / f".shipyard-{os.getpid()}"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(Path(shipyard.__file__).resolve().parent, target_is_directory=True)
            tmp.replace(link)
        return shim

    def prepare(
        self,
        key: DeploymentKey,
        revision: str,
        spec: dict[str, Any],
        *,
        say: Callable[[DeploymentKey, str], None] | None = None,
    ) -> DeploymentPlan:
        """Materialise a revision's model, code and environment under this service's folder
        and return the plan a runtime runs (used by followers as well: ``say`` is where its
        steps are told, by default the preparation log)."""
        say = say or self._say
        folder = self._folder(key) / revision
        model = None if spec["model"] is None else ResolvedModel.from_json(spec["model"])
        model_dir = None
        if model is not None:
            model_dir = folder / "model"
            if not model_dir.exists():
                say(key, f"model: downloading {model}")
                began = time.monotonic()
                self.models.materialize(model, model_dir)
                files, size = tree(model_dir)
                self._say(
                    key, f"model: {files} files, {size / 1e6:.1f} MB in {time.monotonic() - began:.1f} s"
                )
        code_dir = None
        if spec["code"] is not None:
            code_dir = folder / "code"
            if not code_dir.exists():
                digest = spec["code"]["snapshot"]
                snapshot = self.snapshots.materialize(digest, code_dir)
                say(key, f"code: {len(snapshot.files)} files, snapshot {digest[:12]}")
        env = spec["environment"]
        request = EnvironmentRequest(
            python=env["python"],
            requirements=tuple(env["requirements"]),
            extra_index_urls=tuple(env.get("extra_index_urls") or ()),
        )
        worker_env = dict(spec["environment_variables"])
        secret_env: dict[str, str] = {}
        if self.credentials is not None:
            revealed = self.credentials.reveal(key.workspace, worker_env)
            worker_env, secret_env = revealed.env, revealed.secret_env
        for note in env.get("notes") or ():
            say(key, note)
        if request.is_server_interpreter or self.builder is None:
            built = server_environment(request)
        else:
            # The worker itself runs in the deployment's environment: it needs the server's
            # uvicorn and orjson there, and sees the shipyard package (only it) through a
            # folder holding a link to the server's copy.
            request = replace(request, requirements=request.requirements + _worker_requirements())
            say(key, f"environment: {env['source']} ({env['hash']}) with the worker's packages")
            built = self.builder.ensure(request, lambda line: say(key, f"  uv: {line}"))
            worker_env["PYTHONPATH"] = str(self._shipyard_shim())
            self._say(
                key,
                "environment: cached, ready at once"
                if built.cache_hit
                else f"environment: built in {built.seconds:.1f} s (cached for the next deployment)",
            )
        say(key, f"environment: {built.python}")
        return DeploymentPlan(
            key=key,
            revision=revision,
            model_kind=model.kind if model is not None else "custom",
            model_dir=model_dir,
            code_dir=code_dir,
            scoring_script=None if spec["code"] is None else spec["code"]["scoring_script"],
            python_bin_dir=None if built.is_server_interpreter else built.python.parent,
            instance_count=int(spec["instance_count"]),
            env=worker_env,
            secret_env=secret_env,
            request_timeout_ms=int(spec["request_settings"]["request_timeout_ms"]),
            max_concurrent_requests_per_instance=int(
                spec["request_settings"]["max_concurrent_requests_per_instance"]
            ),
            # a deployment stored before the setting existed gets its default
            max_batch_size=int(
                spec["request_settings"].get("max_batch_size", RequestSettings().max_batch_size)
            ),
            liveness=Probe(**spec["liveness_probe"]),
            readiness=Probe(**spec["readiness_probe"]),
        )


def _quiet(key: DeploymentKey, line: str) -> None:
    """A follower's preparation steps: its server's log only (the deployment's own log told
    them once, when it was brought up)."""
    log.debug("%s: %s", key, line)


def _worker_requirements() -> tuple[str, ...]:
    """The worker's own packages, at the server's versions: uvicorn and orjson, and uvicorn's
    fast event loop and HTTP parser where the server has them (without them the same worker
    answers, slower)."""
    found = []
    for name in ("uvicorn", "orjson", "httptools", "uvloop"):
        try:
            found.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return tuple(found)


def _model_ref(spec: OnlineDeploymentSpec, request: DeploymentRequest) -> AssetRef | None:
    model = spec.model
    if model is None or request.model_snapshot:
        return None
    if isinstance(model, str):
        if model.startswith("azureml:"):
            return parse_asset_ref(model, field="model")
        where = "model"
    elif model.path is None:
        assert model.name is not None
        return AssetRef(name=model.name, version=model.version)
    else:
        where = "model.path"
    raise InvalidSpec(
        f"{request.source}: the model is a local path, which the server cannot read;"
        " create the deployment with `shipyard online-deployment create -f` (which uploads it)",
        field=where,
    )


def _revision(resolved: Mapping[str, Any]) -> str:
    """A hash of everything that changes what the workers run."""
    canonical = json.dumps({k: resolved[k] for k in _PLAN_KEYS}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _ready_wait(probe: Probe) -> float:
    """As long as Azure would keep probing before it gives up, within reason."""
    return min(probe.initial_delay + probe.period * probe.failure_threshold + 30.0, _MAX_READY_WAIT_S)
