"""The scoring router's HTTP/1.1 client to its workers: kept-alive connections per worker
address (``http+unix://<quoted socket path>`` or ``http://host:port``), asyncio + httptools.

It speaks only what the worker protocol needs — ``POST`` with a body; an answer with a
status, a content type and a body (sized or chunked) — because this hop is on the path of
every prediction: aiohttp's client spent ~0.23 ms of the router's CPU per request here, this
one ~0.06 ms (one request at a time to a worker's UNIX socket; benchmarks/serving.py).

:class:`WorkerGone` means the worker could not be reached or dropped the connection before
answering, so the request may go to another worker. A connection kept alive from an earlier
request that turns out closed (a worker's idle timeout) is replaced once, silently.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import cast
from urllib.parse import unquote, urlsplit

import httptools

__all__ = ["WorkerClient", "WorkerGone"]


class WorkerGone(ConnectionError):
    """The worker could not be reached, or closed the connection before its answer ended."""


Answer = tuple[int, bytes, bytes]  # status, body, content type


class _Connection(asyncio.Protocol):
    """One connection to a worker, one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.answered = False  # the worker started an answer on this connection
        self._keep_alive = False
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Answer] | None = None
        self._body: list[bytes] = []
        self._content_type = b"application/json"

    # -- asyncio.Protocol --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(WorkerGone(f"the worker's answer is not valid HTTP: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(WorkerGone("the worker closed the connection before answering"))

    # -- httptools callbacks --

    def on_message_begin(self) -> None:
        self.answered = True

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"content-type":
            self._content_type = value

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._keep_alive = self._parser.should_keep_alive()  # reset once this returns
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(
                (self._parser.get_status_code(), b"".join(self._body), self._content_type)
            )

    # -- use --

    async def request(self, head: bytes, body: bytes) -> Answer:
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self._body, self._content_type, self._keep_alive = [], b"application/json", False
        if len(body) < 65536:
            self.transport.write(head + body)  # one write, one syscall
        else:
            self.transport.write(head)
            self.transport.write(body)
        return await self._waiter

    @property
    def reusable(self) -> bool:
        return not self.closed and self._keep_alive

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: WorkerGone) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)


class WorkerClient:
    def __init__(self) -> None:
        self._idle: dict[str, list[_Connection]] = {}
        self._open: weakref.WeakSet[_Connection] = weakref.WeakSet()  # also those in use

    async def post(
        self, address: str, path: str, body: bytes, content_type: bytes, timeout_s: float
    ) -> Answer:
        """Raises :class:`WorkerGone`, or ``TimeoutError`` past ``timeout_s`` (connecting included)."""
        head = b"POST %s HTTP/1.1\r\nhost: worker\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n" % (
            path.encode(),
            content_type,
            len(body),
        )
        async with asyncio.timeout(timeout_s):
            conn = self._take_idle(address)
            if conn is not None:
                try:
                    return await self._exchange(address, conn, head, body)
                except WorkerGone:
                    if conn.answered:
                        raise
                    # A kept-alive connection the worker had already closed: once more, fresh.
            return await self._exchange(address, await self._connect(address), head, body)

    async def close(self) -> None:
        for conn in list(self._open):
            conn.close()
        self._idle.clear()

    def _take_idle(self, address: str) -> _Connection | None:
        idle = self._idle.get(address)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    async def _exchange(self, address: str, conn: _Connection, head: bytes, body: bytes) -> Answer:
        conn.answered = False
        try:
            answer = await conn.request(head, body)
        except BaseException:
            conn.close()  # a timeout or cancel mid-answer leaves it unusable
            raise
        if conn.reusable:
            self._idle.setdefault(address, []).append(conn)
        else:
            conn.close()
        return answer

    async def _connect(self, address: str) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            if address.startswith("http+unix://"):
                _, conn = await loop.create_unix_connection(
                    _Connection, unquote(address[len("http+unix://") :])
                )
            else:
                where = urlsplit(address)
                _, conn = await loop.create_connection(
                    _Connection, where.hostname or "127.0.0.1", where.port or 80
                )
        except OSError as exc:
            raise WorkerGone(f"cannot reach the worker at {address}: {exc}") from exc
        self._open.add(conn)
        return conn
