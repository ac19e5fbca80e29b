"""One HTTP session to a Shipyard server: base URL, workspace header, error mapping, retries."""

from __future__ import annotations

import os
import re
import time
from typing import Any

import httpx
import orjson

from shipyard.client.credentials import resolve_token
from shipyard.errors import InvalidArgument, Unavailable, error_from_payload

__all__ = ["DEFAULT_URL", "HttpClient", "raise_for", "resolve_url"]

DEFAULT_URL = "http://127.0.0.1:5151"
_RETRY_STATUSES = {429, 502, 503, 504}
_TOKEN = re.compile(r"[\x21-\x7e]+")  # what an Authorization header can carry


def resolve_url(url: str | None) -> str:
    """``url``, else ``SHIPYARD_URL``, else the local default."""
    return (url or os.environ.get("SHIPYARD_URL") or DEFAULT_URL).rstrip("/")


def _plain_http(url: str) -> httpx.BaseTransport | None:
    """For an ``http://`` server, a transport that skips loading certificates; None otherwise.

    httpx builds its TLS context, loading the CA certificates, when the client is made
    (~45 ms: a fifth of a short CLI command). A plain-HTTP server needs none. The context
    given instead verifies everything and trusts nothing, so an ``https://`` request on this
    client (the SDK makes none) would fail rather than go out unverified.
    """
    if not url.startswith("http://"):
        return None
    import ssl

    return httpx.HTTPTransport(verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))


class HttpClient:
    def __init__(
        self,
        url: str | None = None,
        *,
        workspace: str | None = None,
        token: str | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        retries: int = 5,
    ) -> None:
        self.url = resolve_url(url)
        headers = {"User-Agent": "shipyard-sdk"}
        workspace = workspace or os.environ.get("SHIPYARD_WORKSPACE")
        self.workspace = workspace  # None: the server's default
        if workspace:
            headers["Shipyard-Workspace"] = workspace
        self.token = resolve_token(self.url, token)
        if self.token and not _TOKEN.fullmatch(self.token):
            # httpx would refuse the header later, as if the server could not be reached.
            raise InvalidArgument(
                "the token is not one word of visible characters (a space or line break copied"
                " with it?); check --token, SHIPYARD_TOKEN or `shipyard login`"
            )
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self.retries = retries
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport or _plain_http(self.url)
        )

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: Any = None,
        headers: dict[str, str] | None = None,
        retry: bool | None = None,
    ) -> Any:
        """Send, decode JSON, raise the server's error as its :class:`ShipyardError` class.

        Reads (GET) are retried on connection errors and 429/5xx; writes only when the caller
        says they are safe to repeat (``retry=True``, e.g. with an idempotency key).
        """
        body = orjson.dumps(json) if json is not None else content
        send_headers = dict(headers or {})
        if json is not None:
            send_headers["Content-Type"] = "application/json"
        may_retry = (method == "GET") if retry is None else retry
        attempts = self.retries + 1 if may_retry else 1
        delay = 0.1
        for attempt in range(attempts):
            try:
                response = self._http.request(method, path, content=body, params=params, headers=send_headers)
            except httpx.TransportError as exc:
                if attempt + 1 >= attempts:
                    raise Unavailable(f"cannot reach the Shipyard server at {self.url}: {exc}") from exc
            else:
                if response.status_code not in _RETRY_STATUSES or attempt + 1 >= attempts:
                    return self._decode(response)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _decode(response: httpx.Response) -> Any:
        if response.is_success and (response.status_code == 204 or not response.content):
            return None
        try:
            payload = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            payload = response.text
        if response.is_success:
            return payload
        raise error_from_payload(response.status_code, payload)

    def stream(self, method: str, path: str, **kwargs: Any) -> Any:
        """An httpx streaming context for downloads and uploads of large files."""
        return self._http.stream(method, path, **kwargs)


def raise_for(response: httpx.Response) -> None:
    if not response.is_success:
        response.read()
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            payload = response.text
        raise error_from_payload(response.status_code, payload)
