"""What every spec model shares: unknown fields are errors, ``$schema`` is accepted and ignored."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from shipyard.domain.validation import check_name
from shipyard.errors import InvalidArgument

__all__ = ["SpecModel", "StrictModel", "scalar_map", "visible"]


class StrictModel(BaseModel):
    """A nested mapping of a spec: unknown fields are errors."""

    # ``version: 1`` is how YAML files write versions; names and versions are text here.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, coerce_numbers_to_str=True)


class SpecModel(StrictModel):
    """A whole file: ``spec_kind`` is its noun in error messages."""

    spec_kind: ClassVar[str] = "spec"

    schema_: str | None = Field(default=None, alias="$schema", exclude=True)


def scalar_map(value: Any) -> Any:
    """Tags and environment variables: YAML numbers and booleans become their text."""
    if not isinstance(value, dict):
        return value
    out: dict[Any, Any] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            out[key] = "true" if item else "false"
        elif isinstance(item, (int, float)):
            out[key] = str(item)
        elif item is None:
            out[key] = ""
        else:
            out[key] = item
    return out


def visible(kind: str) -> BeforeValidator:
    """``name: Annotated[str, visible("endpoint")]``: :func:`check_name` before the field's pattern.

    So an invisible character is named by its code point (``U+202E``) rather than reported as a
    pattern mismatch; raised as a ValueError, the error keeps its field and line.
    """

    def check(value: Any) -> Any:
        if isinstance(value, str):
            try:
                check_name(kind, value)
            except InvalidArgument as exc:
                raise ValueError(exc.message) from None
        return value

    return BeforeValidator(check)
