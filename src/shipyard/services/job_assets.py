"""Environments and compute targets: the registered things a job names.

Environments are immutable versions of a package spec (a Python version and pip
requirements, from a conda file or a requirements list); building them is the runner's job,
cached by :func:`~shipyard.services.environment_ports.spec_hash`. Compute targets are a name,
a kind (``local``, ``ray``) and a concurrency limit; ``local`` always exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard.domain.context import RequestContext
from shipyard.domain.jobs import ACTIVE, Compute, Environment, JobStatus
from shipyard.domain.validation import check_description, check_name
from shipyard.errors import Conflict, InvalidArgument, NotFound
from shipyard.services._clock import now_ms
from shipyard.services.environment_ports import EnvironmentRequest, spec_hash
from shipyard.services.ports import Database
from shipyard.services.tracking import TrackingService
from shipyard.specs.curated import FAMILIES, curated_environment

if TYPE_CHECKING:
    from shipyard.services.jobs import EnvironmentChoice

__all__ = [
    "COMPUTE_KINDS",
    "LOCAL_COMPUTE",
    "ComputeService",
    "EnvironmentService",
    "ResolvedEnvironment",
]

LOCAL_COMPUTE = "local"
COMPUTE_KINDS = ("local", "ray")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ASSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


def check_asset_name(kind: str, name: str) -> str:
    check_name(kind, name)  # an invisible character is named by its code point
    if not _ASSET_NAME.match(name):
        raise InvalidArgument(
            f"{kind} name {name!r} must be letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


@dataclass(frozen=True, slots=True)
class ResolvedEnvironment:
    """What the runner builds: the request, its hash, and where it came from."""

    request: EnvironmentRequest
    spec_hash: str
    source: str  # "name:version", "inline" or "server"
    image: str | None = None


class EnvironmentService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        ctx: RequestContext,
        name: str,
        version: str | None,
        *,
        python: str | None = None,
        requirements: tuple[str, ...] = (),
        image: str | None = None,
        conda_file: dict[str, Any] | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> Environment:
        check_asset_name("environment", name)
        check_description(description)
        tags = TrackingService._check_tags(tags or {})
        request = EnvironmentRequest(python=python, requirements=tuple(requirements))
        spec = {
            "python": python,
            "requirements": list(requirements),
            "image": image,
            "conda_file": conda_file,
        }
        now = now_ms()
        with self.db.write() as uow:
            if version is None:
                latest = uow.environments.latest(ctx.workspace, name)
                version = str(int(latest.version) + 1) if latest and latest.version.isdigit() else "1"
            if not _VERSION.match(version):
                raise InvalidArgument(
                    f"environment version {version!r} must be letters, digits, '.', '_' or '-'"
                )
            env = Environment(
                name=name,
                version=version,
                spec=spec,
                spec_hash=spec_hash(request),
                description=description or "",
                tags=tags,
                created_at=now,
                created_by=ctx.principal.name,
            )
            ws = uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now)
            uow.environments.create(ws, env)
        return env

    def get(
        self, ctx: RequestContext, name: str, version: str | None = None, label: str | None = None
    ) -> Environment:
        return self.get_in(ctx.workspace, name, version, label)

    def get_in(
        self, workspace: str, name: str, version: str | None = None, label: str | None = None
    ) -> Environment:
        if label not in (None, "latest"):
            raise InvalidArgument(f"environment label {label!r} is unknown; only 'latest' is supported")
        with self.db.read() as uow:
            found = (
                uow.environments.latest(workspace, name)
                if version is None
                else uow.environments.get(workspace, name, version)
            )
        if found is None:
            what = f"{name}:{version}" if version is not None else f"{name}@latest"
            raise NotFound(
                f"no environment {what} in workspace {workspace!r}; register it with"
                " `shipyard environment create -f env.yml` (`shipyard environment list` shows those"
                " there are)",
                name=name,
            )
        return found

    def list(self, ctx: RequestContext, name: str | None = None) -> list[Environment]:
        with self.db.read() as uow:
            return uow.environments.list(ctx.workspace, name)

    def resolve(self, ctx: RequestContext, choice: EnvironmentChoice) -> ResolvedEnvironment:
        return self.resolve_in(ctx.workspace, choice)

    def resolve_in(self, workspace: str, choice: EnvironmentChoice) -> ResolvedEnvironment:
        """The request a job's environment stands for; NotFound for an unknown name.

        A name the workspace does not hold may be one of Azure's curated environments
        (``sklearn-1.5``, ``AzureML-lightgbm-3.3``): the built-in spec of the same libraries
        stands for it (:mod:`shipyard.specs.curated`). The workspace's own environment of
        that name, when there is one, wins.
        """
        if choice.name is not None:
            try:
                env = self.get_in(workspace, choice.name, choice.version, choice.label)
            except NotFound as exc:
                curated = curated_environment(choice.name)
                if curated is None:
                    if choice.name.lower().startswith("azureml-") or choice.registry == "azureml":
                        raise NotFound(
                            f"'{choice.name}' is not a curated environment Shipyard has a built-in spec for"
                            f" (it knows {', '.join(FAMILIES)}: docs/environments.md), and workspace"
                            f" {workspace!r} holds no environment of that name; register one with"
                            " `shipyard environment create -f env.yml`",
                            name=choice.name,
                        ) from None
                    raise exc from None
                request = EnvironmentRequest(python=curated.python, requirements=curated.requirements)
                source = (
                    f"{curated.name} (Azure's curated environment, as Shipyard's built-in spec:"
                    f" Python {curated.python}, {' '.join(curated.requirements) or 'no packages'})"
                )
                return ResolvedEnvironment(request, spec_hash(request), source)
            request = EnvironmentRequest(
                python=env.spec.get("python"), requirements=tuple(env.spec.get("requirements") or ())
            )
            return ResolvedEnvironment(
                request, env.spec_hash, f"{env.name}:{env.version}", env.spec.get("image")
            )
        request = EnvironmentRequest(python=choice.python, requirements=tuple(choice.requirements))
        source = "server" if request.is_server_interpreter else "inline"
        return ResolvedEnvironment(request, spec_hash(request), source, choice.image)


class ComputeService:
    def __init__(self, db: Database, local_max_concurrent: int) -> None:
        self.db = db
        self.local_max_concurrent = local_max_concurrent

    def builtin_local(self) -> Compute:
        return Compute(
            name=LOCAL_COMPUTE,
            kind="local",
            max_concurrent=self.local_max_concurrent,
            address=None,
            description="processes on the server's host (built in)",
            created_at=0,
            created_by="shipyard",
        )

    def create(
        self,
        ctx: RequestContext,
        name: str,
        kind: str,
        *,
        max_concurrent: int = 1,
        address: str | None = None,
        description: str | None = None,
    ) -> Compute:
        check_asset_name("compute", name)
        check_description(description)
        if name == LOCAL_COMPUTE:
            raise InvalidArgument("'local' is the built-in compute target; choose another name")
        if kind not in COMPUTE_KINDS:
            raise InvalidArgument(f"compute type {kind!r} is unknown; use one of {', '.join(COMPUTE_KINDS)}")
        if not 1 <= max_concurrent <= 1024:
            raise InvalidArgument(f"max_concurrent must be between 1 and 1024; got {max_concurrent}")
        if kind == "ray":
            if not address or not address.startswith(("http://", "https://")):
                raise InvalidArgument(
                    "a ray compute target needs --address, the Ray dashboard URL (e.g. http://127.0.0.1:8265)"
                )
        elif address:
            raise InvalidArgument(f"a {kind} compute target takes no address")
        now = now_ms()
        compute = Compute(
            name=name,
            kind=kind,
            max_concurrent=max_concurrent,
            address=address,
            description=description or "",
            created_at=now,
            created_by=ctx.principal.name,
        )
        with self.db.write() as uow:
            ws = uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now)
            uow.computes.create(ws, compute)
        return compute

    def get(self, ctx: RequestContext, name: str) -> Compute:
        if name == LOCAL_COMPUTE:
            return self.builtin_local()
        return self.get_in(ctx.workspace, name)

    def get_in(self, workspace: str, name: str) -> Compute:
        if name == LOCAL_COMPUTE:
            return self.builtin_local()
        with self.db.read() as uow:
            found = uow.computes.get(workspace, name)
        if found is None:
            raise NotFound(
                f"no compute target named {name!r} in workspace {workspace!r};"
                " create it with `shipyard compute create` or use 'local'",
                name=name,
            )
        return found

    def resolve(self, ctx: RequestContext, reference: str) -> Compute:
        """``local``, ``azureml:<name>`` or a bare name."""
        name = reference.removeprefix("azureml:") if reference else LOCAL_COMPUTE
        check_name("compute", name)
        return self.get(ctx, name)

    def list(self, ctx: RequestContext) -> list[Compute]:
        with self.db.read() as uow:
            return [self.builtin_local(), *uow.computes.list(ctx.workspace)]

    def delete(self, ctx: RequestContext, name: str) -> None:
        if name == LOCAL_COMPUTE:
            raise InvalidArgument("the built-in 'local' compute target cannot be deleted")
        with self.db.write() as uow:
            waiting = [
                j.name
                for j in uow.jobs.in_status([JobStatus.QUEUED, *ACTIVE])
                if j.workspace == ctx.workspace and j.compute == name
            ]
            if waiting:
                raise Conflict(
                    f"compute target {name!r} still has {len(waiting)} queued or running job(s)"
                    f" ({', '.join(waiting[:5])}); cancel them or wait for them to end",
                    jobs=waiting,
                )
            if not uow.computes.delete(ctx.workspace, name):
                raise NotFound(f"no compute target named {name!r} in workspace {ctx.workspace!r}", name=name)
