"""The model ceiling of the serving benchmark: the thinnest server of the same model — a raw
ASGI app that parses a ``dataframe_split`` body, calls the scikit-learn pipeline's
``predict`` in the event loop (no schema check, no thread, no batching, no auth, no
metrics) and answers ``{"predictions": […]}``; one uvicorn process per worker, as
``shipyard up``'s uvicorn runs (uvloop and httptools, no access log).

    python benchmarks/_bare_model_asgi.py PORT MODEL_DIR WORKERS
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd  # type: ignore[import-untyped]
import uvicorn

Message = MutableMapping[str, Any]

_HEADERS = [(b"content-type", b"application/json")]
_MODEL: Any = None
if "BARE_MODEL_DIR" in os.environ:  # in each worker process uvicorn imports this module into
    import mlflow.sklearn

    _MODEL = mlflow.sklearn.load_model(os.environ["BARE_MODEL_DIR"])


async def app(
    scope: Message, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
) -> None:
    if scope["type"] != "http":
        return
    if scope["method"] == "GET":  # the benchmark's readiness check
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        await send({"type": "http.response.body", "body": b'{"status": "ok"}'})
        return
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    split = orjson.loads(b"".join(chunks))["dataframe_split"]
    # object-dtype labels, as scikit-learn keeps feature_names_in_ (see shipyard.serving.payloads)
    frame = pd.DataFrame(
        np.asarray(split["data"], dtype="float64"), columns=pd.Index(split["columns"], dtype=object)
    )
    answer = orjson.dumps({"predictions": _MODEL.predict(frame)}, option=orjson.OPT_SERIALIZE_NUMPY)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": answer})


if __name__ == "__main__":
    port, model_dir, workers = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    os.environ["BARE_MODEL_DIR"] = model_dir
    print(f"bare ASGI + model listening on http://127.0.0.1:{port} ({workers} processes)", flush=True)
    uvicorn.run(
        "_bare_model_asgi:app",
        app_dir=str(Path(__file__).parent),
        host="127.0.0.1",
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
        lifespan="off",
    )
