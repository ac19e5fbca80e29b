"""The scoring router's client to its workers (``shipyard.server._worker_http``) against
small asyncio servers on real UNIX sockets that answer HTTP the way a worker would — or
misbehave the way a dying, draining or slow worker does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

import pytest

from shipyard.server._worker_http import WorkerClient, WorkerGone

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
BODY = b'{"dataframe_split": {"columns": ["a"], "data": [[1.0]]}}'


def address(path: Path) -> str:
    return "http+unix://" + quote(str(path), safe="")


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    return await reader.readexactly(length)


def answer(status: int, body: bytes, content_type: bytes = b"application/json") -> bytes:
    return b"HTTP/1.1 %d X\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s" % (
        status,
        content_type,
        len(body),
        body,
    )


async def with_server(path: Path, handler: Handler, test: Callable[[], Awaitable[None]]) -> None:
    """Serve ``handler`` on ``path`` while ``test`` runs; then stop every connection it holds."""
    tasks: list[asyncio.Task[None]] = []
    writers: list[asyncio.StreamWriter] = []

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.append(task)
        writers.append(writer)
        await handler(reader, writer)

    server = await asyncio.start_unix_server(tracked, path=str(path))
    try:
        await test()
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in writers:
            writer.close()
        await server.wait_closed()
        await asyncio.sleep(0)  # let the transports finish closing


def test_one_kept_alive_connection_carries_every_request_and_answers_pass_through(tmp_path: Path) -> None:
    sock, connections, seen = tmp_path / "w.sock", [], []

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        while not reader.at_eof():
            try:
                seen.append(await read_request(reader))
            except asyncio.IncompleteReadError:
                break
            status = 200 if len(seen) % 2 else 400
            writer.write(answer(status, b'{"n": %d}' % len(seen), b"application/json; charset=utf-8"))
            await writer.drain()

    async def test() -> None:
        client = WorkerClient()
        answers = [await client.post(address(sock), "/score", BODY, b"application/json", 5) for _ in range(4)]
        await client.close()
        assert answers[0] == (200, b'{"n": 1}', b"application/json; charset=utf-8")
        assert [a[0] for a in answers] == [200, 400, 200, 400]

    asyncio.run(with_server(sock, worker, test))
    assert seen == [BODY] * 4
    assert len(connections) == 1


def test_a_chunked_answer_is_read_whole(tmp_path: Path) -> None:
    sock = tmp_path / "w.sock"

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
            b"5\r\n[1, 2\r\n4\r\n, 3]\r\n0\r\n\r\n"
        )
        await writer.drain()

    async def test() -> None:
        client = WorkerClient()
        assert (await client.post(address(sock), "/score", BODY, b"application/json", 5))[1] == b"[1, 2, 3]"
        await client.close()

    asyncio.run(with_server(sock, worker, test))


def test_a_kept_alive_connection_the_worker_closed_is_replaced_without_an_error(tmp_path: Path) -> None:
    """uvicorn closes idle connections after its keep-alive timeout: the next request must
    not fail for it."""
    sock, connections = tmp_path / "w.sock", []

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await read_request(reader)
        writer.write(answer(200, b"[0]"))
        await writer.drain()
        writer.close()  # without "connection: close": the client learns it only later

    async def test() -> None:
        client = WorkerClient()
        for _ in range(3):
            assert (await client.post(address(sock), "/score", BODY, b"application/json", 5))[0] == 200
            await asyncio.sleep(0.05)
        await client.close()

    asyncio.run(with_server(sock, worker, test))
    assert len(connections) == 3


def test_a_worker_that_is_gone_or_drops_the_request_is_worker_gone(tmp_path: Path) -> None:
    sock = tmp_path / "w.sock"

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.close()  # dies before answering

    async def test() -> None:
        client = WorkerClient()
        with pytest.raises(WorkerGone, match="closed the connection"):
            await client.post(address(sock), "/score", BODY, b"application/json", 5)
        await client.close()

    asyncio.run(with_server(sock, worker, test))

    async def nobody() -> None:
        with pytest.raises(WorkerGone, match="cannot reach the worker"):
            await WorkerClient().post(address(tmp_path / "none.sock"), "/score", BODY, b"application/json", 5)

    asyncio.run(nobody())


def test_a_slow_worker_times_out_and_its_connection_is_not_reused(tmp_path: Path) -> None:
    sock, connections = tmp_path / "w.sock", []

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await read_request(reader)
        if len(connections) == 1:
            await asyncio.sleep(1.0)  # answers after the client gave up
        writer.write(answer(200, b'"late"' if len(connections) == 1 else b'"on time"'))
        await writer.drain()

    async def test() -> None:
        client = WorkerClient()
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await client.post(address(sock), "/score", BODY, b"application/json", 0.2)
        assert time.monotonic() - started < 0.8
        assert (await client.post(address(sock), "/score", BODY, b"application/json", 5))[1] == b'"on time"'
        await client.close()

    asyncio.run(with_server(sock, worker, test))
    assert len(connections) == 2
