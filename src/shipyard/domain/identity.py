"""Users, their tokens, role assignments, secrets and audit entries, as records."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from shipyard.errors import InvalidArgument

__all__ = [
    "ADMIN_USER",
    "AuditEntry",
    "RoleAssignment",
    "SecretInfo",
    "Token",
    "User",
    "audit_hash",
    "check_secret_name",
    "check_token_name",
    "check_user_name",
    "hash_token",
]

ADMIN_USER = "admin"
"""The owner a fresh home's first start creates."""

_USER = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_SECRET = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")


def check_user_name(name: object) -> str:
    if not isinstance(name, str) or not _USER.match(name):
        raise InvalidArgument(
            f"a user name is 1-63 lowercase letters, digits, '.', '_' or '-'; got {str(name)[:80]!r}"
        )
    return name


def check_token_name(name: object) -> str:
    if not isinstance(name, str) or not _TOKEN_NAME.match(name):
        raise InvalidArgument(
            f"a token name is 1-63 letters, digits, '.', '_' or '-'; got {str(name)[:80]!r}"
        )
    return name


def check_secret_name(name: object) -> str:
    if not isinstance(name, str) or not _SECRET.match(name):
        raise InvalidArgument(
            "a secret name is 1-128 letters, digits, '_' or '-', starting with a letter or '_'"
            f" (it is written ${{{{secrets.NAME}}}} in files); got {str(name)[:80]!r}"
        )
    return name


def hash_token(token: str) -> str:
    """What the store keeps of a token. Tokens carry 256 random bits, so a fast hash is the
    right one (as for GitHub's and PyPI's): a slow password hash would only add latency."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class User:
    name: str
    email: str | None
    disabled: bool
    created_at: int
    created_by: str


@dataclass(frozen=True, slots=True)
class Token:
    """A credential of a user; the secret itself is never stored, only its hash.

    ``kind`` is ``user`` (made by ``shipyard token create`` or the first start) or ``job``
    (a running job's, revoked when it ends; ``workspace`` and ``job`` say which).
    """

    name: str
    user: str
    kind: str
    created_at: int
    created_by: str
    expires_at: int | None = None
    workspace: str | None = None
    job: str | None = None


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    user: str
    role: str
    workspace: str  # "*" for every workspace
    created_at: int
    created_by: str


@dataclass(frozen=True, slots=True)
class SecretInfo:
    """A secret's name and history; its value never leaves the secret service."""

    name: str
    workspace: str
    created_at: int
    created_by: str
    updated_at: int
    updated_by: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the append-only log. ``hash`` covers every other field and the
    previous entry's hash, so changing or removing an entry breaks the chain after it."""

    seq: int
    ts: int
    actor: str
    action: str
    target: str
    workspace: str
    status: int
    outcome: str  # ok | denied | failed | error
    detail: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = ""
    hash: str = ""


def audit_hash(entry: AuditEntry, prev_hash: str) -> str:
    """The chain link: sha256 over the previous hash and the entry's canonical fields."""
    canonical = json.dumps(
        [
            prev_hash,
            entry.seq,
            entry.ts,
            entry.actor,
            entry.action,
            entry.target,
            entry.workspace,
            entry.status,
            entry.outcome,
            entry.detail,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()
