"""MLflow 3's AI gateway configuration: ``/api/3.0/mlflow/gateway/{secrets,model-definitions,
endpoints}/*``, endpoint tags, and what MLflow's UI reads to fill its forms
(``supported-providers``, ``supported-models``, ``provider-config``, ``secrets/config``).
Bindings, budgets and guardrails are in ``gateway_policies.py``, included here.

What would reach an outside provider — gateway traffic under ``/gateway/…``, MLflow's UI
running a scorer, an issue detection or an evaluation on the server — answers at once with
``NOT_IMPLEMENTED`` (status 400), saying the server calls no provider: never a hang.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import Field

from shipyard.domain.gateway import (
    NO_PROVIDER_CALLS,
    SUPPORTED_PROVIDERS,
    EndpointModel,
    GatewayEndpoint,
    GatewaySecret,
    ModelDefinition,
    provider_config,
)
from shipyard.server.deps import Ctx, Svc
from shipyard.server.mlflow import gateway_policies
from shipyard.server.mlflow._route import MlflowApiError, MlflowIn, MlflowRoute, missing_value, ok, payload
from shipyard.services.gateway import EndpointModelIn, GatewayService

__all__ = ["invoke_router", "router", "traffic_router"]

router = APIRouter(route_class=MlflowRoute)
invoke_router = APIRouter(route_class=MlflowRoute)  # MLflow's UI only: under /ajax-api
traffic_router = APIRouter(route_class=MlflowRoute)  # /gateway/…, outside the MLflow roots

_G = "/gateway"


def _service(svc: Svc) -> GatewayService:
    return svc.get("gateway", GatewayService)


def _no_provider_calls() -> MlflowApiError:
    # A 4xx, not MLflow's 501: OpenAI-compatible SDKs retry a 5xx with back-off (seconds of
    # waiting for an answer that cannot change), and a 5xx here means a fault of ours.
    return MlflowApiError("NOT_IMPLEMENTED", NO_PROVIDER_CALLS, 400)


# -- answers ------------------------------------------------------------------------------


def secret_json(secret: GatewaySecret) -> dict[str, Any]:
    out: dict[str, Any] = {
        "secret_id": secret.id,
        "secret_name": secret.name,
        "masked_values": secret.masked_values,
        "auth_config": secret.auth_config,
        "created_at": secret.created_at,
        "last_updated_at": secret.last_updated_at,
    }
    for key, value in (
        ("provider", secret.provider),
        ("created_by", secret.created_by),
        ("last_updated_by", secret.last_updated_by),
    ):
        if value is not None:
            out[key] = value
    return out


def model_json(model: ModelDefinition) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model_definition_id": model.id,
        "name": model.name,
        "provider": model.provider,
        "model_name": model.model_name,
        "created_at": model.created_at,
        "last_updated_at": model.last_updated_at,
    }
    for key, value in (
        ("secret_id", model.secret_id),
        ("secret_name", model.secret_name),
        ("created_by", model.created_by),
        ("last_updated_by", model.last_updated_by),
    ):
        if value is not None:
            out[key] = value
    return out


def _mapping_json(
    endpoint_id: str, link: EndpointModel, models: dict[str, ModelDefinition]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "mapping_id": link.mapping_id,
        "endpoint_id": endpoint_id,
        "model_definition_id": link.model_definition_id,
        "weight": link.weight,
        "linkage_type": link.linkage_type,
        "created_at": link.created_at,
    }
    if link.model_definition_id in models:
        out["model_definition"] = model_json(models[link.model_definition_id])
    if link.fallback_order is not None:
        out["fallback_order"] = link.fallback_order
    if link.created_by is not None:
        out["created_by"] = link.created_by
    return out


def endpoint_json(endpoint: GatewayEndpoint, models: dict[str, ModelDefinition]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "endpoint_id": endpoint.id,
        "name": endpoint.name,
        "created_at": endpoint.created_at,
        "last_updated_at": endpoint.last_updated_at,
        "model_mappings": [_mapping_json(endpoint.id, m, models) for m in endpoint.models],
        "tags": [{"key": k, "value": v} for k, v in endpoint.tags.items()],
        "usage_tracking": endpoint.usage_tracking,
    }
    for key, value in (
        ("routing_strategy", endpoint.routing_strategy),
        ("fallback_config", endpoint.fallback_config),
        ("experiment_id", endpoint.experiment_id),
        ("created_by", endpoint.created_by),
        ("last_updated_by", endpoint.last_updated_by),
    ):
        if value is not None:
            out[key] = value
    return out


def _endpoints(ctx: Ctx, service: GatewayService, endpoints: list[GatewayEndpoint]) -> list[dict[str, Any]]:
    models = {m.id: m for m in service.list_models(ctx, None, None)}
    return [endpoint_json(e, models) for e in endpoints]


# -- requests -----------------------------------------------------------------------------


class SecretCreateIn(MlflowIn):
    secret_name: str
    secret_value: dict[str, str] = Field(default_factory=dict)
    provider: str | None = None
    auth_config: dict[str, str] = Field(default_factory=dict)


class SecretRefIn(MlflowIn):
    secret_id: str | None = None
    secret_name: str | None = None


class SecretUpdateIn(MlflowIn):
    secret_id: str
    secret_value: dict[str, str] = Field(default_factory=dict)
    auth_config: dict[str, str] = Field(default_factory=dict)


class ProviderIn(MlflowIn):
    provider: str | None = None
    secret_id: str | None = None


class ModelCreateIn(MlflowIn):
    name: str
    secret_id: str | None = None
    provider: str
    model_name: str


class ModelRefIn(MlflowIn):
    model_definition_id: str


class ModelUpdateIn(MlflowIn):
    model_definition_id: str
    name: str | None = None
    secret_id: str | None = None
    provider: str | None = None
    model_name: str | None = None


class ModelConfigIn(MlflowIn):
    model_definition_id: str
    linkage_type: str | None = None
    weight: float | None = None
    fallback_order: int | None = None

    def checked(self) -> EndpointModelIn:
        return EndpointModelIn(self.model_definition_id, self.linkage_type, self.weight, self.fallback_order)


class EndpointCreateIn(MlflowIn):
    name: str
    model_configs: list[ModelConfigIn] = Field(default_factory=list)
    routing_strategy: str | None = None
    fallback_config: dict[str, Any] | None = None
    experiment_id: str | None = None
    usage_tracking: bool = False


class EndpointRefIn(MlflowIn):
    endpoint_id: str | None = None
    name: str | None = None


class EndpointUpdateIn(MlflowIn):
    endpoint_id: str
    name: str | None = None
    model_configs: list[ModelConfigIn] = Field(default_factory=list)
    routing_strategy: str | None = None
    fallback_config: dict[str, Any] | None = None
    experiment_id: str | None = None
    usage_tracking: bool | None = None


class AttachIn(MlflowIn):
    endpoint_id: str
    model_config_: ModelConfigIn = Field(alias="model_config")


class DetachIn(MlflowIn):
    endpoint_id: str
    model_definition_id: str


# -- secrets ------------------------------------------------------------------------------


@router.post(f"{_G}/secrets/create")
def create_secret(ctx: Ctx, svc: Svc, body: Annotated[SecretCreateIn, payload(SecretCreateIn)]) -> Response:
    made = _service(svc).create_secret(
        ctx, body.secret_name, body.secret_value, body.provider, body.auth_config
    )
    return ok({"secret": secret_json(made)})


@router.get(f"{_G}/secrets/get")
def get_secret(ctx: Ctx, svc: Svc, body: Annotated[SecretRefIn, payload(SecretRefIn)]) -> Response:
    return ok({"secret": secret_json(_service(svc).get_secret(ctx, body.secret_id, body.secret_name))})


@router.post(f"{_G}/secrets/update")
def update_secret(ctx: Ctx, svc: Svc, body: Annotated[SecretUpdateIn, payload(SecretUpdateIn)]) -> Response:
    changed = _service(svc).update_secret(ctx, body.secret_id, body.secret_value, body.auth_config)
    return ok({"secret": secret_json(changed)})


@router.delete(f"{_G}/secrets/delete")
def delete_secret(ctx: Ctx, svc: Svc, body: Annotated[SecretRefIn, payload(SecretRefIn)]) -> Response:
    _service(svc).delete_secret(ctx, body.secret_id or "")
    return ok()


@router.get(f"{_G}/secrets/list")
def list_secrets(ctx: Ctx, svc: Svc, body: Annotated[ProviderIn, payload(ProviderIn)]) -> Response:
    return ok({"secrets": [secret_json(s) for s in _service(svc).list_secrets(ctx, body.provider)]})


# -- model definitions --------------------------------------------------------------------


@router.post(f"{_G}/model-definitions/create")
def create_model(ctx: Ctx, svc: Svc, body: Annotated[ModelCreateIn, payload(ModelCreateIn)]) -> Response:
    made = _service(svc).create_model(ctx, body.name, body.secret_id, body.provider, body.model_name)
    return ok({"model_definition": model_json(made)})


@router.get(f"{_G}/model-definitions/get")
def get_model(ctx: Ctx, svc: Svc, body: Annotated[ModelRefIn, payload(ModelRefIn)]) -> Response:
    return ok({"model_definition": model_json(_service(svc).get_model(ctx, body.model_definition_id))})


@router.get(f"{_G}/model-definitions/list")
def list_models(ctx: Ctx, svc: Svc, body: Annotated[ProviderIn, payload(ProviderIn)]) -> Response:
    found = _service(svc).list_models(ctx, body.provider, body.secret_id)
    return ok({"model_definitions": [model_json(m) for m in found]})


@router.post(f"{_G}/model-definitions/update")
def update_model(ctx: Ctx, svc: Svc, body: Annotated[ModelUpdateIn, payload(ModelUpdateIn)]) -> Response:
    changed = _service(svc).update_model(
        ctx,
        body.model_definition_id,
        name=body.name,
        secret_id=body.secret_id,
        provider=body.provider,
        model_name=body.model_name,
    )
    return ok({"model_definition": model_json(changed)})


@router.delete(f"{_G}/model-definitions/delete")
def delete_model(ctx: Ctx, svc: Svc, body: Annotated[ModelRefIn, payload(ModelRefIn)]) -> Response:
    _service(svc).delete_model(ctx, body.model_definition_id)
    return ok()


# -- endpoints ----------------------------------------------------------------------------


@router.post(f"{_G}/endpoints/create")
def create_endpoint(
    ctx: Ctx, svc: Svc, body: Annotated[EndpointCreateIn, payload(EndpointCreateIn)]
) -> Response:
    service = _service(svc)
    made = service.create_endpoint(
        ctx,
        body.name,
        [c.checked() for c in body.model_configs],
        routing_strategy=body.routing_strategy,
        fallback_config=body.fallback_config,
        experiment_id=body.experiment_id,
        usage_tracking=body.usage_tracking,
    )
    return ok({"endpoint": _endpoints(ctx, service, [made])[0]})


@router.get(f"{_G}/endpoints/get")
def get_endpoint(ctx: Ctx, svc: Svc, body: Annotated[EndpointRefIn, payload(EndpointRefIn)]) -> Response:
    service = _service(svc)
    return ok(
        {"endpoint": _endpoints(ctx, service, [service.get_endpoint(ctx, body.endpoint_id, body.name)])[0]}
    )


@router.get(f"{_G}/endpoints/list")
def list_endpoints(ctx: Ctx, svc: Svc, body: Annotated[ProviderIn, payload(ProviderIn)]) -> Response:
    service = _service(svc)
    return ok(
        {"endpoints": _endpoints(ctx, service, service.list_endpoints(ctx, body.provider, body.secret_id))}
    )


@router.post(f"{_G}/endpoints/update")
def update_endpoint(
    ctx: Ctx, svc: Svc, body: Annotated[EndpointUpdateIn, payload(EndpointUpdateIn)]
) -> Response:
    service = _service(svc)
    changed = service.update_endpoint(
        ctx,
        body.endpoint_id,
        name=body.name,
        configs=[c.checked() for c in body.model_configs],
        routing_strategy=body.routing_strategy,
        fallback_config=body.fallback_config,
        experiment_id=body.experiment_id,
        usage_tracking=body.usage_tracking,
    )
    return ok({"endpoint": _endpoints(ctx, service, [changed])[0]})


@router.delete(f"{_G}/endpoints/delete")
def delete_endpoint(ctx: Ctx, svc: Svc, body: Annotated[EndpointRefIn, payload(EndpointRefIn)]) -> Response:
    _service(svc).delete_endpoint(ctx, body.endpoint_id or "")
    return ok()


@router.post(f"{_G}/endpoints/models/attach")
def attach(ctx: Ctx, svc: Svc, body: Annotated[AttachIn, payload(AttachIn)]) -> Response:
    service = _service(svc)
    made = service.attach(ctx, body.endpoint_id, body.model_config_.checked())
    models = {m.id: m for m in service.list_models(ctx, None, None)}
    return ok({"mapping": _mapping_json(body.endpoint_id, made, models)})


@router.post(f"{_G}/endpoints/models/detach")
def detach(ctx: Ctx, svc: Svc, body: Annotated[DetachIn, payload(DetachIn)]) -> Response:
    _service(svc).detach(ctx, body.endpoint_id, body.model_definition_id)
    return ok()


class TagIn(MlflowIn):
    endpoint_id: str
    key: str
    value: str = ""


class TagKeyIn(MlflowIn):
    endpoint_id: str
    key: str


@router.post(f"{_G}/endpoints/set-tag")
def set_tag(ctx: Ctx, svc: Svc, body: Annotated[TagIn, payload(TagIn)]) -> Response:
    _service(svc).set_tag(ctx, body.endpoint_id, body.key, body.value)
    return ok()


@router.delete(f"{_G}/endpoints/delete-tag")
def delete_tag(ctx: Ctx, svc: Svc, body: Annotated[TagKeyIn, payload(TagKeyIn)]) -> Response:
    _service(svc).delete_tag(ctx, body.endpoint_id, body.key)
    return ok()


# -- what MLflow's UI reads to fill its forms ---------------------------------------------


class ProviderFilterIn(MlflowIn):
    provider: str | None = None


@router.get(f"{_G}/supported-providers")
def supported_providers(ctx: Ctx) -> Response:
    return ok({"providers": list(SUPPORTED_PROVIDERS)})


@router.get(f"{_G}/supported-models")
def supported_models(
    ctx: Ctx, svc: Svc, body: Annotated[ProviderFilterIn, payload(ProviderFilterIn)]
) -> Response:
    """The models this workspace's model definitions name. MLflow answers from a catalogue it
    downloads (names, prices, context sizes); this server fetches nothing from outside."""
    seen = {(m.provider, m.model_name) for m in _service(svc).list_models(ctx, body.provider, None)}
    models = [{"model": name, "provider": provider, "mode": None} for provider, name in sorted(seen)]
    return ok({"models": models})


@router.get(f"{_G}/provider-config")
def get_provider_config(ctx: Ctx, body: Annotated[ProviderFilterIn, payload(ProviderFilterIn)]) -> Response:
    if not body.provider:
        raise missing_value("provider")
    return ok(provider_config(body.provider))


@router.get(f"{_G}/secrets/config")
def secrets_config(ctx: Ctx) -> Response:
    # Values are encrypted with this server's own key (issue 6), never a default passphrase.
    return ok({"secrets_available": True, "using_default_passphrase": False})


router.include_router(gateway_policies.router)


# -- what would call a provider: a clear refusal, at once --------------------------------


@invoke_router.post("/scorer/invoke")
@invoke_router.post("/issues/invoke")
@invoke_router.post("/genai/evaluate/invoke")
def invoke(ctx: Ctx) -> Response:
    raise _no_provider_calls()


@traffic_router.api_route(f"{_G}/{{rest:path}}", methods=["GET", "POST"])
def traffic(ctx: Ctx, request: Request) -> Response:
    raise _no_provider_calls()
