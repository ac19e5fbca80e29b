"""The ceiling of the serving benchmark: a bare ASGI app that reads the request body and
answers a constant, run on uvicorn exactly as ``shipyard up`` runs its app (default loop
and http: uvloop and httptools when installed, no access log).

    python benchmarks/_bare_asgi.py PORT
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Message = MutableMapping[str, Any]

_HEADERS = [(b"content-type", b"application/json")]
_ANSWER = b'{"predictions": [0, 1, 1, 0, 1, 1, 1, 0, 1, 1]}'


async def app(
    scope: Message, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _ANSWER})


if __name__ == "__main__":
    port = int(sys.argv[1])
    print(f"bare ASGI listening on http://127.0.0.1:{port}", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning", lifespan="off")
