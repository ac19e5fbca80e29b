"""Small helpers shared by the SQL repositories."""

from __future__ import annotations

from typing import Any


def new_id(result: Any) -> int:
    """The primary key an INSERT just generated."""
    key = result.inserted_primary_key
    assert key is not None, "INSERT did not return a primary key"
    return int(key[0])
