"""The scoring router: ``POST /endpoints/<name>/score`` → a deployment's worker.

A raw ASGI app, not a FastAPI route: it sits on the hot path of every prediction and does
only what it must — check the key, read the body (bounded), pick a deployment by traffic
weight (or the ``azureml-model-deployment`` header), pick the least busy ready worker of
it, forward, answer. Every response carries ``azureml-model-deployment`` (who served) and
``x-request-id`` (what the feedback API refers to). A share of requests is copied to mirror
deployments (answers discarded, measured); a share is collected as production data.

``POST /endpoints/<name>/feedback``, authenticated exactly as scoring, takes ground truth
for earlier request ids (:mod:`shipyard.services.feedback`) and answers 202
``{"accepted": n}``; a bad body is a 400 ``INVALID_ARGUMENT`` saying what to fix.

Errors have the API's one shape, ``{"error": {"code", "message", "details"}}``, with the
codes of :mod:`shipyard.errors`: 401 bad key or token, 403 a token without endpoints:score
(``aml_token`` endpoints), 404 unknown endpoint or deployment, 408 the model took longer
than ``request_timeout_ms``, 413 body over the limit, 429 every worker busy past
``max_queue_wait_ms``, 503 no ready worker. A worker answers its own errors in that shape
(400 ``INVALID_INPUT`` for input that does not fit the model, 500 ``SCORING_FAILED`` with
the script's own message in ``details.deployment_message``): they are passed through.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson
from anyio import to_thread

from shipyard.domain.endpoints import AuthMode
from shipyard.errors import InvalidArgument, NotFound, ShipyardError, Unauthenticated
from shipyard.server._worker_http import WorkerClient, WorkerGone
from shipyard.server.access import SCORING
from shipyard.server.scoring_metrics import ScoringMetrics
from shipyard.services.access.authenticator import Authenticator
from shipyard.services.data_collection import CollectedRow, DataCollector
from shipyard.services.endpoint_ports import DeploymentRoute, RoutingTable
from shipyard.services.feedback import MAX_FEEDBACK_BYTES, parse_feedback, record_feedback
from shipyard.services.monitoring.system import SystemAggregator
from shipyard.services.serving_ports import DeploymentKey, DeploymentRuntime, Instance, InstanceState

__all__ = ["DEPLOYMENT_HEADER", "REQUEST_ID_HEADER", "ScoringRouter"]

log = logging.getLogger("shipyard.scoring")

DEPLOYMENT_HEADER = "azureml-model-deployment"
REQUEST_ID_HEADER = "x-request-id"
_WORKSPACE_HEADER = b"shipyard-workspace"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Routes = Callable[[str, str], RoutingTable]
# Traffic splitting and sampling, not secrets: the standard generator is the right tool.
_rng = random.Random()  # noqa: S311
_SERVED_MEMORY = 100_000
"""Collected request ids remembered with their deployment, for the feedback that follows
(about 15 MB at most); older feedback is kept with the deployment unknown."""


class _Reject(Exception):
    def __init__(self, status: int, code: str, message: str, deployment: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.deployment = deployment


@dataclass
class _Slots:
    """In-flight requests per worker address, to pick the least busy and cap each one, and
    per deployment the requests waiting for a slot, in arrival order: a freed slot wakes
    the oldest one only (waking them all cost CPU per waiter and let late ones overtake)."""

    busy: dict[str, int] = field(default_factory=dict)
    waiting: dict[DeploymentKey, deque[asyncio.Future[None]]] = field(default_factory=dict)

    def wake_next(self, key: DeploymentKey) -> None:
        queue = self.waiting.get(key)
        while queue:
            turn = queue.popleft()
            if not turn.done():
                turn.set_result(None)
                return


class ScoringRouter:
    def __init__(
        self,
        routes: Routes,
        runtime: DeploymentRuntime,
        *,
        metrics: ScoringMetrics,
        collector: DataCollector | None = None,
        system: SystemAggregator | None = None,
        max_body_bytes: int = 16 * 1024 * 1024,
        tokens: Authenticator | None = None,
    ) -> None:
        self.routes = routes
        self.tokens = tokens  # aml_token endpoints; None on a --no-auth server
        self.runtime = runtime
        self.metrics = metrics
        self.collector = collector
        self.system = system  # per-minute counts kept for monitors' system signals
        self.max_body_bytes = max_body_bytes
        self._workers = WorkerClient()
        self._slots = _Slots()
        self._mirrors: set[asyncio.Task[None]] = set()
        self._served: OrderedDict[str, str] = OrderedDict()  # request id → deployment, collected ones

    async def close(self) -> None:
        await self._workers.close()

    # -- ASGI ----------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        endpoint = "?"
        served: str | None = None
        status = 500
        try:
            endpoint, action = self._endpoint_of(scope)
            if action == "feedback":
                await self._feedback(scope, receive, send, endpoint, request_id)
                return
            status, body, served, content_type = await self._score(scope, receive, endpoint, request_id)
        except _Reject as rejected:
            status, served = rejected.status, rejected.deployment
            details = {} if rejected.deployment is None else {"deployment": rejected.deployment}
            body = orjson.dumps(
                {"error": {"code": rejected.code, "message": rejected.message, "details": details}}
            )
            content_type = b"application/json"
        except ShipyardError as exc:
            status = exc.status
            body = orjson.dumps(exc.to_payload())
            content_type = b"application/json"
        # content-length: without it uvicorn frames the answer as chunked
        headers = [
            (b"content-type", content_type),
            (b"content-length", b"%d" % len(body)),
            (REQUEST_ID_HEADER.encode(), request_id.encode()),
        ]
        if served is not None:
            headers.append((DEPLOYMENT_HEADER.encode(), served.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        elapsed = time.perf_counter() - started
        self.metrics.observe(endpoint, served or "", status, elapsed, mirror=False)
        if self.system is not None and served is not None:  # refused before a deployment: not its error
            self.system.observe(_workspace_of(scope), endpoint, served, status, elapsed)

    def _endpoint_of(self, scope: Scope) -> tuple[str, str]:
        """(endpoint, ``score`` or ``feedback``)."""
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        parts = path.strip("/").split("/")
        if len(parts) != 2 or parts[1] not in ("score", "feedback") or not parts[0]:
            raise _Reject(
                404,
                "NOT_FOUND",
                "score at POST /endpoints/<endpoint name>/score, send ground truth to"
                " POST /endpoints/<endpoint name>/feedback",
            )
        if scope["method"] != "POST":
            raise _Reject(405, "METHOD_NOT_ALLOWED", f"{parts[1]} takes POST with a JSON body")
        return unquote(parts[0]), parts[1]

    async def _authenticate(self, headers: dict[bytes, bytes], endpoint: str) -> RoutingTable:
        workspace = headers.get(_WORKSPACE_HEADER, b"default").decode("latin-1")
        try:
            table = self.routes(workspace, endpoint)
        except NotFound:
            raise _Reject(404, "NOT_FOUND", f"no online endpoint named {endpoint!r}") from None
        if table.auth_mode is AuthMode.AML_TOKEN:
            await self._check_token(_text(headers.get(b"authorization")), workspace, endpoint)
        elif not table.accepts(_text(headers.get(b"authorization"))):
            raise _Reject(401, "UNAUTHENTICATED", "give the endpoint's key as 'Authorization: Bearer <key>'")
        return table

    async def _score(
        self, scope: Scope, receive: Receive, endpoint: str, request_id: str
    ) -> tuple[int, bytes, str, bytes]:
        headers = {k.lower(): v for k, v in scope["headers"]}
        table = await self._authenticate(headers, endpoint)
        body = await self._read_body(receive, headers)
        name = self._choose(table, _text(headers.get(DEPLOYMENT_HEADER.encode())))
        route = table.deployments[name]
        content_type = headers.get(b"content-type", b"application/json")
        for mirror, weight in table.mirror_traffic.items():
            if weight > 0 and mirror != name and mirror in table.deployments and _rng.random() * 100 < weight:
                self._mirror(table, table.deployments[mirror], body, content_type)
        status, answer, answer_type = await self._forward(route, name, body, content_type)
        self._collect(table, name, route, request_id, body, answer, status)
        return status, answer, name, answer_type

    async def _check_token(self, authorization: str | None, workspace: str, endpoint: str) -> None:
        """``aml_token``: a Shipyard token whose principal holds endpoints:score here."""
        if self.tokens is None:  # --no-auth: the one local user may score
            return
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _Reject(401, "UNAUTHENTICATED", "give a Shipyard token as 'Authorization: Bearer <token>'")
        principal = self.tokens.cached(token)
        if principal is None:
            try:
                principal = await to_thread.run_sync(self.tokens.bearer, token)
            except Unauthenticated as exc:
                raise _Reject(401, "UNAUTHENTICATED", exc.message) from None
        if not principal.may(SCORING.permission, workspace):
            raise _Reject(
                403,
                "PERMISSION_DENIED",
                f"{principal.name!r} may not score {endpoint!r}: that needs {SCORING.permission}"
                f" in workspace {workspace!r}",
            )

    async def _read_body(
        self, receive: Receive, headers: dict[bytes, bytes], limit: int | None = None
    ) -> bytes:
        limit = self.max_body_bytes if limit is None else limit
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _Reject(413, "PAYLOAD_TOO_LARGE", f"the request body is over the limit of {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _Reject(
                    413, "PAYLOAD_TOO_LARGE", f"the request body is over the limit of {limit} bytes"
                )
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    @staticmethod
    def _choose(table: RoutingTable, asked: str | None) -> str:
        if asked:
            if asked not in table.deployments:
                known = ", ".join(sorted(table.deployments)) or "none"
                raise _Reject(
                    404,
                    "NOT_FOUND",
                    f"endpoint {table.endpoint!r} has no deployment {asked!r} (it has: {known})",
                )
            return asked
        live = [
            (name, weight)
            for name, weight in table.traffic.items()
            if weight > 0 and name in table.deployments
        ]
        if not live:
            raise _Reject(
                404,
                "NOT_FOUND",
                f"endpoint {table.endpoint!r} sends no traffic to any deployment: set traffic"
                " (`shipyard online-endpoint update --traffic`) or name one in the"
                f" {DEPLOYMENT_HEADER} header",
            )
        if len(live) == 1:
            return live[0][0]
        point = _rng.random() * sum(weight for _, weight in live)
        for name, weight in live:
            point -= weight
            if point < 0:
                return name
        return live[-1][0]

    # -- feedback ------------------------------------------------------------------

    async def _feedback(
        self, scope: Scope, receive: Receive, send: Send, endpoint: str, request_id: str
    ) -> None:
        """Ground truth for earlier requests: 202 ``{"accepted": n}``, kept off the hot path's metrics."""
        headers = {k.lower(): v for k, v in scope["headers"]}
        table = await self._authenticate(headers, endpoint)
        body = await self._read_body(receive, headers, min(self.max_body_bytes, MAX_FEEDBACK_BYTES))
        if self.collector is None or not self.collector.enabled:
            raise _Reject(
                503,
                "UNAVAILABLE",
                "this server cannot keep feedback: install pyarrow (pip install 'shipyard[serving]')",
            )
        try:
            items = parse_feedback(body)
        except InvalidArgument as exc:
            raise _Reject(exc.status, exc.code, exc.message) from None
        accepted = record_feedback(
            self.collector, table.workspace, table.endpoint, items, int(time.time() * 1000), self._served.get
        )
        answer = orjson.dumps({"accepted": accepted})
        await send(
            {
                "type": "http.response.start",
                "status": 202,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"%d" % len(answer)),
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    # -- workers -------------------------------------------------------------------

    async def _forward(
        self, route: DeploymentRoute, name: str, body: bytes, content_type: bytes
    ) -> tuple[int, bytes, bytes]:
        deadline = time.monotonic() + route.max_queue_wait_ms / 1000
        tried: set[str] = set()
        while True:
            instance = await self._acquire(route, name, deadline, tried)
            try:
                return await self._post(instance.address, route, name, body, content_type)
            except WorkerGone:
                # The worker went away between being picked and being reached (a rolling
                # update draining it, a crash): another ready one gets the request.
                tried.add(instance.address)
                if not any(
                    i.state is InstanceState.READY and i.address not in tried for i in self._ready(route)
                ):
                    raise _Reject(
                        503, "UNAVAILABLE", f"deployment {name!r} lost its workers mid-request", name
                    ) from None
            finally:
                self._release(instance.address, route.key)

    def _ready(self, route: DeploymentRoute) -> list[Instance]:
        return [i for i in self.runtime.instances(route.key) if i.state is InstanceState.READY]

    async def _acquire(self, route: DeploymentRoute, name: str, deadline: float, tried: set[str]) -> Instance:
        queue = self._slots.waiting.setdefault(route.key, deque())
        woken = False
        while True:
            # A newcomer takes a free slot only when nobody is waiting before it.
            if woken or not queue:
                try:
                    instance = self._take(route, name, tried)
                except _Reject:
                    if woken:
                        self._slots.wake_next(route.key)
                    raise
                if instance is not None:
                    return instance
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if woken:
                    self._slots.wake_next(route.key)  # the turn it does not use
                cap = route.max_concurrent_requests_per_instance
                raise _Reject(
                    429,
                    "TOO_MANY_REQUESTS",
                    f"every worker of deployment {name!r} is busy ({cap} request(s) each);"
                    " retry, or raise instance_count or max_concurrent_requests_per_instance",
                    name,
                )
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if woken:
                queue.appendleft(turn)  # woken but overtaken: first again
            else:
                queue.append(turn)
            try:
                await asyncio.wait_for(turn, remaining)
            except TimeoutError:
                pass
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._slots.wake_next(route.key)
                raise
            woken = turn.done() and not turn.cancelled()

    def _take(self, route: DeploymentRoute, name: str, tried: set[str]) -> Instance | None:
        """The least busy ready worker with a free slot (taken), or None when all are busy."""
        ready = [i for i in self._ready(route) if i.address not in tried]
        if not ready:
            raise _Reject(503, "UNAVAILABLE", f"deployment {name!r} has no ready worker", name)
        busy = self._slots.busy
        best = min(ready, key=lambda i: busy.get(i.address, 0))
        taken = busy.get(best.address, 0)
        if taken >= route.max_concurrent_requests_per_instance:
            return None
        busy[best.address] = taken + 1
        return best

    def _release(self, address: str, key: DeploymentKey) -> None:
        left = self._slots.busy.get(address, 1) - 1
        if left <= 0:
            self._slots.busy.pop(address, None)
        else:
            self._slots.busy[address] = left
        self._slots.wake_next(key)

    async def _post(
        self, address: str, route: DeploymentRoute, name: str, body: bytes, content_type: bytes
    ) -> tuple[int, bytes, bytes]:
        try:
            return await self._workers.post(
                address, "/score", body, content_type, route.request_timeout_ms / 1000
            )
        except TimeoutError:
            raise _Reject(
                408,
                "REQUEST_TIMEOUT",
                f"deployment {name!r} took longer than request_timeout_ms={route.request_timeout_ms}",
                name,
            ) from None

    # -- mirror and collection -----------------------------------------------------

    def _mirror(self, table: RoutingTable, route: DeploymentRoute, body: bytes, content_type: bytes) -> None:
        name = route.key.deployment

        async def shadow() -> None:
            started = time.perf_counter()
            status = 500
            try:
                status, _, _ = await self._forward(route, name, body, content_type)
            except _Reject as rejected:
                status = rejected.status
            except Exception:
                log.exception("mirror request to %s failed", name)
            self.metrics.observe(table.endpoint, name, status, time.perf_counter() - started, mirror=True)

        task = asyncio.get_running_loop().create_task(shadow())
        self._mirrors.add(task)
        task.add_done_callback(self._mirrors.discard)

    def _collect(
        self,
        table: RoutingTable,
        name: str,
        route: DeploymentRoute,
        request_id: str,
        body: bytes,
        answer: bytes,
        status: int,
    ) -> None:
        wanted = route.data_collection
        if self.collector is None or wanted is None or status != 200:
            return
        if not (wanted.model_inputs or wanted.model_outputs) or _rng.random() >= wanted.sampling_rate:
            return
        now = int(time.time() * 1000)
        self._served[request_id] = name
        if len(self._served) > _SERVED_MEMORY:
            self._served.popitem(last=False)
        for collection, enabled, data in (
            ("model_inputs", wanted.model_inputs, body),
            ("model_outputs", wanted.model_outputs, answer),
        ):
            if enabled:
                self.collector.collect(
                    CollectedRow(
                        table.workspace,
                        table.endpoint,
                        name,
                        collection,
                        request_id,
                        now,
                        data.decode("utf-8", "replace"),
                    )
                )


def _workspace_of(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name.lower() == _WORKSPACE_HEADER:
            return str(value.decode("latin-1"))
    return "default"


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")
