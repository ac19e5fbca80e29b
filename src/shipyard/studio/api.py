"""The studio's one way to data: the public API, called in-process with the caller's credential.

A page handler asks :class:`StudioApi` for what it shows; the call goes through the whole app
(the guard, the route's permission, the handler, the answer's serialisation) exactly as a
script's HTTP request would, without a socket. An error answer becomes :class:`ApiError`,
which pages show as the API said it (``render.py``), never as a blank panel.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlencode

import anyio
import httpx
import orjson
from fastapi import FastAPI, Request

from shipyard.domain.access import BUILTIN_ROLES
from shipyard.server.guard import WORKSPACE_HEADER
from shipyard.server.session import read_cookie

__all__ = ["WORKSPACE_COOKIE", "ApiError", "Head", "StudioApi", "roles_granting"]

WORKSPACE_COOKIE = "shipyard_workspace"
_BASE = "http://localhost"  # a host the guard always answers to
_DRAIN_MAX = 64 << 20  # past what a head() keeps, a smaller rest is read and dropped, a larger one cut off
_WORKSPACE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")  # as the guard checks the header


@dataclass(frozen=True, slots=True)
class Head:
    """The start of a non-JSON answer: its first bytes, its whole size if known, its headers."""

    body: bytes
    size: int | None
    headers: dict[str, str]


class ApiError(Exception):
    """An error answer of the API: its status, stable code and message, as a page shows them."""

    def __init__(self, status: int, code: str, message: str, *, permission: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.permission = permission

    @property
    def roles(self) -> list[str]:
        """The built-in roles that would allow what was refused (403)."""
        return roles_granting(self.permission) if self.permission else []


def roles_granting(permission: str) -> list[str]:
    return [name for name, role in BUILTIN_ROLES.items() if permission in role.expanded()]


def _client(app: FastAPI) -> httpx.AsyncClient:
    found: httpx.AsyncClient | None = getattr(app.state, "studio_client", None)
    if found is None:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        found = httpx.AsyncClient(transport=transport, base_url=_BASE, timeout=60)
        app.state.studio_client = found
    return found


class StudioApi:
    """The API as the caller of one page request may use it."""

    def __init__(self, request: Request) -> None:
        self._app: FastAPI = request.app
        state = request.scope.get("state", {})
        self.principal = state.get("principal")
        self.headers: dict[str, str] = {}
        session = state.get("session")
        if session:
            self.headers["Authorization"] = f"Bearer {session}"
        elif "authorization" in request.headers:  # a script or test with a token, no cookie
            self.headers["Authorization"] = request.headers["authorization"]
        workspace = request.headers.get(WORKSPACE_HEADER) or read_cookie(
            request.headers.get("cookie", "").encode("latin-1"), WORKSPACE_COOKIE
        )
        if workspace and not _WORKSPACE.match(workspace):
            workspace = None  # a cookie edited by hand: the default, rather than every page failing
        self.workspace = workspace or "default"
        if workspace:
            self.headers[WORKSPACE_HEADER] = workspace

    @property
    def signed_in(self) -> bool:
        return self.principal is not None

    async def call(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        headers = dict(self.headers)
        content = None
        if body is not None:
            content = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        clean = None if params is None else {k: v for k, v in params.items() if v is not None}
        answer = await _client(self._app).request(
            method, path, params=clean, content=content, headers=headers
        )
        if answer.status_code >= 400:
            raise _error(answer)
        if answer.status_code == 204 or not answer.content:
            return None
        return orjson.loads(answer.content)

    async def head(self, path: str, limit: int, **params: Any) -> Head:
        """The first ``limit`` bytes of a non-JSON GET answer (an artifact, a log), its whole
        size if it said so, and its headers; errors raised as :meth:`call` raises them.

        :meth:`call` goes through httpx's ASGI transport, which collects the whole body before
        returning: a 1 GB artifact would be read into memory to show 256 KB of it. So this calls
        the app itself, keeps ``limit`` bytes, then tells it the client went away, which stops a
        streamed answer (Starlette listens for the disconnect). Below ``_DRAIN_MAX`` bytes it
        reads the rest and drops it instead, so a download's file is closed at once.
        """
        clean = {k: v for k, v in params.items() if v is not None}
        headers = [(b"host", b"localhost")] + [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()
        ]
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "headers": headers,
            "scheme": "http",
            "path": unquote(path),
            "raw_path": path.encode("ascii"),
            "query_string": urlencode(clean).encode("ascii"),
            "server": ("localhost", 80),
            "client": ("127.0.0.1", 123),  # as httpx's ASGI transport says: an in-process caller
            "root_path": "",
            "state": {},
        }
        status = 500
        answer_headers: dict[str, str] = {}
        size: int | None = None
        body = bytearray()
        done = anyio.Event()
        asked = False

        async def receive() -> dict[str, Any]:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
                for key, value in message.get("headers", []):
                    answer_headers[key.decode("latin-1").lower()] = value.decode("latin-1")
                if "content-length" in answer_headers:
                    size = int(answer_headers["content-length"])
            elif message["type"] == "http.response.body" and not done.is_set():
                if len(body) < limit:
                    body.extend(message.get("body", b"")[: limit - len(body)])
                last = not message.get("more_body", False)
                too_long = len(body) >= limit and (size is None or size - limit > _DRAIN_MAX)
                if last or too_long:
                    done.set()

        await self._app(scope, receive, send)
        done.set()
        if status >= 400:
            raise _error(httpx.Response(status, content=bytes(body)))
        return Head(bytes(body), size, answer_headers)

    async def get(self, path: str, **params: Any) -> Any:
        return await self.call("GET", path, params=params)

    async def post(self, path: str, body: Any, **params: Any) -> Any:
        return await self.call("POST", path, params=params, body=body)


def _error(answer: httpx.Response) -> ApiError:
    try:
        data = orjson.loads(answer.content)
    except orjson.JSONDecodeError:
        return ApiError(answer.status_code, "HTTP_ERROR", answer.text[:300] or answer.reason_phrase)
    if isinstance(data, dict) and isinstance(data.get("error"), dict):  # the native API
        error = data["error"]
        details = error.get("details") or {}
        return ApiError(
            answer.status_code,
            str(error.get("code", "ERROR")),
            str(error.get("message", "")),
            permission=details.get("permission") if isinstance(details, dict) else None,
        )
    if isinstance(data, dict) and "error_code" in data:  # MLflow's API
        return ApiError(answer.status_code, str(data["error_code"]), str(data.get("message", "")))
    return ApiError(answer.status_code, "HTTP_ERROR", answer.text[:300])
