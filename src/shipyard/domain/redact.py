"""Secrets never shown back: passwords inside URLs (``postgresql://user:pw@host/db``)."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MASK", "hide_passwords", "mask_variables"]

MASK = "***"

_USERINFO = re.compile(r"(://[^:/@\s]+):[^@/\s]*@")


def hide_passwords(value: Any) -> Any:
    """``value`` with every ``scheme://user:password@`` written ``scheme://user:***@``;
    strings inside lists and mappings too (a job's spec, its command)."""
    if isinstance(value, str):
        return _USERINFO.sub(r"\1:***@", value)
    if isinstance(value, dict):
        return {k: hide_passwords(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [hide_passwords(v) for v in value]
    return value


def mask_variables(value: Any) -> Any:
    """``value`` with the values of every ``environment_variables`` mapping in it (at any
    depth: a job's spec and the file it came from) written ``***``: what a caller who may
    read a resource but not edit it sees."""
    if isinstance(value, dict):
        return {
            k: {name: MASK for name in v} if k == "environment_variables" and isinstance(v, dict)
            else mask_variables(v)
            for k, v in value.items()
        }  # fmt: skip
    if isinstance(value, list | tuple):
        return [mask_variables(v) for v in value]
    return value
