"""URL paths the SDK builds: names the user typed become one path segment each."""

from __future__ import annotations

from urllib.parse import quote

__all__ = ["q"]


def q(segment: str) -> str:
    """``segment`` quoted whole: a ``/``, ``?`` or ``#`` in a name cannot reach another route."""
    return quote(segment, safe="")
