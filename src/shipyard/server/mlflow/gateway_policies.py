"""MLflow 3.17's governance of gateway endpoints: ``/api/3.0/mlflow/gateway/endpoints/bindings/*``,
``gateway/budgets/*`` and ``gateway/guardrails/*``. Stored and answered in MLflow's shapes;
nothing is enforced, since no call goes through this server (budget windows spend 0).
Included in ``gateway.router``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import Field

from shipyard.domain.gateway_policies import BudgetPolicy, EndpointBinding, Guardrail, GuardrailLink
from shipyard.domain.scorers import ScorerVersion
from shipyard.server.deps import Ctx, Svc
from shipyard.server.mlflow._route import MlflowIn, MlflowRoute, ok, payload
from shipyard.server.mlflow.scorers import scorer_json
from shipyard.services.gateway_policies import BudgetChange, GatewayPolicyService

__all__ = ["router"]

router = APIRouter(route_class=MlflowRoute)

_G = "/gateway"
_INT32 = 2**31 - 1


def _service(svc: Svc) -> GatewayPolicyService:
    return svc.get("gateway_policies", GatewayPolicyService)


# -- answers ------------------------------------------------------------------------------


def binding_json(binding: EndpointBinding) -> dict[str, Any]:
    out: dict[str, Any] = {
        "endpoint_id": binding.endpoint_id,
        "resource_type": binding.resource_type,
        "resource_id": binding.resource_id,
        "created_at": binding.created_at,
        "last_updated_at": binding.last_updated_at,
    }
    for key, value in (
        ("created_by", binding.created_by),
        ("last_updated_by", binding.last_updated_by),
        ("display_name", binding.display_name),
    ):
        if value is not None:
            out[key] = value
    return out


def budget_json(policy: BudgetPolicy) -> dict[str, Any]:
    out: dict[str, Any] = {
        "budget_policy_id": policy.id,
        "budget_unit": policy.budget_unit,
        "budget_amount": policy.budget_amount,
        "duration": {"unit": policy.duration_unit, "value": policy.duration_value},
        "target_scope": policy.target_scope,
        "budget_action": policy.budget_action,
        "created_at": policy.created_at,
        "last_updated_at": policy.last_updated_at,
    }
    for key, value in (
        ("created_by", policy.created_by),
        ("last_updated_by", policy.last_updated_by),
        ("target_value", policy.target_value),
    ):
        if value is not None:
            out[key] = value
    return out


def guardrail_json(guardrail: Guardrail, scorer: ScorerVersion) -> dict[str, Any]:
    out: dict[str, Any] = {
        "guardrail_id": guardrail.id,
        "name": guardrail.name,
        "scorer": scorer_json(scorer),
        "stage": guardrail.stage,
        "action": guardrail.action,
        "created_by": guardrail.created_by or "",
        "created_at": guardrail.created_at,
        "last_updated_by": guardrail.last_updated_by or "",
        "last_updated_at": guardrail.last_updated_at,
    }
    if guardrail.action_endpoint_name:
        # MLflow's server answers the endpoint's name in this field.
        out["action_endpoint_id"] = guardrail.action_endpoint_name
    return out


def link_json(link: GuardrailLink, guardrail: Guardrail, scorer: ScorerVersion) -> dict[str, Any]:
    out: dict[str, Any] = {
        "endpoint_id": link.endpoint_id,
        "guardrail_id": link.guardrail_id,
        "guardrail": guardrail_json(guardrail, scorer),
        "created_by": link.created_by or "",
        "created_at": link.created_at,
    }
    if link.execution_order is not None:
        out["execution_order"] = link.execution_order
    return out


# -- requests -----------------------------------------------------------------------------


class BindingIn(MlflowIn):
    endpoint_id: str
    resource_type: str
    resource_id: str


class BindingFilterIn(MlflowIn):
    endpoint_id: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None


class DurationIn(MlflowIn):
    unit: Any = None
    value: Any = None


class BudgetCreateIn(MlflowIn):
    budget_unit: Any
    budget_amount: Any
    duration: DurationIn
    target_scope: Any
    budget_action: Any
    target_value: str | None = None


class BudgetRefIn(MlflowIn):
    budget_policy_id: str


class BudgetUpdateIn(MlflowIn):
    budget_policy_id: str
    budget_unit: Any = None
    budget_amount: Any = None
    duration: DurationIn | None = None
    target_scope: Any = None
    budget_action: Any = None
    target_value: str | None = None


class PageIn(MlflowIn):
    max_results: int | None = None
    page_token: str | None = None


class GuardrailCreateIn(MlflowIn):
    name: str
    scorer_id: str
    scorer_version: int
    stage: Any
    action: Any
    action_endpoint_id: str | None = None


class GuardrailRefIn(MlflowIn):
    guardrail_id: str


class LinkIn(MlflowIn):
    endpoint_id: str
    guardrail_id: str
    execution_order: int | None = Field(default=None, ge=-_INT32 - 1, le=_INT32)


class EndpointIdIn(MlflowIn):
    endpoint_id: str


# -- bindings -----------------------------------------------------------------------------


@router.post(f"{_G}/endpoints/bindings/create")
def create_binding(ctx: Ctx, svc: Svc, body: Annotated[BindingIn, payload(BindingIn)]) -> Response:
    made = _service(svc).bind(ctx, body.endpoint_id, body.resource_type, body.resource_id)
    return ok({"binding": binding_json(made)})


@router.delete(f"{_G}/endpoints/bindings/delete")
def delete_binding(ctx: Ctx, svc: Svc, body: Annotated[BindingIn, payload(BindingIn)]) -> Response:
    _service(svc).unbind(ctx, body.endpoint_id, body.resource_type, body.resource_id)
    return ok()


@router.get(f"{_G}/endpoints/bindings/list")
def list_bindings(ctx: Ctx, svc: Svc, body: Annotated[BindingFilterIn, payload(BindingFilterIn)]) -> Response:
    found = _service(svc).bindings(ctx, body.endpoint_id, body.resource_type, body.resource_id)
    return ok({"bindings": [binding_json(b) for b in found]})


# -- budget policies ----------------------------------------------------------------------


@router.post(f"{_G}/budgets/create")
def create_budget(ctx: Ctx, svc: Svc, body: Annotated[BudgetCreateIn, payload(BudgetCreateIn)]) -> Response:
    made = _service(svc).create_budget(
        ctx,
        budget_unit=body.budget_unit,
        budget_amount=body.budget_amount,
        duration=(body.duration.unit, body.duration.value),
        target_scope=body.target_scope,
        budget_action=body.budget_action,
        target_value=body.target_value,
    )
    return ok({"budget_policy": budget_json(made)})


@router.get(f"{_G}/budgets/get")
def get_budget(ctx: Ctx, svc: Svc, body: Annotated[BudgetRefIn, payload(BudgetRefIn)]) -> Response:
    return ok({"budget_policy": budget_json(_service(svc).get_budget(ctx, body.budget_policy_id))})


@router.post(f"{_G}/budgets/update")
def update_budget(ctx: Ctx, svc: Svc, body: Annotated[BudgetUpdateIn, payload(BudgetUpdateIn)]) -> Response:
    change = BudgetChange(
        budget_unit=body.budget_unit,
        budget_amount=body.budget_amount,
        duration=None if body.duration is None else (body.duration.unit, body.duration.value),
        target_scope=body.target_scope,
        budget_action=body.budget_action,
        target_value=body.target_value,
        target_value_given="target_value" in body.model_fields_set,
    )
    changed = _service(svc).update_budget(ctx, body.budget_policy_id, change)
    return ok({"budget_policy": budget_json(changed)})


@router.delete(f"{_G}/budgets/delete")
def delete_budget(ctx: Ctx, svc: Svc, body: Annotated[BudgetRefIn, payload(BudgetRefIn)]) -> Response:
    _service(svc).delete_budget(ctx, body.budget_policy_id)
    return ok()


@router.get(f"{_G}/budgets/list")
def list_budgets(ctx: Ctx, svc: Svc, body: Annotated[PageIn, payload(PageIn)]) -> Response:
    found, token = _service(svc).list_budgets(ctx, body.max_results, body.page_token)
    out: dict[str, Any] = {"budget_policies": [budget_json(p) for p in found]}
    if token:
        out["next_page_token"] = token
    return ok(out)


@router.get(f"{_G}/budgets/windows")
def budget_windows(ctx: Ctx, svc: Svc) -> Response:
    windows = _service(svc).windows(ctx)
    return ok(
        {
            "windows": [
                {
                    "budget_policy_id": w.policy_id,
                    "window_start_ms": w.start_ms,
                    "window_end_ms": w.end_ms,
                    "current_spend": w.current_spend,
                }
                for w in windows
            ]
        }
    )


# -- guardrails ---------------------------------------------------------------------------


@router.post(f"{_G}/guardrails/create")
def create_guardrail(
    ctx: Ctx, svc: Svc, body: Annotated[GuardrailCreateIn, payload(GuardrailCreateIn)]
) -> Response:
    made, scorer = _service(svc).create_guardrail(
        ctx,
        name=body.name,
        scorer_id=body.scorer_id,
        scorer_version=body.scorer_version,
        stage=body.stage,
        action=body.action,
        action_endpoint_id=body.action_endpoint_id,
    )
    return ok({"guardrail": guardrail_json(made, scorer)})


@router.get(f"{_G}/guardrails/get")
def get_guardrail(ctx: Ctx, svc: Svc, body: Annotated[GuardrailRefIn, payload(GuardrailRefIn)]) -> Response:
    return ok({"guardrail": guardrail_json(*_service(svc).get_guardrail(ctx, body.guardrail_id))})


@router.delete(f"{_G}/guardrails/delete")
def delete_guardrail(
    ctx: Ctx, svc: Svc, body: Annotated[GuardrailRefIn, payload(GuardrailRefIn)]
) -> Response:
    _service(svc).delete_guardrail(ctx, body.guardrail_id)
    return ok()


@router.get(f"{_G}/guardrails/list")
def list_guardrails(ctx: Ctx, svc: Svc, body: Annotated[PageIn, payload(PageIn)]) -> Response:
    found, token = _service(svc).list_guardrails(ctx, body.max_results, body.page_token)
    out: dict[str, Any] = {"guardrails": [guardrail_json(g, s) for g, s in found]}
    if token:
        out["next_page_token"] = token
    return ok(out)


@router.post(f"{_G}/guardrails/add-to-endpoint")
def add_to_endpoint(ctx: Ctx, svc: Svc, body: Annotated[LinkIn, payload(LinkIn)]) -> Response:
    made = _service(svc).add_to_endpoint(ctx, body.endpoint_id, body.guardrail_id, body.execution_order)
    return ok({"config": link_json(*made)})


@router.delete(f"{_G}/guardrails/remove-from-endpoint")
def remove_from_endpoint(ctx: Ctx, svc: Svc, body: Annotated[LinkIn, payload(LinkIn)]) -> Response:
    _service(svc).remove_from_endpoint(ctx, body.endpoint_id, body.guardrail_id)
    return ok()


@router.get(f"{_G}/guardrails/list-for-endpoint")
def list_for_endpoint(ctx: Ctx, svc: Svc, body: Annotated[EndpointIdIn, payload(EndpointIdIn)]) -> Response:
    found = _service(svc).endpoint_guardrails(ctx, body.endpoint_id)
    return ok({"configs": [link_json(*c) for c in found]})


@router.patch(f"{_G}/guardrails/update-config")
def update_config(ctx: Ctx, svc: Svc, body: Annotated[LinkIn, payload(LinkIn)]) -> Response:
    changed = _service(svc).update_link(ctx, body.endpoint_id, body.guardrail_id, body.execution_order)
    return ok({"config": link_json(*changed)})
