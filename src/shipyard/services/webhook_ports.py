"""The repository of registry webhooks (``stores/sql/webhooks.py``), reached as ``uow[WEBHOOKS]``.

The secret is handed in and out as stored, encrypted by the service's cipher: the repository
never sees a secret's value.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Sequence

from shipyard.domain.webhooks import Webhook
from shipyard.services.ports import RepositoryKey

__all__ = ["WEBHOOKS", "WebhookRepository"]


class WebhookRepository(ABC):
    @abstractmethod
    def create(self, workspace_id: int, webhook: Webhook, secret: str | None) -> None:
        """Insert ``webhook`` with its encrypted ``secret`` (None: deliveries go unsigned)."""

    @abstractmethod
    def get(self, workspace: str, webhook_id: str) -> Webhook | None: ...

    @abstractmethod
    def secret(self, webhook_id: str) -> str | None:
        """The stored (encrypted) secret."""

    @abstractmethod
    def list(self, workspace: str, offset: int, limit: int) -> builtins.list[Webhook]:
        """Newest first, then by id."""

    @abstractmethod
    def subscribed(self, workspace: str, events: Sequence[tuple[str, str]]) -> builtins.list[Webhook]:
        """The workspace's ACTIVE webhooks that follow any of ``events``."""

    @abstractmethod
    def update(self, webhook: Webhook, secret: str | None, *, change_secret: bool) -> None:
        """Store every field of ``webhook``; the secret too when ``change_secret``."""

    @abstractmethod
    def delete(self, workspace: str, webhook_id: str) -> bool:
        """False when there was no such webhook."""


WEBHOOKS: RepositoryKey[WebhookRepository] = RepositoryKey("webhooks")
