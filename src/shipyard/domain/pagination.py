"""Opaque page tokens, bound to the query they page through."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from shipyard.errors import InvalidPageToken

__all__ = ["decode_token", "encode_token", "fingerprint"]


def fingerprint(*parts: Any) -> str:
    """A short digest of the query, so a token from one search cannot page another."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def encode_token(query: str, position: Any) -> str:
    blob = json.dumps({"q": query, "p": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(blob).decode().rstrip("=")


def decode_token(token: str | None, query: str) -> Any:
    """The position stored in ``token``, or None for the first page."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidPageToken("page_token is not a token this server issued") from exc
    if not isinstance(data, dict) or "p" not in data:
        raise InvalidPageToken("page_token is not a token this server issued")
    if data.get("q") != query:
        raise InvalidPageToken("page_token belongs to a different query; start again without it")
    return data["p"]
