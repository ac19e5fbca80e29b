"""The pydantic configuration every shared answer carries, as a plain dict (no pydantic import)."""

from __future__ import annotations

from typing import Any

__all__ = ["ANSWER_CONFIG"]

ANSWER_CONFIG: dict[str, Any] = {
    # Attribute docstrings are the field descriptions of the OpenAPI document.
    "use_attribute_docstrings": True,
    # NaN and ±inf as "NaN"/"Infinity"/"-Infinity", as every other answer of the API.
    "ser_json_inf_nan": "strings",
}
