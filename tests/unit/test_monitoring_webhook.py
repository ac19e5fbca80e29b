"""A monitor's webhook against a real HTTP receiver on loopback: signature, retries, failures."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shipyard.services.monitoring.webhook import SIGNATURE_HEADER, breach_payload, post_webhook


@dataclass
class Receiver:
    url: str
    answers: list[int] = field(default_factory=list)  # statuses to answer, in turn (then 200)
    delay_s: float = 0.0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver("")
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            if state.delay_s:
                stop.wait(state.delay_s)
            status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    stop.set()
    server.shutdown()
    server.server_close()


REPORT = {
    "monitor": "credit_monitor",
    "run_id": "r123",
    "job": "j9",
    "generated_at": 1_700_000_000_000,
    "window": {"start": 1, "end": 2},
    "target": "credit:blue",
    "signals": [],
    "history": [],
}
SIGNAL = {
    "name": "drift",
    "type": "data_drift",
    "breached": True,
    "rows": [
        {"column": "age", "type": "numerical", "metric": "normalized_wasserstein_distance", "value": 0.4,
         "threshold": 0.1, "breach_when": "above", "breached": True},
        {"column": "income", "type": "numerical", "metric": "normalized_wasserstein_distance", "value": 0.01,
         "threshold": 0.1, "breach_when": "above", "breached": False},
    ],
    "histograms": {},
    "notes": [],
    "error": None,
}  # fmt: skip


def test_a_signed_payload_arrives_and_its_signature_verifies(receiver: Receiver) -> None:
    payload = breach_payload(REPORT, SIGNAL)
    result = post_webhook(receiver.url, payload, secret="s3cret")
    assert result.ok and result.status == 200 and result.attempts == 1 and result.error is None
    [(headers, body)] = receiver.received
    assert headers["content-type"] == "application/json"
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER.lower()] == expected
    assert json.loads(body) == payload


def test_the_payload_names_the_monitor_run_and_only_the_breached_rows() -> None:
    payload = breach_payload(REPORT, SIGNAL)
    assert payload["event"] == "monitor.breach"
    assert (payload["monitor"], payload["run_id"], payload["target"]) == (
        "credit_monitor",
        "r123",
        "credit:blue",
    )
    assert payload["signal"] == {"name": "drift", "type": "data_drift"}
    assert [row["column"] for row in payload["breached"]] == ["age"]
    assert payload["links"] == {"run": "runs/r123", "report": "runs/r123/artifacts/report.html"}
    assert breach_payload({**REPORT, "run_id": None}, SIGNAL)["links"] == {"run": None, "report": None}


def test_without_a_secret_there_is_no_signature(receiver: Receiver) -> None:
    assert post_webhook(receiver.url, {"a": 1}, secret=None).ok
    assert SIGNATURE_HEADER.lower() not in receiver.received[0][0]


def test_a_5xx_is_retried_until_the_receiver_accepts(receiver: Receiver) -> None:
    receiver.answers = [500, 503]
    result = post_webhook(receiver.url, {"a": 1}, secret=None, attempts=3)
    assert result.ok and result.status == 200 and result.attempts == 3
    assert len(receiver.received) == 3


def test_a_receiver_failing_every_time_is_reported_not_raised(receiver: Receiver) -> None:
    receiver.answers = [500, 500]
    result = post_webhook(receiver.url, {"a": 1}, secret=None, attempts=2)
    assert not result.ok and result.status == 500 and result.attempts == 2
    assert result.error is not None and "500" in result.error


def test_a_4xx_is_not_retried(receiver: Receiver) -> None:
    receiver.answers = [404]
    result = post_webhook(receiver.url, {"a": 1}, secret=None, attempts=3)
    assert not result.ok and result.status == 404 and result.attempts == 1
    assert len(receiver.received) == 1


def test_a_receiver_that_is_down_is_reported() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = post_webhook(f"http://127.0.0.1:{port}/hook", {"a": 1}, secret="k", attempts=2)
    assert not result.ok and result.status is None and result.attempts == 2
    assert result.error is not None and "could not reach" in result.error


def test_a_receiver_slower_than_the_timeout_is_given_up_on(receiver: Receiver) -> None:
    receiver.delay_s = 5.0
    result = post_webhook(receiver.url, {"a": 1}, secret=None, timeout_s=0.2, attempts=2)
    assert not result.ok and result.status is None and result.attempts == 2
    assert result.error is not None and "no answer within 0.2 s" in result.error


@pytest.mark.parametrize("url", ["ftp://example.invalid/x", "not a url"])
def test_a_url_that_cannot_be_called_is_reported(url: str) -> None:
    result = post_webhook(url, {"a": 1}, secret=None, attempts=1)
    assert not result.ok and result.error is not None
