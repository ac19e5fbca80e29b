"""MLflow 3's model-registry webhooks: ``/api/2.0/mlflow/webhooks`` (create, list) and
``/webhooks/<id>`` (get, update, delete), ``/webhooks/<id>/test``.

Enums travel as protobuf's JSON spells them: names (``"MODEL_VERSION"``, ``"ACTIVE"``), or
their numbers. The secret is accepted and never answered.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, field_validator

from shipyard.domain.webhooks import Webhook
from shipyard.server.deps import Ctx, Svc
from shipyard.server.mlflow._route import MlflowIn, MlflowRoute, ok, payload
from shipyard.services.webhooks import WebhookService

__all__ = ["router"]

router = APIRouter(route_class=MlflowRoute)

# Protobuf's enum numbers (webhooks.proto), for clients that send numbers.
_ENTITIES = (
    "ENTITY_UNSPECIFIED",
    "REGISTERED_MODEL",
    "MODEL_VERSION",
    "MODEL_VERSION_TAG",
    "MODEL_VERSION_ALIAS",
    "PROMPT",
    "PROMPT_VERSION",
    "PROMPT_TAG",
    "PROMPT_VERSION_TAG",
    "PROMPT_ALIAS",
    "BUDGET_POLICY",
)
_ACTIONS = ("ACTION_UNSPECIFIED", "CREATED", "UPDATED", "DELETED", "SET", "EXCEEDED")
_STATUSES = ("STATUS_UNSPECIFIED", "ACTIVE", "DISABLED")


def _enum_name(value: object, names: tuple[str, ...]) -> object:
    """A protobuf enum given by number, as its name; anything else as given (checked later)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
        return names[value]
    return value.upper() if isinstance(value, str) else value


class EventIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    entity: Any = None
    action: Any = None

    def pair(self) -> tuple[object, object]:
        return _enum_name(self.entity, _ENTITIES), _enum_name(self.action, _ACTIONS)


class _HookFields(MlflowIn):
    description: str | None = None
    secret: str | None = None
    status: Any = None

    @field_validator("status")
    @classmethod
    def _status_name(cls, value: object) -> object:
        return _enum_name(value, _STATUSES) if value is not None else None


class CreateIn(_HookFields):
    name: str
    url: str
    events: list[EventIn]


class UpdateIn(_HookFields):
    name: str | None = None
    url: str | None = None
    events: list[EventIn] | None = None


class ListIn(MlflowIn):
    max_results: int | None = None
    page_token: str | None = None


class TestIn(MlflowIn):
    event: EventIn | None = None


def _service(svc: Svc) -> WebhookService:
    return svc.get("webhooks", WebhookService)


def webhook_json(hook: Webhook) -> dict[str, Any]:
    return {
        "webhook_id": hook.id,
        "name": hook.name,
        "description": hook.description,
        "url": hook.url,
        "events": [{"entity": e.upper(), "action": a.upper()} for e, a in hook.events],
        "status": hook.status,
        "creation_timestamp": hook.creation_timestamp,
        "last_updated_timestamp": hook.last_updated_timestamp,
    }


@router.post("/webhooks")
def create(ctx: Ctx, svc: Svc, body: Annotated[CreateIn, payload(CreateIn)]) -> Response:
    made = _service(svc).create(
        ctx,
        body.name,
        body.url,
        [e.pair() for e in body.events],
        description=body.description or None,
        secret=body.secret or None,
        status=body.status or None,
    )
    return ok({"webhook": webhook_json(made)})


@router.get("/webhooks")
def list_(ctx: Ctx, svc: Svc, body: Annotated[ListIn, payload(ListIn)]) -> Response:
    found, token = _service(svc).list(ctx, body.max_results, body.page_token)
    out: dict[str, Any] = {"webhooks": [webhook_json(h) for h in found]}
    if token:
        out["next_page_token"] = token
    return ok(out)


@router.get("/webhooks/{webhook_id}")
def get(ctx: Ctx, svc: Svc, webhook_id: str) -> Response:
    return ok({"webhook": webhook_json(_service(svc).get(ctx, webhook_id))})


@router.patch("/webhooks/{webhook_id}")
def update(ctx: Ctx, svc: Svc, webhook_id: str, body: Annotated[UpdateIn, payload(UpdateIn)]) -> Response:
    given = body.model_fields_set
    changed = _service(svc).update(
        ctx,
        webhook_id,
        # As MLflow's handler: an empty name, URL or event list changes nothing; an empty
        # description clears it; an empty secret removes it.
        name=body.name or None,
        url=body.url or None,
        events=[e.pair() for e in body.events] if body.events else None,
        description=body.description if "description" in given else None,
        secret=body.secret if "secret" in given else None,
        status=body.status if "status" in given else None,
    )
    return ok({"webhook": webhook_json(changed)})


@router.delete("/webhooks/{webhook_id}")
def delete(ctx: Ctx, svc: Svc, webhook_id: str) -> Response:
    _service(svc).delete(ctx, webhook_id)
    return ok({})


@router.post("/webhooks/{webhook_id}/test")
def test(ctx: Ctx, svc: Svc, webhook_id: str, body: Annotated[TestIn, payload(TestIn)]) -> Response:
    result = _service(svc).test(ctx, webhook_id, body.event.pair() if body.event else None)
    out: dict[str, Any] = {"success": result.success}
    for key, value in (
        ("response_status", result.response_status),
        ("response_body", result.response_body),
        ("error_message", result.error_message),
    ):
        if value is not None:
            out[key] = value
    return ok({"result": out})
