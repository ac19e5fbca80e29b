"""Model promotions: alias protections, promotion requests and their approvals."""

from shipyard.resources import Resource, RouteRule

__all__ = ["RESOURCE"]

_MODEL = "/api/v1/models/{name}/promotions"
_ONE = f"{_MODEL}/{{promotion_id}}"
_PROTECTIONS = "/api/v1/model-protections"

RESOURCE = Resource(
    name="promotions",
    position=51,
    repositories={"promotions": "shipyard.stores.sql.promotions:SqlPromotionRepository"},
    tables=("shipyard.stores.sql.schema_promotions",),
    services={"promotions": "shipyard.server.providers.promotions:promotions"},
    routers=("shipyard.server.routers.promotions:router",),
    rules={
        # Requesting moves an alias or copies a version: a write (and so audited). A copy
        # to another workspace also needs models:write there, which the service checks.
        ("POST", _MODEL): RouteRule("models:write"),
        ("GET", _MODEL): RouteRule("models:read"),
        ("GET", _ONE): RouteRule("models:read"),
        ("POST", f"{_ONE}/approve"): RouteRule("models:approve"),
        ("POST", f"{_ONE}/reject"): RouteRule("models:approve"),
        ("GET", "/api/v1/promotions"): RouteRule("models:read"),
        ("GET", "/api/v1/promotions/{promotion_id}"): RouteRule("models:read"),
        ("GET", _PROTECTIONS): RouteRule("models:read"),
        # Who may protect decides who may move an alias, as who assigns roles does.
        ("POST", _PROTECTIONS): RouteRule("roles:write"),
        ("DELETE", _PROTECTIONS): RouteRule("roles:write"),
    },
)
