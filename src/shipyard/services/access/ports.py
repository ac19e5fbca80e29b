"""Repositories of users, tokens, custom roles, secrets and the audit log, and the cipher
that keeps secrets encrypted at rest.

Implemented by ``stores/sql/access.py`` and ``stores/secret_cipher.py``; repositories are
reached through a unit of work (``uow.users``, ``uow.tokens``, ``uow.roles``,
``uow.secrets``, ``uow.audit``).
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Sequence

from shipyard.domain.access import Role
from shipyard.domain.identity import AuditEntry, RoleAssignment, SecretInfo, Token, User

__all__ = [
    "AuditRepository",
    "RoleRepository",
    "SecretCipher",
    "SecretRepository",
    "TokenRepository",
    "UserRepository",
]


class UserRepository(ABC):
    @abstractmethod
    def create(self, user: User) -> None:
        """Raise AlreadyExists when the name is taken."""

    @abstractmethod
    def get(self, name: str) -> User | None: ...

    @abstractmethod
    def list(self) -> builtins.list[User]:
        """By name."""

    @abstractmethod
    def set_disabled(self, name: str, disabled: bool) -> bool:
        """False when there is no such user."""

    @abstractmethod
    def count(self) -> int: ...


class TokenRepository(ABC):
    @abstractmethod
    def create(self, token: Token, token_hash: str) -> None:
        """Raise AlreadyExists when the user has a token of that name."""

    @abstractmethod
    def by_hash(self, token_hash: str) -> Token | None: ...

    @abstractmethod
    def list(self, user: str | None) -> builtins.list[Token]:
        """A user's tokens (every user's for None), by user and name."""

    @abstractmethod
    def delete(self, user: str, name: str) -> bool: ...

    @abstractmethod
    def delete_for_job(self, workspace: str, job: str) -> int:
        """Revoke a job's tokens when it ends; how many there were."""

    @abstractmethod
    def delete_expired(self, now: int) -> int: ...


class RoleRepository(ABC):
    """Custom roles and every assignment (built-in roles live in ``domain.access``)."""

    @abstractmethod
    def create(self, role: Role, actor: str, now: int) -> None:
        """Raise AlreadyExists when the name is taken."""

    @abstractmethod
    def replace(self, role: Role, actor: str, now: int) -> bool:
        """Change a custom role's description and permissions; False when there is none."""

    @abstractmethod
    def get(self, name: str) -> Role | None: ...

    @abstractmethod
    def list(self) -> builtins.list[Role]: ...

    @abstractmethod
    def assign(self, assignment: RoleAssignment) -> bool:
        """False when the user already has that role there."""

    @abstractmethod
    def unassign(self, user: str, role: str, workspace: str) -> bool: ...

    @abstractmethod
    def assignments(self, user: str | None = None) -> builtins.list[RoleAssignment]:
        """A user's assignments (everyone's for None)."""


class SecretRepository(ABC):
    @abstractmethod
    def put(
        self, workspace_id: int, workspace: str, name: str, ciphertext: str, actor: str, now: int
    ) -> bool:
        """Insert or replace; True when it was new."""

    @abstractmethod
    def get(self, workspace: str, name: str) -> str | None:
        """The ciphertext."""

    @abstractmethod
    def list(self, workspace: str) -> builtins.list[SecretInfo]: ...

    @abstractmethod
    def delete(self, workspace: str, name: str) -> bool: ...


class AuditRepository(ABC):
    @abstractmethod
    def head(self) -> tuple[int, str]:
        """The last entry's sequence number and hash, locking the chain's head until the
        transaction ends (appenders on several servers take turns)."""

    @abstractmethod
    def append(self, entries: Sequence[AuditEntry]) -> None:
        """Insert entries (numbered and hashed by the caller) and move the head to the last."""

    @abstractmethod
    def search(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: int | None = None,
        before_seq: int | None = None,
        limit: int = 100,
    ) -> builtins.list[AuditEntry]:
        """Newest first. ``action`` is one action (``jobs:create``) or a resource (``jobs``)."""

    @abstractmethod
    def scan(self, after_seq: int, limit: int) -> builtins.list[AuditEntry]:
        """Oldest first, from ``after_seq`` (exclusive): what ``verify`` walks."""

    @abstractmethod
    def stored_head(self) -> tuple[int, str]:
        """The head row as stored, without locking."""


class SecretCipher(ABC):
    """Encrypts secret values at rest (authenticated encryption; a key the server holds)."""

    @abstractmethod
    def encrypt(self, plaintext: str) -> str: ...

    @abstractmethod
    def decrypt(self, ciphertext: str) -> str:
        """Raise Unavailable when the key cannot open it (the key changed)."""
