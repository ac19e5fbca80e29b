"""The worker's batching, driven through its ASGI interface with a scorer that records its
calls: requests that wait while a batch is scored are scored together next, a request alone
is not held back, and a timed-out request is not scored."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import MutableMapping, Sequence
from typing import Any

import orjson

from shipyard.serving.app import WorkerApp
from shipyard.serving.scorers import Scorer


class Recording(Scorer):
    def __init__(self) -> None:
        self.calls: list[list[bytes]] = []
        self.gate = threading.Event()
        self.entered = threading.Event()

    def load(self) -> None:
        pass

    @property
    def batchable(self) -> bool:
        return True

    def score(self, body: bytes) -> bytes:
        raise AssertionError("a batching worker calls score_many")

    def score_many(self, bodies: Sequence[bytes]) -> list[bytes | Exception]:
        self.calls.append(list(bodies))
        self.entered.set()
        self.gate.wait(10)
        return [b"[" + b + b"]" if b != b"bad" else ValueError("boom") for b in bodies]


_LIFESPANS: list[asyncio.Future[None]] = []  # a reference, so the lifespan task is not collected


async def _started(app: WorkerApp) -> asyncio.Queue[dict[str, Any]]:
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    _LIFESPANS.append(asyncio.ensure_future(app({"type": "lifespan"}, inbox.get, outbox.put)))
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    for _ in range(100):
        if app.ready:
            break
        await asyncio.sleep(0.01)
    return inbox


async def _post(app: WorkerApp, body: bytes) -> tuple[int, bytes]:
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "path": "/score", "method": "POST"}, receive, send)
    return sent[0]["status"], sent[1]["body"]


def test_requests_that_wait_are_scored_together_and_each_gets_its_own_answer() -> None:
    async def main() -> None:
        scorer = Recording()
        app = WorkerApp(scorer, "blue", concurrency=8, max_batch=4, timeout_s=10)
        inbox = await _started(app)
        first = asyncio.ensure_future(_post(app, b"1"))
        await asyncio.to_thread(scorer.entered.wait, 5)  # "1" is being scored alone
        rest = [asyncio.ensure_future(_post(app, str(i).encode())) for i in range(2, 8)]
        rest.append(asyncio.ensure_future(_post(app, b"bad")))
        await asyncio.sleep(0.1)  # all of them waiting for the scoring thread
        scorer.gate.set()
        answers = await asyncio.gather(first, *rest)
        assert scorer.calls == [[b"1"], [b"2", b"3", b"4", b"5"], [b"6", b"7", b"bad"]]
        assert answers[:-1] == [(200, f"[{i}]".encode()) for i in range(1, 8)]
        status, body = answers[-1]
        assert status == 500
        error = orjson.loads(body)["error"]
        assert error["code"] == "SCORING_FAILED"
        assert (
            error["message"]
            == "deployment 'blue' could not score the request: scoring raised ValueError: boom"
        )
        assert error["details"] == {
            "deployment": "blue",
            "deployment_message": "scoring raised ValueError: boom",
        }
        await inbox.put({"type": "lifespan.shutdown"})

    asyncio.run(main())


def test_a_request_that_timed_out_while_waiting_is_not_scored() -> None:
    async def main() -> None:
        scorer = Recording()
        app = WorkerApp(scorer, "blue", concurrency=8, max_batch=8, timeout_s=0.3)
        inbox = await _started(app)
        first = asyncio.ensure_future(_post(app, b"1"))
        await asyncio.to_thread(scorer.entered.wait, 5)
        late = await _post(app, b"2")  # waits behind "1" past its timeout
        assert late[0] == 408
        assert b"request_timeout_ms=300" in late[1]
        scorer.gate.set()
        assert (await first)[0] == 408  # "1" itself also ran past the timeout
        assert (await _post(app, b"3")) == (200, b"[3]")
        assert scorer.calls == [[b"1"], [b"3"]]  # "2" was never scored
        await inbox.put({"type": "lifespan.shutdown"})

    asyncio.run(main())


def test_without_max_batch_each_request_is_scored_alone_in_the_pool() -> None:
    class Plain(Recording):
        def score(self, body: bytes) -> bytes:
            return b"<" + body + b">"

    async def main() -> None:
        scorer = Plain()
        app = WorkerApp(scorer, "blue", concurrency=2, max_batch=1, timeout_s=5)
        inbox = await _started(app)
        assert list(await asyncio.gather(_post(app, b"a"), _post(app, b"b"))) == [
            (200, b"<a>"),
            (200, b"<b>"),
        ]
        assert scorer.calls == []
        await inbox.put({"type": "lifespan.shutdown"})

    asyncio.run(main())
