"""The web studio (``shipyard/studio/``): pages at ``/`` and ``/studio/…``, the sign-in page,
and the session that holds a browser's sign-in (``/api/v1/session``).

Every page is public *as a page*: it holds nothing of its own. Each datum on it comes from an
API call made in-process with the caller's own credential (``studio/api.py``), so a page shows
exactly what that caller's token may read, and a page opened without a session answers with
the sign-in form.
"""

from shipyard.resources import Resource, RouteRule

__all__ = ["RESOURCE"]

_PAGES = (
    "/",
    "/login",
    "/studio/static/{name}",
    "/studio/experiments",
    "/studio/experiments/{experiment_id}",
    "/studio/experiments/{experiment_id}/runs/{run_id}",
    "/studio/runs/{run_id}",
    "/studio/runs/{run_id}/artifact",
    "/studio/experiments/{experiment_id}/traces",
    "/studio/experiments/{experiment_id}/traces/link",
    "/studio/traces/{trace_id}",
    "/studio/compare",
    "/studio/jobs",
    "/studio/jobs/{name}",
    "/studio/models",
    "/studio/models/{name}",
    "/studio/models/{name}/versions/{version}",
    "/studio/endpoints",
    "/studio/endpoints/{name}",
    "/studio/monitors",
    "/studio/monitors/{name}",
    "/studio/data",
    "/studio/data/{name}",
    "/studio/lineage",
    "/studio/models/{name}/versions/{version}/card",
)

RESOURCE = Resource(
    name="studio",
    position=900,
    routers=("shipyard.server.routers.session:router", "shipyard.studio.routes:router"),
    rules={
        **{("GET", path): RouteRule("public") for path in _PAGES},
        # Takes the token in its body; the guard still refuses another origin's POST.
        ("POST", "/api/v1/session"): RouteRule("public"),
        ("DELETE", "/api/v1/session"): RouteRule("signed-in"),
    },
)
