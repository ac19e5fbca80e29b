"""Limits on names, keys and values, shared by every entry point.

Names and keys must be visible text: a bidi override (U+202E) or a zero-width space (U+200B)
would let one model pose as another in a listing. Every request body must also be
storable as is: no lone surrogate (not encodable as UTF-8) and no integer beyond 64 bits
(not storable in an INTEGER column, nor in a JSON column through orjson).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

from shipyard.errors import InvalidArgument

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_DESCRIPTION_LENGTH",
    "MAX_KEY_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_PARAM_VALUE_LENGTH",
    "MAX_TAG_VALUE_LENGTH",
    "check_description",
    "check_key",
    "check_name",
    "check_storable",
    "check_value",
    "describe_char",
    "find_invisible",
    "find_surrogate",
]

MAX_KEY_LENGTH = 250
MAX_NAME_LENGTH = 256
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_DESCRIPTION_LENGTH = 65_536

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# Format (Cf: bidi embeddings, overrides and isolates, zero-width space and joiners, word
# joiner, BOM…), controls, surrogates and line/paragraph separators, plus the letters and
# marks that render as nothing.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_INVISIBLE_CHARS = frozenset("\u034f\u115f\u1160\u2800\u3164\uffa0")

# Keys become column-like names in filters (metrics.<key>): keep them printable and
# path-safe, as MLflow does, so `metrics.loss/val` and friends still work.
_KEY = re.compile(r"^[\w\-./ :]+$")
_KEY_RULE = "may only contain letters, digits, '_', '-', '.', ' ', ':' and '/'"


def describe_char(ch: str) -> str:
    """``U+202E (RIGHT-TO-LEFT OVERRIDE)``; controls and surrogates have no name, just the code point."""
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X} ({name})" if name else f"U+{ord(ch):04X}"


def find_invisible(text: str) -> str | None:
    """The first invisible or control character of ``text`` (see the module docstring), or None."""
    if text.isascii() and text.isprintable():
        return None
    for ch in text:
        if ch in _INVISIBLE_CHARS or unicodedata.category(ch) in _INVISIBLE_CATEGORIES:
            return ch
    return None


def find_surrogate(text: str) -> str | None:
    """The first lone surrogate of ``text`` (JSON ``"\\ud800"`` decodes to one), or None."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return text[exc.start]
    return None


def _refuse_invisible(what: str, text: str, rule: str, **details: object) -> None:
    ch = find_invisible(text)
    if ch is not None:
        raise InvalidArgument(
            f"{what} contains {describe_char(ch)}, an invisible or control character; {rule}",
            character=f"U+{ord(ch):04X}",
            **details,
        )


def check_key(kind: str, key: object) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidArgument(f"{kind} key must be a non-empty string", key=str(key)[:64])
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidArgument(
            f"{kind} key is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}",
            key=key[:64],
        )
    # A lone surrogate could not be encoded in the error body: show it escaped.
    shown = key[:64].encode("utf-8", "backslashreplace").decode("utf-8")
    _refuse_invisible(f"{kind} key {key!r}", key, f"keys {_KEY_RULE}", key=shown)
    if not _KEY.match(key) or ".." in key.split("/") or key.startswith("/"):
        raise InvalidArgument(f"{kind} key {key!r} {_KEY_RULE}", key=key[:64])
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
    _refuse_invisible(f"{kind} name {name!r}", name, "names must be visible text")
    return name


def check_description(description: str | None) -> str | None:
    if description is not None and len(description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidArgument(
            f"description is {len(description)} characters long; the limit is {MAX_DESCRIPTION_LENGTH}"
        )
    return description


def check_storable(data: object) -> None:
    """Refuse a lone surrogate or an integer beyond 64 bits anywhere in a decoded JSON value.

    The message names where, e.g. ``spec.limits.timeout: integer … does not fit in 64 bits``.
    Iterative, with each path kept as a link to its parent's, so neither depth nor width costs
    more than one step per key and value.
    """
    for path, value in _leaves(data):
        if isinstance(value, str):
            ch = find_surrogate(value)
            if ch is not None:
                raise InvalidArgument(
                    f"{_where(path)}text contains {describe_char(ch)}, a lone surrogate: not valid Unicode",
                    field=_dotted(path) or None,
                )
        elif isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
            digits = str(value)
            shown = digits if len(digits) <= 40 else f"{digits[:20]}… ({len(digits)} digits)"
            raise InvalidArgument(
                f"{_where(path)}integer {shown} does not fit in 64 bits ({INT64_MIN}..{INT64_MAX})",
                field=_dotted(path) or None,
            )


# A path is () for the root or (parent path, key): a linked list, built in O(1) per step.
_Path = tuple[Any, ...]


def _leaves(data: object) -> Iterator[tuple[_Path, object]]:
    """Every key and scalar of ``data`` with its path; a key's path ends with the key itself."""
    stack: list[tuple[_Path, object]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                yield (path, key), key
                stack.append(((path, key), item))
        elif isinstance(value, list | tuple):
            stack.extend(((path, i), item) for i, item in enumerate(value))
        else:
            yield path, value


def _dotted(path: _Path) -> str:
    parts: list[str] = []
    while path:
        path, key = path
        text = str(key)
        parts.append(repr(text) if find_surrogate(text) is not None else text)
    return ".".join(reversed(parts))


def _where(path: _Path) -> str:
    return f"{_dotted(path)}: " if path else ""
