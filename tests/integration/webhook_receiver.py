"""A tiny HTTP receiver of webhook deliveries on 127.0.0.1 (port 0), for the webhook tests.

It records every POST (headers and body), answers with the status and body it is told to,
and checks MLflow's signature the way a receiver would: HMAC-SHA256 of
``<delivery id>.<timestamp>.<body>`` under the shared secret, ``v1,<base64>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Delivery", "Receiver", "signature_ok"]


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def signature_ok(delivery: Delivery, secret: str) -> bool:
    given = delivery.headers.get("x-mlflow-signature", "")
    content = f"{delivery.headers['x-mlflow-delivery-id']}.{delivery.headers['x-mlflow-timestamp']}."
    digest = hmac.new(secret.encode(), content.encode() + delivery.body, hashlib.sha256).digest()
    return hmac.compare_digest(given, "v1," + base64.b64encode(digest).decode())


@dataclass
class Receiver:
    status: int = 200
    answer: bytes = b'{"received": true}'
    deliveries: list[Delivery] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._cond:
                    receiver.deliveries.append(Delivery(self.path, headers, body))
                    receiver._cond.notify_all()
                self.send_response(receiver.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(receiver.answer)))
                self.end_headers()
                self.wfile.write(receiver.answer)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while len(self.deliveries) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self.deliveries)} deliveries within {timeout_s} s; wanted {count}"
                    )
                self._cond.wait(left)
            return list(self.deliveries)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
