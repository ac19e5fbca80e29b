"""The model registry's webhooks (MLflow 3's ``/api/2.0/mlflow/webhooks``): the server POSTs
registry events to their URLs. Served on the MLflow API only (``server/mlflow/webhooks.py``).

Who may create, change, test or delete one: holders of ``models:approve``, the registry's
governing permission (owner, contributor, ml-engineer; not data-scientist), since a webhook
makes the server call a URL of the caller's choosing and sends every registry change of the
workspace there. Listing and reading them (never their secrets) needs ``models:read``."""

from shipyard.resources import Resource, RouteRule

__all__ = ["RESOURCE"]

_HOOKS = "/api/2.0/mlflow/webhooks"
_HOOK = f"{_HOOKS}/{{webhook_id}}"

RESOURCE = Resource(
    name="webhooks",
    position=52,
    repositories={"webhooks": "shipyard.stores.sql.webhooks:SqlWebhookRepository"},
    tables=("shipyard.stores.sql.schema_webhooks",),
    services={"webhooks": "shipyard.server.providers.webhooks:webhooks"},
    rules={
        ("POST", _HOOKS): RouteRule("models:approve"),
        ("GET", _HOOKS): RouteRule("models:read"),
        ("GET", _HOOK): RouteRule("models:read"),
        ("PATCH", _HOOK): RouteRule("models:approve"),
        ("DELETE", _HOOK): RouteRule("models:approve"),
        ("POST", f"{_HOOK}/test"): RouteRule("models:approve"),
    },
)
