"""The repositories of the gateway's governance records (``stores/sql/gateway_policies.py``)
and of scorers' online configurations (``stores/sql/scorers.py``): ``uow[GATEWAY_POLICIES]``,
``uow[SCORER_ONLINE_CONFIGS]``.

Endpoints, guardrails and policies belong to a workspace; the services find the endpoint or
the scorer in the caller's workspace first, in the same transaction.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod

from shipyard.domain.gateway_policies import BudgetPolicy, EndpointBinding, Guardrail, GuardrailLink
from shipyard.domain.scorers import OnlineScoringConfig, ScorerVersion
from shipyard.services.ports import RepositoryKey

__all__ = [
    "GATEWAY_POLICIES",
    "SCORER_ONLINE_CONFIGS",
    "GatewayPolicyRepository",
    "ScorerOnlineConfigRepository",
]


class GatewayPolicyRepository(ABC):
    # -- bindings ----------------------------------------------------------------------
    @abstractmethod
    def add_binding(self, binding: EndpointBinding) -> bool:
        """False when the (endpoint, resource type, resource id) binding exists already."""

    @abstractmethod
    def delete_binding(self, endpoint_id: str, resource_type: str, resource_id: str) -> int: ...

    @abstractmethod
    def bindings(
        self,
        workspace: str,
        endpoint_id: str | None,
        resource_type: str | None,
        resource_id: str | None,
    ) -> builtins.list[EndpointBinding]: ...

    # -- budget policies ---------------------------------------------------------------
    @abstractmethod
    def add_budget(self, workspace_id: int, policy: BudgetPolicy) -> None: ...

    @abstractmethod
    def update_budget(self, policy: BudgetPolicy) -> None: ...

    @abstractmethod
    def budget(self, workspace: str, policy_id: str) -> BudgetPolicy | None: ...

    @abstractmethod
    def budgets(self, workspace: str, offset: int, limit: int) -> builtins.list[BudgetPolicy]:
        """By id."""

    @abstractmethod
    def delete_budget(self, policy_id: str) -> None: ...

    # -- guardrails --------------------------------------------------------------------
    @abstractmethod
    def add_guardrail(self, workspace_id: int, guardrail: Guardrail) -> None: ...

    @abstractmethod
    def guardrail(self, workspace: str, guardrail_id: str) -> Guardrail | None: ...

    @abstractmethod
    def guardrails(self, workspace: str, offset: int, limit: int) -> builtins.list[Guardrail]:
        """By id."""

    @abstractmethod
    def delete_guardrail(self, guardrail_id: str) -> None:
        """The guardrail and its places on endpoints."""

    @abstractmethod
    def guardrails_using(self, scorer_id: str, version: int | None) -> builtins.list[str]:
        """Names of the guardrails that run this scorer (this version, or any)."""

    @abstractmethod
    def scorer_version(self, workspace: str, scorer_id: str, version: int) -> ScorerVersion | None:
        """A registered scorer's version, when its experiment is in ``workspace``."""

    @abstractmethod
    def add_link(self, link: GuardrailLink) -> bool:
        """False when the guardrail is on the endpoint already."""

    @abstractmethod
    def set_link_order(self, endpoint_id: str, guardrail_id: str, order: int | None) -> int: ...

    @abstractmethod
    def delete_link(self, endpoint_id: str, guardrail_id: str) -> int: ...

    @abstractmethod
    def links(
        self, endpoint_id: str, guardrail_id: str | None = None
    ) -> builtins.list[tuple[GuardrailLink, Guardrail]]:
        """Numbered first by number, then the unnumbered; each with its guardrail."""


class ScorerOnlineConfigRepository(ABC):
    @abstractmethod
    def replace(self, config: OnlineScoringConfig) -> None:
        """The scorer's one configuration becomes ``config``."""

    @abstractmethod
    def configs(self, workspace: str, scorer_ids: builtins.list[str]) -> builtins.list[OnlineScoringConfig]:
        """Of these scorers, those in ``workspace`` that have one."""


GATEWAY_POLICIES: RepositoryKey[GatewayPolicyRepository] = RepositoryKey("gateway_policies")
SCORER_ONLINE_CONFIGS: RepositoryKey[ScorerOnlineConfigRepository] = RepositoryKey("scorer_online_configs")
