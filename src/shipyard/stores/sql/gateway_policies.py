"""What governs gateway endpoints: bindings, budget policies, guardrails and their places on
endpoints. Deleting an endpoint removes its bindings and guardrail places
(``SqlGatewayRepository.delete_endpoint``), as MLflow's cascades do."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import Connection, Row, case, delete, insert, select, update

from shipyard.domain.gateway_policies import BudgetPolicy, EndpointBinding, Guardrail, GuardrailLink
from shipyard.domain.scorers import ScorerVersion
from shipyard.services.gateway_policy_ports import GatewayPolicyRepository
from shipyard.stores.sql import schema as s
from shipyard.stores.sql import schema_genai as t
from shipyard.stores.sql._workspace import in_workspace

__all__ = ["SqlGatewayPolicyRepository"]

_b = t.gateway_endpoint_bindings.c
_p = t.gateway_budget_policies.c
_g = t.gateway_guardrails.c
_l = t.gateway_endpoint_guardrails.c
_e = t.gateway_endpoints.c


def _binding(r: Row[Any]) -> EndpointBinding:
    return EndpointBinding(
        endpoint_id=r.endpoint_id,
        resource_type=r.resource_type,
        resource_id=r.resource_id,
        display_name=r.display_name,
        created_at=r.created_at,
        created_by=r.created_by,
        last_updated_at=r.last_updated_at,
        last_updated_by=r.last_updated_by,
    )


def _budget(r: Row[Any]) -> BudgetPolicy:
    return BudgetPolicy(
        id=r.id,
        budget_unit=r.budget_unit,
        budget_amount=r.budget_amount,
        duration_unit=r.duration_unit,
        duration_value=r.duration_value,
        target_scope=r.target_scope,
        target_value=r.target_value,
        budget_action=r.budget_action,
        created_at=r.created_at,
        created_by=r.created_by,
        last_updated_at=r.last_updated_at,
        last_updated_by=r.last_updated_by,
    )


def _guardrail(r: Row[Any]) -> Guardrail:
    return Guardrail(
        id=r.id,
        name=r.name,
        scorer_id=r.scorer_id,
        scorer_version=r.scorer_version,
        stage=r.stage,
        action=r.action,
        action_endpoint_id=r.action_endpoint_id,
        action_endpoint_name=r.action_endpoint_name,
        created_at=r.created_at,
        created_by=r.created_by,
        last_updated_at=r.last_updated_at,
        last_updated_by=r.last_updated_by,
    )


def _budget_values(policy: BudgetPolicy) -> dict[str, Any]:
    return {
        "budget_unit": policy.budget_unit,
        "budget_amount": policy.budget_amount,
        "duration_unit": policy.duration_unit,
        "duration_value": policy.duration_value,
        "target_scope": policy.target_scope,
        "target_value": policy.target_value,
        "budget_action": policy.budget_action,
        "last_updated_at": policy.last_updated_at,
        "last_updated_by": policy.last_updated_by,
    }


class SqlGatewayPolicyRepository(GatewayPolicyRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- bindings ----------------------------------------------------------------------

    def _binding_key(self, endpoint_id: str, resource_type: str, resource_id: str) -> Any:
        return (
            _b.endpoint_id == endpoint_id,
            _b.resource_type == resource_type,
            _b.resource_id == resource_id,
        )

    def add_binding(self, binding: EndpointBinding) -> bool:
        key = self._binding_key(binding.endpoint_id, binding.resource_type, binding.resource_id)
        if self.conn.execute(select(_b.endpoint_id).where(*key)).first() is not None:
            return False
        self.conn.execute(
            insert(t.gateway_endpoint_bindings).values(
                endpoint_id=binding.endpoint_id,
                resource_type=binding.resource_type,
                resource_id=binding.resource_id,
                display_name=binding.display_name,
                created_at=binding.created_at,
                created_by=binding.created_by,
                last_updated_at=binding.last_updated_at,
                last_updated_by=binding.last_updated_by,
            )
        )
        return True

    def delete_binding(self, endpoint_id: str, resource_type: str, resource_id: str) -> int:
        key = self._binding_key(endpoint_id, resource_type, resource_id)
        return int(self.conn.execute(delete(t.gateway_endpoint_bindings).where(*key)).rowcount)

    def bindings(
        self,
        workspace: str,
        endpoint_id: str | None,
        resource_type: str | None,
        resource_id: str | None,
    ) -> builtins.list[EndpointBinding]:
        query = (
            select(t.gateway_endpoint_bindings)
            .where(_b.endpoint_id.in_(in_workspace(t.gateway_endpoints, workspace, _e.id)))
            .order_by(_b.endpoint_id, _b.resource_type, _b.resource_id)
        )
        for column, value in (
            (_b.endpoint_id, endpoint_id),
            (_b.resource_type, resource_type),
            (_b.resource_id, resource_id),
        ):
            if value is not None:
                query = query.where(column == value)
        return [_binding(r) for r in self.conn.execute(query)]

    # -- budget policies ---------------------------------------------------------------

    def add_budget(self, workspace_id: int, policy: BudgetPolicy) -> None:
        self.conn.execute(
            insert(t.gateway_budget_policies).values(
                id=policy.id,
                workspace_id=workspace_id,
                created_at=policy.created_at,
                created_by=policy.created_by,
                **_budget_values(policy),
            )
        )

    def update_budget(self, policy: BudgetPolicy) -> None:
        self.conn.execute(
            update(t.gateway_budget_policies).where(_p.id == policy.id).values(**_budget_values(policy))
        )

    def budget(self, workspace: str, policy_id: str) -> BudgetPolicy | None:
        row = self.conn.execute(
            in_workspace(t.gateway_budget_policies, workspace).where(_p.id == policy_id)
        ).first()
        return None if row is None else _budget(row)

    def budgets(self, workspace: str, offset: int, limit: int) -> builtins.list[BudgetPolicy]:
        query = in_workspace(t.gateway_budget_policies, workspace).order_by(_p.id).offset(offset).limit(limit)
        return [_budget(r) for r in self.conn.execute(query)]

    def delete_budget(self, policy_id: str) -> None:
        self.conn.execute(delete(t.gateway_budget_policies).where(_p.id == policy_id))

    # -- guardrails --------------------------------------------------------------------

    def add_guardrail(self, workspace_id: int, guardrail: Guardrail) -> None:
        self.conn.execute(
            insert(t.gateway_guardrails).values(
                id=guardrail.id,
                workspace_id=workspace_id,
                name=guardrail.name,
                scorer_id=guardrail.scorer_id,
                scorer_version=guardrail.scorer_version,
                stage=guardrail.stage,
                action=guardrail.action,
                action_endpoint_id=guardrail.action_endpoint_id,
                created_at=guardrail.created_at,
                created_by=guardrail.created_by,
                last_updated_at=guardrail.last_updated_at,
                last_updated_by=guardrail.last_updated_by,
            )
        )

    def _guardrails(self, workspace: str) -> Any:
        endpoint_name = select(_e.name).where(_e.id == _g.action_endpoint_id).scalar_subquery()
        return in_workspace(t.gateway_guardrails, workspace).add_columns(
            endpoint_name.label("action_endpoint_name")
        )

    def guardrail(self, workspace: str, guardrail_id: str) -> Guardrail | None:
        row = self.conn.execute(self._guardrails(workspace).where(_g.id == guardrail_id)).first()
        return None if row is None else _guardrail(row)

    def guardrails(self, workspace: str, offset: int, limit: int) -> builtins.list[Guardrail]:
        query = self._guardrails(workspace).order_by(_g.id).offset(offset).limit(limit)
        return [_guardrail(r) for r in self.conn.execute(query)]

    def delete_guardrail(self, guardrail_id: str) -> None:
        self.conn.execute(delete(t.gateway_endpoint_guardrails).where(_l.guardrail_id == guardrail_id))
        self.conn.execute(delete(t.gateway_guardrails).where(_g.id == guardrail_id))

    def guardrails_using(self, scorer_id: str, version: int | None) -> builtins.list[str]:
        query = select(_g.name).where(_g.scorer_id == scorer_id)
        if version is not None:
            query = query.where(_g.scorer_version == version)
        return list(self.conn.execute(query.order_by(_g.name)).scalars())

    def scorer_version(self, workspace: str, scorer_id: str, version: int) -> ScorerVersion | None:
        sc = t.scorers.c
        sv = t.scorer_versions.c
        query = (
            select(t.scorer_versions, sc.name, sc.experiment_id)
            .join(t.scorers, sc.id == sv.scorer_id)
            .join(s.experiments, s.experiments.c.id == sc.experiment_id)
            .join(s.workspaces, s.workspaces.c.id == s.experiments.c.workspace_id)
            .where(s.workspaces.c.name == workspace, sv.scorer_id == scorer_id, sv.version == version)
        )
        r = self.conn.execute(query).first()
        if r is None:
            return None
        return ScorerVersion(
            scorer_id=r.scorer_id,
            experiment_id=str(r.experiment_id),
            name=r.name,
            version=r.version,
            serialized_scorer=r.serialized_scorer,
            creation_time=r.creation_time,
            created_by=r.created_by,
        )

    def add_link(self, link: GuardrailLink) -> bool:
        found = self.conn.execute(
            select(_l.endpoint_id).where(
                _l.endpoint_id == link.endpoint_id, _l.guardrail_id == link.guardrail_id
            )
        ).first()
        if found is not None:
            return False
        self.conn.execute(
            insert(t.gateway_endpoint_guardrails).values(
                endpoint_id=link.endpoint_id,
                guardrail_id=link.guardrail_id,
                execution_order=link.execution_order,
                created_at=link.created_at,
                created_by=link.created_by,
            )
        )
        return True

    def set_link_order(self, endpoint_id: str, guardrail_id: str, order: int | None) -> int:
        changed = self.conn.execute(
            update(t.gateway_endpoint_guardrails)
            .where(_l.endpoint_id == endpoint_id, _l.guardrail_id == guardrail_id)
            .values(execution_order=order)
        )
        return int(changed.rowcount)

    def delete_link(self, endpoint_id: str, guardrail_id: str) -> int:
        gone = self.conn.execute(
            delete(t.gateway_endpoint_guardrails).where(
                _l.endpoint_id == endpoint_id, _l.guardrail_id == guardrail_id
            )
        )
        return int(gone.rowcount)

    def links(
        self, endpoint_id: str, guardrail_id: str | None = None
    ) -> builtins.list[tuple[GuardrailLink, Guardrail]]:
        endpoint_name = select(_e.name).where(_e.id == _g.action_endpoint_id).scalar_subquery()
        query = (
            select(
                t.gateway_guardrails,
                endpoint_name.label("action_endpoint_name"),
                _l.endpoint_id,
                _l.guardrail_id,
                _l.execution_order,
                _l.created_at.label("link_created_at"),
                _l.created_by.label("link_created_by"),
            )
            .select_from(t.gateway_endpoint_guardrails)
            .join(t.gateway_guardrails, _g.id == _l.guardrail_id)
            .where(_l.endpoint_id == endpoint_id)
            .order_by(case((_l.execution_order.is_(None), 1), else_=0), _l.execution_order, _l.guardrail_id)
        )
        if guardrail_id is not None:
            query = query.where(_l.guardrail_id == guardrail_id)
        return [
            (
                GuardrailLink(
                    endpoint_id=r.endpoint_id,
                    guardrail_id=r.guardrail_id,
                    execution_order=r.execution_order,
                    created_at=r.link_created_at,
                    created_by=r.link_created_by,
                ),
                _guardrail(r),
            )
            for r in self.conn.execute(query)
        ]
