"""Schedules: job files fired on cron or recurrence triggers, and the record of every tick."""

from shipyard.resources import Resource, RouteRule

__all__ = ["RESOURCE"]

_V1 = "/api/v1/schedules"

RESOURCE = Resource(
    name="schedules",
    position=105,
    repositories={"schedules": "shipyard.stores.sql.schedules:SqlScheduleRepository"},
    tables=("shipyard.stores.sql.schema_schedules",),
    services={"schedules": "shipyard.server.providers.schedules:schedules"},
    routers=("shipyard.server.routers.schedules:router",),
    rules={
        ("POST", _V1): RouteRule("schedules:write"),
        ("GET", _V1): RouteRule("schedules:read"),
        ("GET", f"{_V1}/{{name}}"): RouteRule("schedules:read"),
        ("POST", f"{_V1}/{{name}}/enable"): RouteRule("schedules:write"),
        ("POST", f"{_V1}/{{name}}/disable"): RouteRule("schedules:write"),
        ("DELETE", f"{_V1}/{{name}}"): RouteRule("schedules:delete"),
    },
    commands={"schedule": "shipyard.cli.schedules:app"},
    cli_position=35,
)
