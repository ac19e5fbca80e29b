"""A monitor's webhook: a breach, POSTed as JSON to the URL of the signal's ``action.webhook``.

The body is :func:`breach_payload`. With a secret, ``X-Shipyard-Signature: sha256=<hex>``
carries the HMAC-SHA256 of the exact body bytes under the secret's value, so a receiver can
check the call came from Shipyard (compare with ``hmac.compare_digest``).

:func:`post_webhook` never raises for the receiver's failure and never hangs: connection
errors, timeouts and 5xx answers are retried (``attempts`` in all, a short doubling back-off
in between). ``timeout_s`` bounds connecting and each read and write of an attempt; only the
first 200 bytes of an answer are read, so an attempt takes a few ``timeout_s`` at most and the
call ``attempts`` times that plus the back-offs (0.25 s, 0.5 s, …). A 4xx answer is not
retried: the receiver refused what it was sent.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

__all__ = ["SIGNATURE_HEADER", "WebhookResult", "breach_payload", "post", "post_webhook", "sign"]

SIGNATURE_HEADER = "X-Shipyard-Signature"
_BACKOFF_S = 0.25
_ANSWER_BYTES = 200


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """How the call went: ``ok`` on a 2xx answer; otherwise ``error`` says why, in words."""

    url: str
    ok: bool
    status: int | None  # the last answer's HTTP status; None when none came
    attempts: int
    error: str | None = None
    answer: str = ""  # the start of the last answer's body (its first 200 bytes)


def sign(body: bytes, secret: str) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def post_webhook(
    url: str,
    payload: Mapping[str, Any],
    *,
    secret: str | None,
    timeout_s: float = 5.0,
    attempts: int = 3,
) -> WebhookResult:
    body = orjson.dumps(payload)
    headers = {"content-type": "application/json", "user-agent": "shipyard-monitor"}
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    return post(url, body, headers, timeout_s=timeout_s, attempts=attempts)


def post(
    url: str, body: bytes, headers: Mapping[str, str], *, timeout_s: float = 5.0, attempts: int = 3
) -> WebhookResult:
    """POST ``body`` with ``headers`` to ``url``, retried as the module says; never raises
    for the receiver's failure. The registry's webhooks (``services/webhooks.py``) send through it."""
    headers = dict(headers)
    attempts = max(1, attempts)
    status: int | None = None
    error: str | None = None
    text = ""
    with httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=False) as client:
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                time.sleep(_BACKOFF_S * 2 ** (attempt - 2))
            try:
                status, text = _post_once(client, url, body, headers)
            except httpx.TimeoutException:
                status, error, text = None, f"no answer within {timeout_s:g} s", ""
                continue
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # refused, unreachable, bad URL
                status, error, text = None, f"could not reach {url}: {exc}", ""
                continue
            if 200 <= status < 300:
                return WebhookResult(url, True, status, attempt, answer=text)
            error = f"the receiver answered {status}: {text}"
            if status < 500:
                return WebhookResult(url, False, status, attempt, error, text)
    return WebhookResult(url, False, status, attempts, error, text)


def breach_payload(report: Mapping[str, Any], signal: Mapping[str, Any]) -> dict[str, Any]:
    """What a webhook receives when ``signal`` (a SignalResult of ``report``) breached::

        {"event": "monitor.breach", "monitor", "run_id", "job", "generated_at", "window",
         "target", "signal": {"name", "type"}, "breached": [the signal's breached rows],
         "links": {"run": "runs/<run_id>" | None, "report": "runs/<run_id>/artifacts/report.html" | None}}

    Links are paths relative to the server's base URL (the monitor does not know the address
    its users reach the server by)."""
    run_id = report.get("run_id")
    return {
        "event": "monitor.breach",
        "monitor": report.get("monitor"),
        "run_id": run_id,
        "job": report.get("job"),
        "generated_at": report.get("generated_at"),
        "window": report.get("window"),
        "target": report.get("target"),
        "signal": {"name": signal.get("name"), "type": signal.get("type")},
        "breached": [dict(row) for row in signal.get("rows", []) if row.get("breached")],
        "links": {
            "run": f"runs/{run_id}" if run_id else None,
            "report": f"runs/{run_id}/artifacts/report.html" if run_id else None,
        },
    }


def _post_once(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """One POST: the status and the start of the answer (a receiver's error page can be long)."""
    with client.stream("POST", url, content=body, headers=headers) as answer:
        start = b""
        for chunk in answer.iter_bytes():
            start += chunk
            if len(start) >= _ANSWER_BYTES:
                break
        return answer.status_code, start[:_ANSWER_BYTES].decode("utf-8", "replace")
