"""Monitors: schedules of ``monitor`` jobs (``schedule create -f monitor.yml``), run now, shown
with each signal's values over time. The CLI group ``monitor`` is registered in ``cli/main.py``
(its ``compare`` needs no server)."""

from shipyard.resources import Resource, RouteRule

__all__ = ["RESOURCE"]

_V1 = "/api/v1/monitors"

RESOURCE = Resource(
    name="monitors",
    position=106,
    services={"monitors": "shipyard.server.providers.monitors:monitors"},
    routers=("shipyard.server.routers.monitors:router",),
    rules={
        # A monitor's runs are jobs: reading them is reading jobs, running one submits a job.
        ("GET", _V1): RouteRule("jobs:read"),
        ("GET", f"{_V1}/{{name}}"): RouteRule("jobs:read"),
        ("POST", f"{_V1}/{{name}}/run"): RouteRule("jobs:create"),
    },
)
