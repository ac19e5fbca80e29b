"""Limits on names, keys and values, shared by every entry point."""

from __future__ import annotations

import re

from shipyard.errors import InvalidArgument

__all__ = [
    "MAX_DESCRIPTION_LENGTH",
    "MAX_KEY_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_PARAM_VALUE_LENGTH",
    "MAX_TAG_VALUE_LENGTH",
    "check_description",
    "check_key",
    "check_name",
    "check_value",
]

MAX_KEY_LENGTH = 250
MAX_NAME_LENGTH = 256
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_DESCRIPTION_LENGTH = 65_536

# Keys become column-like names in filters (metrics.<key>): keep them printable and
# path-safe, as MLflow does, so `metrics.loss/val` and friends still work.
_KEY = re.compile(r"^[\w\-./ :]+$")


def check_key(kind: str, key: object) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidArgument(f"{kind} key must be a non-empty string", key=str(key)[:64])
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidArgument(
            f"{kind} key is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}",
            key=key[:64],
        )
    if not _KEY.match(key) or ".." in key.split("/") or key.startswith("/"):
        raise InvalidArgument(
            f"{kind} key {key!r} may only contain letters, digits, '_', '-', '.', ' ', ':' and '/'",
            key=key[:64],
        )
    return key


def check_value(kind: str, key: str, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{kind} {key!r} value must be a string", key=key)
    if len(value) > limit:
        raise InvalidArgument(
            f"{kind} {key!r} value is {len(value)} characters long; the limit is {limit}",
            key=key,
        )
    return value


def check_name(kind: str, name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgument(f"{kind} name must be a non-empty string")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"{kind} name is longer than {MAX_NAME_LENGTH} characters")
    if any(ord(ch) < 32 for ch in name):
        raise InvalidArgument(f"{kind} name contains a control character")
    return name


def check_description(description: str | None) -> str | None:
    if description is not None and len(description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidArgument(
            f"description is {len(description)} characters long; the limit is {MAX_DESCRIPTION_LENGTH}"
        )
    return description
