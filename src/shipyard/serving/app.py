"""The worker protocol as a raw ASGI app (the protocol is in :mod:`shipyard.services.serving_ports`).

Raw ASGI rather than a framework: three routes, and the per-request cost is the hot path
of every endpoint. The model loads in a thread started by the lifespan's startup, so
``/live`` answers while a large model loads and ``/ready`` turns 200 once it has.

The model call runs in a pool of ``concurrency`` threads (the deployment's
``max_concurrent_requests_per_instance``); requests beyond that wait in line for a thread.
``timeout_s`` (``request_timeout_ms``) bounds waiting plus scoring: past it the client gets
408, as from Azure ML (a call already running in a thread finishes there; its answer is
dropped). Also with one thread the call leaves the event loop: running it inline was
measured ~5% faster on a 1.4 ms sklearn request, but then a slow model would starve the
probes (a liveness restart under load) and no timeout could be enforced.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from shipyard.serving._errors import PayloadError
from shipyard.serving.scorers import LoadFailed, Scorer, ScoringFailed

__all__ = ["WorkerApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = [(b"content-type", b"application/json")]
_OK = orjson.dumps({"status": "ok"})


class WorkerApp:
    """``on_load_failed(reason)`` is called (from the loading thread) when the scorer cannot load."""

    def __init__(
        self,
        scorer: Scorer,
        deployment: str,
        *,
        concurrency: int = 1,
        timeout_s: float = 5.0,
        on_load_failed: Callable[[str], None] | None = None,
    ) -> None:
        self._scorer = scorer
        self._deployment = deployment
        self._timeout = timeout_s
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="score")
        self._slots: asyncio.Semaphore | None = None
        self._concurrency = concurrency
        self._on_load_failed = on_load_failed
        self._ready = threading.Event()
        self.load_error = ""

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def load(self) -> None:
        """Load the scorer now (the lifespan does this in a thread)."""
        started = time.monotonic()
        try:
            self._scorer.load()
        except LoadFailed as exc:
            self._load_failed(str(exc), exc)
            return
        except Exception as exc:  # noqa: BLE001 - a bug of ours: the log and /ready still say why
            self._load_failed(f"loading raised {type(exc).__name__}: {exc}", exc)
            return
        print(f"model loaded in {time.monotonic() - started:.2f} s; ready", file=sys.stderr, flush=True)
        self._ready.set()

    def _load_failed(self, reason: str, exc: BaseException) -> None:
        self.load_error = reason
        traceback.print_exception(exc.__cause__ or exc, file=sys.stderr)
        print(f"cannot become ready: {reason}", file=sys.stderr, flush=True)
        if self._on_load_failed is not None:
            self._on_load_failed(reason)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._slots = asyncio.Semaphore(self._concurrency)
                threading.Thread(target=self.load, name="load-model", daemon=True).start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self._pool.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if path == "/score":
            if method != "POST":
                await _respond(send, 405, orjson.dumps({"error": "use POST /score"}))
                return
            body = await _read_body(receive)
            status, payload = await self._score(body)
            await _respond(send, status, payload)
        elif path == "/live" and method in ("GET", "HEAD"):
            await _respond(send, 200, _OK)
        elif path == "/ready" and method in ("GET", "HEAD"):
            if self._ready.is_set():
                await _respond(send, 200, _OK)
            else:
                why = self.load_error or "the model is loading"
                await _respond(send, 503, orjson.dumps({"error": why, "deployment": self._deployment}))
        else:
            await _respond(send, 404, orjson.dumps({"error": f"no route {method} {path}"}))

    async def _score(self, body: bytes) -> tuple[int, bytes]:
        if not self._ready.is_set():
            return 503, self._error(self.load_error or "the model is still loading")
        assert self._slots is not None
        try:
            async with asyncio.timeout(self._timeout), self._slots:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._pool, self._call, body)
        except TimeoutError:
            return 408, self._error(
                f"the request took longer than request_timeout_ms={self._timeout * 1000:g}"
            )

    def _call(self, body: bytes) -> tuple[int, bytes]:
        try:
            return 200, self._scorer.score(body)
        except PayloadError as exc:
            return exc.status, orjson.dumps({"error": exc.message})
        except ScoringFailed as exc:
            traceback.print_exception(exc.__cause__ or exc, file=sys.stderr)
            return 500, self._error(str(exc))
        except Exception as exc:  # noqa: BLE001 - printed with its traceback, answered as a 500
            traceback.print_exception(exc, file=sys.stderr)
            return 500, self._error(f"scoring raised {type(exc).__name__}: {exc}")

    def _error(self, message: str) -> bytes:
        return orjson.dumps({"error": message, "deployment": self._deployment})


async def _read_body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    chunks = [body]
    while message.get("more_body", False):
        message = await receive()
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _JSON})
    await send({"type": "http.response.body", "body": body})
