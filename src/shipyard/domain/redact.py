"""Secrets never shown back: passwords inside URLs (``postgresql://user:pw@host/db``)."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["hide_passwords"]

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
