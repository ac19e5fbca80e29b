"""What every request passes before any route sees it: the browser-facing checks, the
caller's identity, and the audit entry written before the answer leaves.

In order:
1. **Host** is one this server answers to (``--allowed-hosts``; default: localhost names,
   loopback addresses and the addresses bound). A page that rebinds its DNS name to
   127.0.0.1 still sends its own name, and is refused (DNS rebinding).
2. **Cross-site writes**: a mutating request from another origin (its ``Origin`` header,
   which browsers send with every request but GET and HEAD) that is not allowed by
   ``--cors-allowed-origins``, or whose body a plain HTML form can send (``text/plain``,
   ``application/x-www-form-urlencoded``, ``multipart/form-data``) outside artifact
   uploads, is refused (CSRF).
3. **Who**: ``Authorization: Bearer <token>`` or HTTP Basic (a user and one of its tokens,
   as the mlflow client sends ``MLFLOW_TRACKING_USERNAME/PASSWORD``), or the studio's
   session cookie (``server/session.py``; a mutation sent with it must also carry the
   ``X-Shipyard-CSRF`` header the sign-in gave the page). No credential on a
   path that needs one is a 401 here, before the body is read; the studio's pages and
   assets pass without one and send the browser to ``/login`` themselves. Under ``--no-auth`` every
   caller is the local user. Scoring (``/endpoints/…``) checks its own keys.
4. **Audit**: a request that changes something (its rule's permission is not a read), and
   every refused one, is appended to the audit log before the status line goes out.

Every answer carries ``X-Frame-Options: DENY`` and ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import fnmatch
import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson
from anyio import to_thread

from shipyard.domain.access import is_mutation
from shipyard.domain.context import DEFAULT_WORKSPACE, Principal
from shipyard.errors import (
    HostNotAllowed,
    OriginNotAllowed,
    PayloadTooLarge,
    Unauthenticated,
    UnsupportedMediaType,
)
from shipyard.server.session import CSRF_HEADER, SESSION_COOKIE, csrf_of, read_cookie
from shipyard.services.access.audit import AuditLog
from shipyard.services.access.authenticator import Authenticator

__all__ = ["WORKSPACE_HEADER", "Guard", "HostPolicy"]

log = logging.getLogger("shipyard.server.guard")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

WORKSPACE_HEADER = "Shipyard-Workspace"
_WORKSPACE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORM_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
_SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
# "/gateway/": MLflow's AI gateway traffic, refused by server/mlflow/gateway.py in MLflow's shape.
# MLflow-shaped refusals also for OTLP span ingest and /version, which MLflow serves at the root.
_MLFLOW_PREFIXES = ("/api/2.0/mlflow", "/api/3.0/mlflow", "/ajax-api/", "/gateway/", "/v1/traces", "/version")
_UPLOAD = re.compile(
    r"^(/api/v1/runs/[^/]+/artifacts/|/api/v1/blobs/|/(api|ajax-api)/2\.0/mlflow-artifacts/artifacts/)"
)
_PUBLIC_PATHS = frozenset({"/healthz", "/", "/docs", "/openapi.json", "/login", "/api/v1/session"})
# The studio's pages hold no data of their own (each comes from an API call made with the
# caller's credential), so without one they pass, and answer with the sign-in page.
_STUDIO_PREFIXES = ("/studio/", "/docs/static/")
_LOOPBACK_NAMES = ("localhost", "*.localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class HostPolicy:
    """Host names and addresses (``*`` wildcards, e.g. ``10.0.*``) the server answers to."""

    patterns: tuple[str, ...]

    @staticmethod
    def build(extra: Iterable[str], bound: Iterable[str]) -> HostPolicy:
        patterns = [*_LOOPBACK_NAMES, *(h.strip().lower() for h in extra if h.strip())]
        for address in bound:
            host = address.strip("[]").lower()
            if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a wildcard bind: every local address
                patterns.extend(_local_addresses())
            else:
                patterns.append(host)
        return HostPolicy(tuple(dict.fromkeys(patterns)))

    def allows(self, host_header: str) -> bool:
        host = _strip_port(host_header.lower())
        return any(p in ("*", host) or fnmatch.fnmatchcase(host, p) for p in self.patterns)


def _strip_port(value: str) -> str:
    if value.startswith("["):  # [::1]:5151
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def _local_addresses() -> list[str]:
    import psutil

    found: list[str] = []
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            try:
                found.append(str(ipaddress.ip_address(addr.address.split("%")[0])))
            except ValueError:
                continue
    return found


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str, action: str, *, challenge: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.action = action
        self.challenge = challenge


_MLFLOW_CODES = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 400: "INVALID_PARAMETER_VALUE"}


class Guard:
    """The ASGI middleware described in the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        hosts: HostPolicy,
        cors_origins: Iterable[str] = (),
        authenticator: Authenticator | None,
        local_user: Principal,
        audit: AuditLog | None,
        max_json_bytes: int,
        max_upload_bytes: int,
    ) -> None:
        self.app = app
        self.max_json_bytes = max_json_bytes
        self.max_upload_bytes = max_upload_bytes
        self.hosts = hosts
        self.cors_origins = frozenset(o.rstrip("/").lower() for o in cors_origins)
        self.authenticator = authenticator  # None: --no-auth
        self.local_user = local_user
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        path: str = scope["path"]
        state = scope.setdefault("state", {})
        try:
            self._check_browser(scope, headers, path)
            if path.startswith("/endpoints/"):
                await self.app(scope, receive, self._scoring(scope, send))
                return
            state["workspace"] = _workspace(headers)
            principal = await self._principal(headers, path, state, scope["method"])
            state["principal"] = principal
            if (
                principal is not None
                and principal.grants.only_workspace
                and b"shipyard-workspace" not in headers
            ):
                # A job's token works in its job's workspace; the mlflow client in the job
                # cannot send the header, so that is where its requests go.
                state["workspace"] = principal.grants.only_workspace
            limit = self.max_upload_bytes if _UPLOAD.match(path) else self.max_json_bytes
            _check_declared_size(headers, limit)
        except _Refused as refused:
            await self._refuse(scope, send, refused, state)
            return
        await self.app(scope, _capped(receive, limit), self._auditing(scope, send, state))

    # -- 1, 2: the browser-facing checks ------------------------------------------------

    def _check_browser(self, scope: Scope, headers: dict[bytes, bytes], path: str) -> None:
        host = headers.get(b"host")
        if host is not None and not self.hosts.allows(host.decode("latin-1")):
            raise _Refused(
                403,
                HostNotAllowed.code,
                f"this server does not answer to the host {host.decode('latin-1')[:100]!r}; add it"
                " with `shipyard up --allowed-hosts` if it is yours",
                "host:refused",
            )
        method: str = scope["method"]
        if method not in _MUTATING or path.startswith("/endpoints/"):
            return
        origin = headers.get(b"origin")
        if origin is not None and not self._same_or_allowed(origin, host):
            raise _Refused(
                403,
                OriginNotAllowed.code,
                f"a {method} from the web page at {origin.decode('latin-1')[:100]!r} is refused;"
                " allow that origin with `shipyard up --cors-allowed-origins`",
                "origin:refused",
            )
        if method == "PUT" and _UPLOAD.match(path) is not None:
            return  # file uploads carry any type (a browser cannot send a PUT cross-site unasked)
        content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower().decode("latin-1")
        if content_type in _FORM_TYPES:
            raise _Refused(
                415,
                UnsupportedMediaType.code,
                f"{method} with Content-Type {content_type!r} is refused (an HTML form can send it);"
                " send application/json",
                "content-type:refused",
            )

    def _same_or_allowed(self, origin: bytes, host: bytes | None) -> bool:
        text = origin.decode("latin-1").rstrip("/").lower()
        if text in self.cors_origins or "*" in self.cors_origins:
            return True
        if host is None or text == "null":
            return False
        return text.split("://", 1)[-1] == host.decode("latin-1").lower()

    # -- 3: who ------------------------------------------------------------------------

    async def _principal(
        self, headers: dict[bytes, bytes], path: str, state: dict[str, Any], method: str
    ) -> Principal | None:
        if self.authenticator is None:
            return self.local_user
        credential = headers.get(b"authorization")
        if credential is None:
            session = read_cookie(headers.get(b"cookie"), SESSION_COOKIE)
            if session:
                return await self._session(session, headers, path, state, method)
            if path in _PUBLIC_PATHS or path.startswith(_STUDIO_PREFIXES):
                return None  # the route's rule decides (server/access.py): these are public
            raise _Refused(
                401,
                "UNAUTHENTICATED",
                "sign in: send 'Authorization: Bearer <token>' (`shipyard login`, SHIPYARD_TOKEN,"
                " or MLFLOW_TRACKING_TOKEN for the mlflow client)",
                "auth:missing",
                challenge=True,
            )
        scheme, _, value = credential.decode("latin-1").partition(" ")
        value = value.strip()
        claimed = "anonymous"
        authenticator = self.authenticator
        try:
            if scheme.lower() == "bearer" and value:
                # A verified token is a dict lookup; only a cache miss goes to the database,
                # and then off the event loop.
                return authenticator.cached(value) or await to_thread.run_sync(authenticator.bearer, value)
            if scheme.lower() == "basic" and value:
                username, password = _basic(value)
                claimed = username[:64] or "anonymous"
                return await to_thread.run_sync(authenticator.basic, username, password)
        except Unauthenticated as exc:
            state["claimed"] = claimed
            raise _Refused(401, "UNAUTHENTICATED", exc.message, "auth:failed", challenge=True) from None
        raise _Refused(
            401,
            "UNAUTHENTICATED",
            "the Authorization header must be 'Bearer <token>' or HTTP Basic with a token as the password",
            "auth:failed",
            challenge=True,
        )

    async def _session(
        self, token: str, headers: dict[bytes, bytes], path: str, state: dict[str, Any], method: str
    ) -> Principal | None:
        """The studio's cookie: a token of the user's, made at sign-in. A mutation must also
        carry the CSRF value derived from it, which only a page of this origin can read."""
        authenticator = self.authenticator
        assert authenticator is not None
        try:
            found = authenticator.cached(token)
            principal = found or await to_thread.run_sync(authenticator.bearer, token)
        except Unauthenticated:
            if path in _PUBLIC_PATHS or path.startswith(_STUDIO_PREFIXES):
                return None  # an expired session: the page sends the browser to sign in again
            raise _Refused(
                401, "UNAUTHENTICATED", "the studio session has expired: sign in again at /login",
                "auth:failed",
            ) from None  # fmt: skip
        assert principal is not None
        if method in _MUTATING and headers.get(CSRF_HEADER.lower().encode(), b"").decode(
            "latin-1"
        ) != csrf_of(token):
            state["claimed"] = principal.name
            raise _Refused(
                403, "CSRF_FAILED",
                f"a {method} signed in by the studio's cookie must carry the {CSRF_HEADER} header the"
                " page was given; reload the page",
                "csrf:refused",
            )  # fmt: skip
        state["session"] = token
        return principal

    # -- answers and the audit ---------------------------------------------------------

    async def _refuse(self, scope: Scope, send: Send, refused: _Refused, state: dict[str, Any]) -> None:
        path: str = scope["path"]
        if path.startswith(_MLFLOW_PREFIXES):
            code = _MLFLOW_CODES.get(refused.status, refused.code)
            body = orjson.dumps({"error_code": code, "message": refused.message})
        else:
            body = orjson.dumps({"error": {"code": refused.code, "message": refused.message, "details": {}}})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(body)),
            *_SECURITY_HEADERS,
        ]
        if refused.challenge:
            headers.append((b"www-authenticate", b'Bearer realm="shipyard"'))
        if refused.status not in (400, 413):  # a malformed or oversized request is no attempt to get in
            await self._write_audit(
                actor=state.get("claimed", "anonymous"),
                action=refused.action,
                scope=scope,
                workspace=state.get("workspace", DEFAULT_WORKSPACE),
                status=refused.status,
                detail={"reason": refused.message[:300]},
            )
        await send({"type": "http.response.start", "status": refused.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _auditing(self, scope: Scope, send: Send, state: dict[str, Any]) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
                status: int = message["status"]
                rule = state.get("rule")
                mutation = rule is not None and is_mutation(rule.permission)
                if mutation or status in (401, 403):
                    principal: Principal | None = state.get("principal")
                    detail: dict[str, Any] = {}
                    if principal is not None and principal.token_name:
                        detail["token"] = principal.token_name
                    await self._write_audit(
                        actor="anonymous" if principal is None else principal.name,
                        action=rule.permission if rule is not None else "request",
                        scope=scope,
                        workspace=state.get("workspace", DEFAULT_WORKSPACE),
                        status=status,
                        detail=detail,
                    )
            await send(message)

        return wrapped

    def _scoring(self, scope: Scope, send: Send) -> Send:
        """Scoring checks its own keys; a refused one is still a denied request, audited."""

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
                if message["status"] in (401, 403):
                    workspace = _headers(scope).get(b"shipyard-workspace", b"default").decode("latin-1")
                    await self._write_audit(
                        actor="anonymous",
                        action="endpoints:score",
                        scope=scope,
                        workspace=workspace[:64],
                        status=message["status"],
                        detail={},
                    )
            await send(message)

        return wrapped

    async def _write_audit(
        self, *, actor: str, action: str, scope: Scope, workspace: str, status: int, detail: dict[str, Any]
    ) -> None:
        if self.audit is None:
            return
        client = scope.get("client")
        if client:
            detail = {**detail, "client": str(client[0])}
        outcome = (
            "ok" if status < 400 else "denied" if status in (401, 403) or action.endswith(":refused")
            else "failed" if status < 500 else "error"
        )  # fmt: skip
        if action == "auth:failed":
            outcome = "failed"
        try:
            done = self.audit.record(
                actor=actor,
                action=action,
                target=f"{scope['method']} {scope['path']}",
                workspace=workspace,
                status=status,
                outcome=outcome,
                detail=detail,
            )
            await asyncio.wait_for(asyncio.wrap_future(done), timeout=30)
        except Exception:
            # The answer still goes out: the change it reports is already committed.
            log.exception("audit entry for %s %s was not written", scope["method"], scope["path"])


def _check_declared_size(headers: dict[bytes, bytes], limit: int) -> None:
    declared = headers.get(b"content-length", b"").strip()
    if declared.isdigit() and int(declared) > limit:
        raise _Refused(
            413,
            "PAYLOAD_TOO_LARGE",
            f"the request body is {int(declared)} bytes; this server takes at most {limit} here",
            "request:too-large",
        )


def _capped(receive: Receive, limit: int) -> Receive:
    """``receive``, failing with 413 once the body read so far passes ``limit`` (a body
    sent without a length, or longer than it said)."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(f"the request body is over this server's limit of {limit} bytes here")
        return message

    return wrapped


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {k.lower(): v for k, v in scope["headers"]}


def _basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("the HTTP Basic credential is not valid base64 of 'user:token'") from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise Unauthenticated("the HTTP Basic credential must be 'user:token'")
    return username, password


def _workspace(headers: dict[bytes, bytes]) -> str:
    raw = headers.get(WORKSPACE_HEADER.lower().encode())
    if raw is None:
        return DEFAULT_WORKSPACE
    workspace = raw.decode("latin-1")
    if not _WORKSPACE.match(workspace):
        raise _Refused(
            400,
            "INVALID_ARGUMENT",
            f"{WORKSPACE_HEADER} must be 1-63 lowercase letters, digits, '-' or '_'; got {workspace[:80]!r}",
            "request:invalid",
        )
    return workspace
