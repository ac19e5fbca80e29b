"""Online endpoints: create, read, change traffic, keys, delete — and the routing table the
scoring router reads on every request.

Keys are stored as issued, not hashed: ``get-credentials`` shows them again whenever asked,
as Azure's does, and scripts rely on that (``--output json`` → ``primaryKey``). The database
already holds everything that grants access to this server; the router itself only ever
sees SHA-256 hashes (:class:`~shipyard.services.endpoint_ports.RoutingTable`).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

from shipyard.domain.context import RequestContext
from shipyard.domain.endpoints import (
    AuthMode,
    Deployment,
    Endpoint,
    check_mirror,
    check_traffic,
    hash_key,
    new_key,
)
from shipyard.domain.validation import check_description
from shipyard.errors import InvalidArgument, NotFound
from shipyard.services._clock import now_ms
from shipyard.services.endpoint_ports import DataCollection, DeploymentRoute, RoutingTable
from shipyard.services.ports import Database, UnitOfWork
from shipyard.services.serving_ports import DeploymentKey, DeploymentRuntime
from shipyard.services.tracking import TrackingService
from shipyard.specs.endpoint import OnlineEndpointSpec

__all__ = ["EndpointService", "KeyType"]

KeyType = Literal["primary", "secondary"]


def endpoint_not_found(workspace: str, name: str) -> NotFound:
    return NotFound(
        f"no online endpoint named {name!r} in workspace {workspace!r};"
        " create it with `shipyard online-endpoint create -f endpoint.yml`",
        name=name,
    )


class EndpointService:
    def __init__(
        self,
        db: Database,
        runtime: DeploymentRuntime | None,
        deployments_dir: Path,
        public_url: Callable[[], str],
        *,
        allow_anonymous: bool = False,
    ) -> None:
        self.db = db
        # auth_mode 'none' (anyone may score) only on a --no-auth server.
        self.allow_anonymous = allow_anonymous
        self.runtime = runtime
        self.deployments_dir = deployments_dir
        self.public_url = public_url
        self._routes: dict[tuple[str, str], RoutingTable] = {}
        self._routes_lock = threading.Lock()
        # Bumped by every invalidation: a table read before a change is never cached after it.
        self._generation = 0

    # -- reading -----------------------------------------------------------------------

    def scoring_uri(self, name: str) -> str:
        return f"{self.public_url().rstrip('/')}/endpoints/{name}/score"

    def get(self, ctx: RequestContext, name: str) -> Endpoint:
        return self.get_in(ctx.workspace, name)

    def get_in(self, workspace: str, name: str) -> Endpoint:
        with self.db.read() as uow:
            found = uow.endpoints.get(workspace, name)
        if found is None:
            raise endpoint_not_found(workspace, name)
        return found

    def list(self, ctx: RequestContext) -> list[Endpoint]:
        with self.db.read() as uow:
            return uow.endpoints.list(ctx.workspace)

    def credentials(self, ctx: RequestContext, name: str) -> tuple[str, str]:
        endpoint = self.get(ctx, name)
        _needs_keys(endpoint)
        return endpoint.primary_key, endpoint.secondary_key

    # -- changing ----------------------------------------------------------------------

    def create(self, ctx: RequestContext, spec: OnlineEndpointSpec) -> Endpoint:
        check_description(spec.description)
        if spec.auth_mode == AuthMode.NONE and not self.allow_anonymous:
            raise InvalidArgument(
                "auth_mode 'none' would let anyone score this endpoint, and this server requires"
                " sign-in; use 'key' (callers send a key) or 'aml_token' (callers send a Shipyard"
                " token holding endpoints:score)",
                field="auth_mode",
            )
        tags = TrackingService._check_tags(dict(spec.tags))
        # A new endpoint has no deployments: only an all-zero (or empty) split is valid.
        traffic = check_traffic(spec.traffic, ())
        mirror = check_mirror(spec.mirror_traffic, traffic, ())
        now = now_ms()
        endpoint = Endpoint(
            name=spec.name,
            workspace=ctx.workspace,
            auth_mode=AuthMode(spec.auth_mode),
            description=spec.description or "",
            tags=tags,
            traffic=traffic,
            mirror_traffic=mirror,
            primary_key=new_key(),
            secondary_key=new_key(),
            created_at=now,
            created_by=ctx.principal.name,
            updated_at=now,
            spec=spec.model_dump(mode="json", exclude_none=True),
        )
        with self.db.write() as uow:
            ws = uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now)
            uow.endpoints.create(ws, endpoint)
        self.invalidate(ctx.workspace, spec.name)
        return endpoint

    def update(
        self,
        ctx: RequestContext,
        name: str,
        *,
        traffic: Mapping[str, int] | None = None,
        mirror_traffic: Mapping[str, int] | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Endpoint:
        """Change the split (checked against the deployments as they are now), the mirror,
        the description or the tags; what is not given stays."""
        check_description(description)
        checked_tags = None if tags is None else TrackingService._check_tags(dict(tags))
        with self.db.write() as uow:
            endpoint = self._get(uow, ctx.workspace, name)
            names = {d.name for d in uow.deployments.list(ctx.workspace, name)}
            new_traffic = endpoint.traffic if traffic is None else check_traffic(traffic, names)
            if traffic is not None:
                # Deployments left out of a new split get 0, as `az ml online-endpoint update` does.
                new_traffic = {d: new_traffic.get(d, 0) for d in sorted(names)} | new_traffic
            new_mirror = endpoint.mirror_traffic if mirror_traffic is None else dict(mirror_traffic)
            new_mirror = check_mirror(new_mirror, new_traffic, names)
            uow.endpoints.update(
                ctx.workspace,
                name,
                now_ms(),
                traffic=new_traffic,
                mirror_traffic=new_mirror,
                description=description,
                tags=checked_tags,
            )
        self.invalidate(ctx.workspace, name)
        return self.get(ctx, name)

    def route_all_traffic(self, workspace: str, name: str, deployment: str) -> None:
        """``--all-traffic``: 100% to ``deployment``, 0 to the others, no mirror to it."""
        with self.db.write() as uow:
            endpoint = uow.endpoints.get(workspace, name)
            if endpoint is None:
                return
            names = {d.name for d in uow.deployments.list(workspace, name)}
            traffic = {d: (100 if d == deployment else 0) for d in sorted(names)}
            mirror = {d: w for d, w in endpoint.mirror_traffic.items() if d != deployment}
            uow.endpoints.update(workspace, name, now_ms(), traffic=traffic, mirror_traffic=mirror)
        self.invalidate(workspace, name)

    def regenerate(self, ctx: RequestContext, name: str, key_type: KeyType) -> Endpoint:
        if key_type not in ("primary", "secondary"):
            raise InvalidArgument(f"key type must be 'primary' or 'secondary'; got {key_type!r}")
        with self.db.write() as uow:
            endpoint = self._get(uow, ctx.workspace, name)
            _needs_keys(endpoint)
            fresh = new_key()
            uow.endpoints.update(
                ctx.workspace,
                name,
                now_ms(),
                primary_key=fresh if key_type == "primary" else None,
                secondary_key=fresh if key_type == "secondary" else None,
            )
        self.invalidate(ctx.workspace, name)
        return self.get(ctx, name)

    def delete(self, ctx: RequestContext, name: str) -> None:
        """Delete the endpoint with all its deployments (their workers are stopped)."""
        with self.db.write() as uow:
            self._get(uow, ctx.workspace, name)
            deployments = uow.deployments.list(ctx.workspace, name)
            uow.endpoints.delete(ctx.workspace, name)
        self.invalidate(ctx.workspace, name)
        for deployment in deployments:
            if self.runtime is not None:
                self.runtime.remove(DeploymentKey(ctx.workspace, name, deployment.name))
        shutil.rmtree(self.deployments_dir / ctx.workspace / name, ignore_errors=True)

    @staticmethod
    def _get(uow: UnitOfWork, workspace: str, name: str) -> Endpoint:
        found = uow.endpoints.get(workspace, name)
        if found is None:
            raise endpoint_not_found(workspace, name)
        return found

    # -- routing -----------------------------------------------------------------------

    def routing(self, workspace: str, endpoint: str) -> RoutingTable:
        """The endpoint as the scoring router needs it; NotFound for an unknown endpoint.
        Served from memory after the first call, until something about the endpoint changes."""
        key = (workspace, endpoint)
        table = self._routes.get(key)
        if table is not None:
            return table
        generation = self._generation
        with self.db.read() as uow:
            found = uow.endpoints.get(workspace, endpoint)
            deployments = [] if found is None else uow.deployments.list(workspace, endpoint)
        if found is None:
            raise endpoint_not_found(workspace, endpoint)
        table = _table(found, deployments)
        with self._routes_lock:
            if generation == self._generation:
                self._routes[key] = table
        return table

    def invalidate(self, workspace: str, endpoint: str) -> None:
        with self._routes_lock:
            self._generation += 1
            self._routes.pop((workspace, endpoint), None)

    def invalidate_all(self) -> None:
        """Forget every cached table (a scoring replica learns of changes by polling)."""
        with self._routes_lock:
            self._generation += 1
            self._routes.clear()


def _table(endpoint: Endpoint, deployments: list[Deployment]) -> RoutingTable:
    routes: dict[str, DeploymentRoute] = {}
    for d in deployments:
        settings = d.spec.get("request_settings") or {}
        collector = d.spec.get("data_collector")
        collection = None
        if collector:
            wanted = collector.get("collections") or {}
            collection = DataCollection(
                sampling_rate=float(collector.get("sampling_rate", 1.0)),
                model_inputs=bool((wanted.get("model_inputs") or {}).get("enabled")),
                model_outputs=bool((wanted.get("model_outputs") or {}).get("enabled")),
            )
        routes[d.name] = DeploymentRoute(
            key=DeploymentKey(endpoint.workspace, endpoint.name, d.name),
            state=d.state,
            request_timeout_ms=int(settings.get("request_timeout_ms", 5000)),
            max_concurrent_requests_per_instance=int(settings.get("max_concurrent_requests_per_instance", 1)),
            max_queue_wait_ms=int(settings.get("max_queue_wait_ms", 500)),
            data_collection=collection,
        )
    hashes = (
        (hash_key(endpoint.primary_key), hash_key(endpoint.secondary_key))
        if endpoint.auth_mode is AuthMode.KEY
        else ()
    )
    return RoutingTable(
        workspace=endpoint.workspace,
        endpoint=endpoint.name,
        auth_mode=endpoint.auth_mode,
        key_hashes=hashes,
        traffic={k: v for k, v in endpoint.traffic.items() if v},
        mirror_traffic=dict(endpoint.mirror_traffic),
        deployments=routes,
    )


def _needs_keys(endpoint: Endpoint) -> None:
    if endpoint.auth_mode is AuthMode.NONE:
        raise InvalidArgument(f"endpoint {endpoint.name!r} has auth_mode 'none': it has no keys")
    if endpoint.auth_mode is AuthMode.AML_TOKEN:
        raise InvalidArgument(
            f"endpoint {endpoint.name!r} has auth_mode 'aml_token': callers send their own Shipyard"
            " token (one holding endpoints:score), not a key"
        )
