"""Templates and the helpers every page uses: render a page, show an API error as the API
said it, send a browser without a session to the sign-in page."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import lru_cache, wraps
from typing import Any, ParamSpec
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shipyard._version import __version__
from shipyard.server.session import CSRF_COOKIE
from shipyard.studio.api import ApiError, StudioApi

__all__ = ["env", "page", "render", "sign_in_redirect"]

P = ParamSpec("P")

# Pages are built per request and hold a user's data: never cached by a browser or a proxy.
_NO_STORE = {"Cache-Control": "no-store"}


def _when(ms: int | None) -> str:
    if not ms:
        return "—"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _duration(start: int | None, end: int | None) -> str:
    if not start or not end or end < start:
        return "—"
    seconds = (end - start) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m {int(seconds % 60)}s"
    return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60)}m"


def _num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    return f"{value:.6g}"


def _fact(key: str, value: Any) -> str:
    """One fact of a record for people: times as dates, mappings and lists as compact JSON."""
    if isinstance(value, int) and not isinstance(value, bool) and key.endswith(("_at", "_time")):
        return _when(value)
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(", ", ": "), default=str)
    return str(value)


@lru_cache(maxsize=1)
def env() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("shipyard.studio", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a missing field is a bug to see, not a blank cell
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(when=_when, num=_num, q=lambda s: quote(str(s), safe=""))
    environment.globals.update(duration=_duration, fact=_fact, version=__version__)
    return environment


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    api: StudioApi | None = context.pop("api", None)
    principal = request.scope.get("state", {}).get("principal")
    body = (
        env()
        .get_template(template)
        .render(
            request=request,
            user=None if principal is None else principal.name,
            auth=request.app.state.authenticator is not None,
            workspace=api.workspace if api else "default",
            path=request.url.path,
            csrf_cookie=CSRF_COOKIE,
            **context,
        )
    )
    return HTMLResponse(body, status_code=status, headers=_NO_STORE)


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def page(
    handler: Callable[P, Awaitable[Response]],
) -> Callable[P, Awaitable[Response]]:
    """A page handler's guard rails: no session → the sign-in page; an API error the handler
    did not catch → the error page with the API's status, code and message (403 says which
    built-in roles would allow it)."""

    @wraps(handler)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> Response:
        request = kwargs.get("request")
        assert isinstance(request, Request), "a studio page takes `request: Request`"
        if request.scope.get("state", {}).get("principal") is None:
            return sign_in_redirect(request)
        try:
            return await handler(*args, **kwargs)
        except ApiError as error:
            if error.status == 401:
                return sign_in_redirect(request)
            return render(
                request, "error.html", status=error.status, error=error, title=f"Error {error.status}"
            )

    return wrapped
