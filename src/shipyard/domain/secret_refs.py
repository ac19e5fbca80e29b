"""``${{secrets.NAME}}`` in job, deployment and batch-deployment files.

A reference stays a reference everywhere it is stored (the database, job folders, plan
files); the value replaces it only in the environment of the process that needs it, or in
memory for the server's own use (a batch deployment's ``sql_url``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = ["has_secret_refs", "secret_names", "substitute_secrets"]

_REF = re.compile(r"\$\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_-]{0,127})\s*\}\}")


def secret_names(values: Iterable[str]) -> set[str]:
    """Every secret the strings refer to."""
    return {m.group(1) for value in values for m in _REF.finditer(value)}


def has_secret_refs(value: str) -> bool:
    return _REF.search(value) is not None


def substitute_secrets(value: str, secrets: Mapping[str, str]) -> str:
    """``value`` with each reference replaced by its secret (all must be in ``secrets``)."""
    return _REF.sub(lambda m: secrets[m.group(1)], value)
