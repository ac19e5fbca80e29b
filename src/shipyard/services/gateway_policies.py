"""What governs the AI gateway's endpoints (MLflow 3.17): bindings to the resources that use
an endpoint, budget policies, guardrails and their places on endpoints.

Stored as MLflow's server stores them, one transaction per write, and never enforced: this
server calls no provider (``NO_PROVIDER_CALLS``), so no request is ever costed, capped or
guarded. Budget windows therefore report a spend of 0.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from shipyard.domain.context import RequestContext
from shipyard.domain.gateway_policies import (
    BUDGET_ACTIONS,
    BUDGET_UNITS,
    GUARDRAIL_ACTIONS,
    GUARDRAIL_STAGES,
    RESOURCE_TYPES,
    TARGET_SCOPES,
    BudgetPolicy,
    EndpointBinding,
    Guardrail,
    GuardrailLink,
    budget_window,
    check_budget_amount,
    check_budget_target,
    check_duration,
    enum_name,
    is_custom_code,
)
from shipyard.domain.pagination import decode_token, encode_token, fingerprint
from shipyard.domain.scorers import ScorerVersion
from shipyard.domain.validation import check_name
from shipyard.errors import AlreadyExists, InvalidArgument, InvalidPageToken, NotFound
from shipyard.services._clock import now_ms
from shipyard.services.gateway_policy_ports import GATEWAY_POLICIES
from shipyard.services.genai_ports import GATEWAY
from shipyard.services.ports import Database, UnitOfWork

__all__ = ["BudgetChange", "BudgetWindow", "GatewayPolicyService"]

_MAX_PAGE = 1000
_DEFAULT_PAGE = 1000  # MLflow's SEARCH_MAX_RESULTS_DEFAULT


@dataclass(frozen=True, slots=True)
class BudgetWindow:
    policy_id: str
    start_ms: int
    end_ms: int
    current_spend: float


@dataclass(frozen=True, slots=True)
class BudgetChange:
    """An update: None leaves a field as it is (``target_value_given`` tells an explicit
    empty target from none sent)."""

    budget_unit: object = None
    budget_amount: object = None
    duration: tuple[object, object] | None = None
    target_scope: object = None
    budget_action: object = None
    target_value: str | None = None
    target_value_given: bool = False


def _page(max_results: int | None, page_token: str | None, query: str) -> tuple[int, int]:
    size = max_results or _DEFAULT_PAGE
    if not 1 <= size <= _MAX_PAGE:
        raise InvalidArgument(f"max_results must be between 1 and {_MAX_PAGE}; got {size}")
    offset = decode_token(page_token, query) or 0
    if not isinstance(offset, int) or offset < 0:
        raise InvalidPageToken("page_token is not a token this server issued")
    return size, offset


class GatewayPolicyService:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _endpoint_in(
        uow: UnitOfWork, ctx: RequestContext, endpoint_id: str, kind: str = "GatewayEndpoint"
    ) -> str:
        found = uow[GATEWAY].endpoint(ctx.workspace, endpoint_id=endpoint_id)
        if found is None:
            raise NotFound(f"{kind} not found (endpoint_id='{endpoint_id}')")
        return found.id

    # -- bindings ----------------------------------------------------------------------

    def bind(
        self, ctx: RequestContext, endpoint_id: str, resource_type: str, resource_id: str
    ) -> EndpointBinding:
        if resource_type not in RESOURCE_TYPES:
            raise InvalidArgument(
                f"resource_type must be one of {', '.join(RESOURCE_TYPES)}; got {resource_type!r}"
            )
        if not resource_id or len(resource_id) > 255:
            raise InvalidArgument("resource_id must be a non-empty string of at most 255 characters")
        now = now_ms()
        made = EndpointBinding(
            endpoint_id=endpoint_id,
            resource_type=resource_type,
            resource_id=resource_id,
            display_name=None,
            created_at=now,
            created_by=ctx.principal.name,
            last_updated_at=now,
            last_updated_by=ctx.principal.name,
        )
        with self.db.write() as uow:
            self._endpoint_in(uow, ctx, endpoint_id)
            if not uow[GATEWAY_POLICIES].add_binding(made):
                raise AlreadyExists(
                    f"Endpoint {endpoint_id} is already bound to {resource_type} {resource_id!r}"
                )
        return made

    def unbind(self, ctx: RequestContext, endpoint_id: str, resource_type: str, resource_id: str) -> None:
        with self.db.write() as uow:
            self._endpoint_in(uow, ctx, endpoint_id)
            if uow[GATEWAY_POLICIES].delete_binding(endpoint_id, resource_type, resource_id) == 0:
                raise NotFound(
                    f"GatewayEndpointBinding not found (endpoint_id='{endpoint_id}',"
                    f" resource_type='{resource_type}', resource_id='{resource_id}')"
                )

    def bindings(
        self,
        ctx: RequestContext,
        endpoint_id: str | None,
        resource_type: str | None,
        resource_id: str | None,
    ) -> list[EndpointBinding]:
        with self.db.read() as uow:
            return uow[GATEWAY_POLICIES].bindings(
                ctx.workspace, endpoint_id or None, resource_type or None, resource_id or None
            )

    # -- budget policies ---------------------------------------------------------------

    def _check_target(
        self, uow: UnitOfWork, ctx: RequestContext, scope: str, target: str | None
    ) -> str | None:
        checked = check_budget_target(scope, target)
        if checked is not None and len(checked) > 256:
            raise InvalidArgument("target_value is at most 256 characters")
        if scope == "ENDPOINT" and checked is not None:
            self._endpoint_in(uow, ctx, checked)
        return checked

    def create_budget(
        self,
        ctx: RequestContext,
        *,
        budget_unit: object,
        budget_amount: object,
        duration: tuple[object, object],
        target_scope: object,
        budget_action: object,
        target_value: str | None,
    ) -> BudgetPolicy:
        unit = enum_name("budget_unit", budget_unit, BUDGET_UNITS)
        amount = check_budget_amount(budget_amount)
        duration_unit, duration_value = check_duration(*duration)
        scope = enum_name("target_scope", target_scope, TARGET_SCOPES)
        action = enum_name("budget_action", budget_action, BUDGET_ACTIONS)
        now = now_ms()
        with self.db.write() as uow:
            made = BudgetPolicy(
                id=f"bp-{uuid.uuid4().hex}",
                budget_unit=unit,
                budget_amount=amount,
                duration_unit=duration_unit,
                duration_value=duration_value,
                target_scope=scope,
                target_value=self._check_target(uow, ctx, scope, target_value or None),
                budget_action=action,
                created_at=now,
                created_by=ctx.principal.name,
                last_updated_at=now,
                last_updated_by=ctx.principal.name,
            )
            uow[GATEWAY_POLICIES].add_budget(
                uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now), made
            )
        return made

    @staticmethod
    def _budget(uow: UnitOfWork, ctx: RequestContext, policy_id: str) -> BudgetPolicy:
        found = uow[GATEWAY_POLICIES].budget(ctx.workspace, policy_id)
        if found is None:
            raise NotFound(f"BudgetPolicy not found (budget_policy_id='{policy_id}')")
        return found

    def get_budget(self, ctx: RequestContext, policy_id: str) -> BudgetPolicy:
        with self.db.read() as uow:
            return self._budget(uow, ctx, policy_id)

    def update_budget(self, ctx: RequestContext, policy_id: str, change: BudgetChange) -> BudgetPolicy:
        with self.db.write() as uow:
            found = self._budget(uow, ctx, policy_id)
            changed = replace(found, last_updated_at=now_ms(), last_updated_by=ctx.principal.name)
            if change.budget_unit is not None:
                changed = replace(
                    changed, budget_unit=enum_name("budget_unit", change.budget_unit, BUDGET_UNITS)
                )
            if change.budget_amount is not None:
                changed = replace(changed, budget_amount=check_budget_amount(change.budget_amount))
            if change.duration is not None:
                unit, value = check_duration(*change.duration)
                changed = replace(changed, duration_unit=unit, duration_value=value)
            if change.budget_action is not None:
                action = enum_name("budget_action", change.budget_action, BUDGET_ACTIONS)
                changed = replace(changed, budget_action=action)
            scope = found.target_scope
            if change.target_scope is not None:
                scope = enum_name("target_scope", change.target_scope, TARGET_SCOPES)
            # A target holds only within its scope (an endpoint id is no user name): a new
            # scope needs a new target, as MLflow's server rules.
            target = found.target_value if scope == found.target_scope else None
            if change.target_value_given:
                target = change.target_value or None
            if change.target_scope is not None or change.target_value_given:
                target = self._check_target(uow, ctx, scope, target)
            changed = replace(changed, target_scope=scope, target_value=target)
            uow[GATEWAY_POLICIES].update_budget(changed)
        return changed

    def delete_budget(self, ctx: RequestContext, policy_id: str) -> None:
        with self.db.write() as uow:
            self._budget(uow, ctx, policy_id)
            uow[GATEWAY_POLICIES].delete_budget(policy_id)

    def list_budgets(
        self, ctx: RequestContext, max_results: int | None, page_token: str | None
    ) -> tuple[list[BudgetPolicy], str | None]:
        query = fingerprint("gateway-budgets", ctx.workspace)
        size, offset = _page(max_results, page_token, query)
        with self.db.read() as uow:
            found = uow[GATEWAY_POLICIES].budgets(ctx.workspace, offset, size + 1)
        return found[:size], (encode_token(query, offset + size) if len(found) > size else None)

    def windows(self, ctx: RequestContext, now: datetime | None = None) -> list[BudgetWindow]:
        """Each policy's current window. The spend is 0: no call through this server is costed."""
        at = now or datetime.now(UTC)
        with self.db.read() as uow:
            policies = uow[GATEWAY_POLICIES].budgets(ctx.workspace, 0, 1_000_000)
        out = []
        for policy in policies:
            start, end = budget_window(policy.duration_unit, policy.duration_value, at)
            out.append(
                BudgetWindow(policy.id, int(start.timestamp() * 1000), int(end.timestamp() * 1000), 0.0)
            )
        return out

    # -- guardrails --------------------------------------------------------------------

    def create_guardrail(
        self,
        ctx: RequestContext,
        *,
        name: str,
        scorer_id: str,
        scorer_version: int,
        stage: object,
        action: object,
        action_endpoint_id: str | None,
    ) -> tuple[Guardrail, ScorerVersion]:
        check_name("guardrail", name)
        checked_stage = enum_name("stage", stage, GUARDRAIL_STAGES)
        checked_action = enum_name("action", action, GUARDRAIL_ACTIONS)
        now = now_ms()
        with self.db.write() as uow:
            scorer = uow[GATEWAY_POLICIES].scorer_version(ctx.workspace, scorer_id, scorer_version)
            if scorer is None:
                raise NotFound(f"Scorer with ID '{scorer_id}' and version {scorer_version} not found.")
            if is_custom_code(scorer.serialized_scorer):
                raise InvalidArgument(
                    "Gateway guardrails do not support custom scorers defined with the @scorer"
                    " decorator. Use a built-in scorer or a judge created with make_judge."
                )
            endpoint_name = None
            if action_endpoint_id:
                self._endpoint_in(uow, ctx, action_endpoint_id)
                found = uow[GATEWAY].endpoint(ctx.workspace, endpoint_id=action_endpoint_id)
                endpoint_name = found.name if found else None
            made = Guardrail(
                id=f"gr-{uuid.uuid4().hex}",
                name=name,
                scorer_id=scorer_id,
                scorer_version=scorer_version,
                stage=checked_stage,
                action=checked_action,
                action_endpoint_id=action_endpoint_id or None,
                action_endpoint_name=endpoint_name,
                created_at=now,
                created_by=ctx.principal.name,
                last_updated_at=now,
                last_updated_by=ctx.principal.name,
            )
            workspace_id = uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now)
            uow[GATEWAY_POLICIES].add_guardrail(workspace_id, made)
        return made, scorer

    @staticmethod
    def _guardrail(uow: UnitOfWork, ctx: RequestContext, guardrail_id: str) -> Guardrail:
        found = uow[GATEWAY_POLICIES].guardrail(ctx.workspace, guardrail_id)
        if found is None:
            raise NotFound(f"Guardrail not found (guardrail_id='{guardrail_id}')")
        return found

    @staticmethod
    def _with_scorer(
        uow: UnitOfWork, ctx: RequestContext, guardrail: Guardrail
    ) -> tuple[Guardrail, ScorerVersion]:
        scorer = uow[GATEWAY_POLICIES].scorer_version(
            ctx.workspace, guardrail.scorer_id, guardrail.scorer_version
        )
        if scorer is None:  # the foreign key keeps the version while a guardrail names it
            raise NotFound(f"Scorer with ID '{guardrail.scorer_id}' not found.")
        return guardrail, scorer

    def get_guardrail(self, ctx: RequestContext, guardrail_id: str) -> tuple[Guardrail, ScorerVersion]:
        with self.db.read() as uow:
            return self._with_scorer(uow, ctx, self._guardrail(uow, ctx, guardrail_id))

    def list_guardrails(
        self, ctx: RequestContext, max_results: int | None, page_token: str | None
    ) -> tuple[list[tuple[Guardrail, ScorerVersion]], str | None]:
        query = fingerprint("gateway-guardrails", ctx.workspace)
        size, offset = _page(max_results, page_token, query)
        with self.db.read() as uow:
            found = uow[GATEWAY_POLICIES].guardrails(ctx.workspace, offset, size + 1)
            out = [self._with_scorer(uow, ctx, g) for g in found[:size]]
        return out, (encode_token(query, offset + size) if len(found) > size else None)

    def delete_guardrail(self, ctx: RequestContext, guardrail_id: str) -> None:
        with self.db.write() as uow:
            self._guardrail(uow, ctx, guardrail_id)
            uow[GATEWAY_POLICIES].delete_guardrail(guardrail_id)

    def _link(
        self, uow: UnitOfWork, ctx: RequestContext, endpoint_id: str, guardrail_id: str
    ) -> tuple[GuardrailLink, Guardrail, ScorerVersion]:
        found = uow[GATEWAY_POLICIES].links(endpoint_id, guardrail_id)
        if not found:
            raise NotFound(
                f"GuardrailConfig not found (endpoint_id='{endpoint_id}', guardrail_id='{guardrail_id}')"
            )
        link, guardrail = found[0]
        return (link, *self._with_scorer(uow, ctx, guardrail))

    def add_to_endpoint(
        self, ctx: RequestContext, endpoint_id: str, guardrail_id: str, order: int | None
    ) -> tuple[GuardrailLink, Guardrail, ScorerVersion]:
        with self.db.write() as uow:
            self._endpoint_in(uow, ctx, endpoint_id, "Endpoint")
            self._guardrail(uow, ctx, guardrail_id)
            made = GuardrailLink(endpoint_id, guardrail_id, order, now_ms(), ctx.principal.name)
            if not uow[GATEWAY_POLICIES].add_link(made):
                raise AlreadyExists(
                    f"Guardrail '{guardrail_id}' is already added to endpoint '{endpoint_id}'"
                )
            return self._link(uow, ctx, endpoint_id, guardrail_id)

    def update_link(
        self, ctx: RequestContext, endpoint_id: str, guardrail_id: str, order: int | None
    ) -> tuple[GuardrailLink, Guardrail, ScorerVersion]:
        with self.db.write() as uow:
            self._endpoint_in(uow, ctx, endpoint_id, "Endpoint")
            self._link(uow, ctx, endpoint_id, guardrail_id)
            uow[GATEWAY_POLICIES].set_link_order(endpoint_id, guardrail_id, order)
            return self._link(uow, ctx, endpoint_id, guardrail_id)

    def remove_from_endpoint(self, ctx: RequestContext, endpoint_id: str, guardrail_id: str) -> None:
        with self.db.write() as uow:
            self._endpoint_in(uow, ctx, endpoint_id, "Endpoint")
            self._link(uow, ctx, endpoint_id, guardrail_id)
            uow[GATEWAY_POLICIES].delete_link(endpoint_id, guardrail_id)

    def endpoint_guardrails(
        self, ctx: RequestContext, endpoint_id: str
    ) -> list[tuple[GuardrailLink, Guardrail, ScorerVersion]]:
        with self.db.read() as uow:
            self._endpoint_in(uow, ctx, endpoint_id, "Endpoint")
            return [
                (link, *self._with_scorer(uow, ctx, guardrail))
                for link, guardrail in uow[GATEWAY_POLICIES].links(endpoint_id)
            ]
