"""Repositories of online endpoints and deployments, and :class:`RoutingTable`, the one thing
the scoring router reads on every request.

Implemented by ``stores/sql/endpoints.py``; reached through a unit of work (``uow.endpoints``,
``uow.deployments``) so an endpoint's traffic and its deployments change in one transaction.
"""

from __future__ import annotations

import builtins
import hmac
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal

from shipyard.domain.endpoints import AuthMode, Deployment, DeploymentState, Endpoint, hash_key
from shipyard.services.serving_ports import DeploymentKey

__all__ = [
    "DataCollection",
    "DeploymentRepository",
    "DeploymentRoute",
    "EndpointRepository",
    "Finish",
    "Rollout",
    "RoutingTable",
]


@dataclass(frozen=True, slots=True)
class Rollout:
    """A Creating/Updating deployment this server now holds the lease of: bring it up, then
    (``all_traffic``) route all live traffic to it. ``previous_owner``: who held the lease
    before (None: nobody, a fresh change)."""

    deployment: Deployment
    all_traffic: bool
    previous_owner: str | None = None


@dataclass(frozen=True, slots=True)
class Finish:
    """What recording a rollout's end found: ``finished`` (recorded), ``gone`` (deleted
    meanwhile: stop its workers) or ``taken`` (a newer revision, or another server holds
    the lease now: leave the row alone). ``all_traffic`` as asked by its create/update."""

    outcome: Literal["finished", "gone", "taken"]
    all_traffic: bool = False


class EndpointRepository(ABC):
    @abstractmethod
    def create(self, workspace_id: int, endpoint: Endpoint) -> None:
        """Raise AlreadyExists when the name is taken in the workspace."""

    @abstractmethod
    def get(self, workspace: str, name: str) -> Endpoint | None: ...

    @abstractmethod
    def list(self, workspace: str) -> builtins.list[Endpoint]:
        """By name."""

    @abstractmethod
    def update(
        self,
        workspace: str,
        name: str,
        now: int,
        *,
        traffic: Mapping[str, int] | None = None,
        mirror_traffic: Mapping[str, int] | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        primary_key: str | None = None,
        secondary_key: str | None = None,
    ) -> None:
        """Change what is given (the service checked it)."""

    @abstractmethod
    def delete(self, workspace: str, name: str) -> bool:
        """Remove the endpoint with its deployments; False when there was none."""


class DeploymentRepository(ABC):
    @abstractmethod
    def create(self, workspace: str, deployment: Deployment, *, all_traffic: bool = False) -> None:
        """Raise AlreadyExists when the endpoint has a deployment of that name. Wakes every
        serving server (as do the other changes of deployments and endpoints)."""

    @abstractmethod
    def get(self, workspace: str, endpoint: str, name: str) -> Deployment | None: ...

    @abstractmethod
    def list(self, workspace: str, endpoint: str) -> builtins.list[Deployment]:
        """By name."""

    @abstractmethod
    def in_states(self, states: Collection[DeploymentState]) -> builtins.list[Deployment]:
        """Every workspace's deployments in these states (what a restart re-applies)."""

    @abstractmethod
    def of_workspace(self, workspace: str) -> builtins.list[Deployment]:
        """Every deployment of every online endpoint of the workspace, in one query (lineage)."""

    @abstractmethod
    def update(
        self,
        workspace: str,
        endpoint: str,
        name: str,
        now: int,
        *,
        state: DeploymentState,
        reason: str = "",
        revision: str | None = None,
        spec: Mapping[str, object] | None = None,
        model: Mapping[str, object] | None = None,
        all_traffic: bool | None = None,
    ) -> bool:
        """Record a new state (and a new revision), with no lease: whoever brought an earlier
        revision up is done; False when the deployment is gone."""

    @abstractmethod
    def delete(self, workspace: str, endpoint: str, name: str) -> bool: ...

    @abstractmethod
    def claim(self, owner: str, now: int, lease_ms: int, *, own: bool = False) -> builtins.list[Rollout]:
        """Take the lease of every Creating/Updating deployment nobody holds (no lease, or a
        lapsed one; ``own``: also those ``owner`` held before a restart), skipping rows
        another server is claiming at this moment."""

    @abstractmethod
    def renew(self, owner: str, now: int, lease_ms: int) -> None:
        """Extend the leases ``owner`` holds (its heartbeat)."""

    @abstractmethod
    def finish(
        self,
        workspace: str,
        endpoint: str,
        name: str,
        revision: str,
        owner: str,
        now: int,
        *,
        state: DeploymentState,
        reason: str,
    ) -> Finish:
        """Record the end of bringing ``revision`` up, if it is still the deployment's and
        ``owner`` still holds (or nobody took over) its lease; the lease is released."""


@dataclass(frozen=True, slots=True)
class DataCollection:
    """What to collect of a deployment's traffic: a ``sampling_rate`` share (0-1) of its
    requests, their inputs and/or outputs."""

    sampling_rate: float = 1.0
    model_inputs: bool = False
    model_outputs: bool = False


@dataclass(frozen=True, slots=True)
class DeploymentRoute:
    """One deployment as the router needs it: where its workers are (``key`` for
    :meth:`DeploymentRuntime.instances`), its request limits and what to collect."""

    key: DeploymentKey
    state: DeploymentState
    request_timeout_ms: int = 5000
    max_concurrent_requests_per_instance: int = 1
    max_queue_wait_ms: int = 500
    data_collection: DataCollection | None = None


@dataclass(frozen=True, slots=True)
class RoutingTable:
    """Everything the scoring router needs to serve one endpoint, as of the last change.

    ``traffic`` maps deployment → live weight (percent, summing to 100, or empty/all 0 when
    nothing takes traffic); ``mirror_traffic`` deployment → the percent of live requests
    copied to it (its answers are discarded). ``deployments`` holds every deployment of the
    endpoint, also those without traffic (a request naming one in the
    ``azureml-model-deployment`` header goes there). Keys are kept as SHA-256 hashes only:
    :meth:`accepts` compares a presented key in constant time. Obtained from
    :meth:`EndpointService.routing`, which caches it in memory until the endpoint or one of
    its deployments changes — cheap to ask for on every request.
    """

    workspace: str
    endpoint: str
    auth_mode: AuthMode
    key_hashes: tuple[str, ...]
    traffic: Mapping[str, int] = field(default_factory=dict)
    mirror_traffic: Mapping[str, int] = field(default_factory=dict)
    deployments: Mapping[str, DeploymentRoute] = field(default_factory=dict)

    def accepts(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header value (``Bearer <key>``) may score here.
        ``aml_token`` endpoints are checked by the scoring router (a token, not a key)."""
        if self.auth_mode is AuthMode.NONE:
            return True
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        presented = hash_key(token.strip())
        return any(hmac.compare_digest(presented, known) for known in self.key_hashes)
