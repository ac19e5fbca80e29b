"""The repository of protections and promotions (``stores/sql/promotions.py``).

Reached as ``uow[PROMOTIONS]``: the registry asks it whether an alias is protected in the
transaction that would move the alias, and an approval that completes a promotion moves the
alias in the transaction that records the approval.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod

from shipyard.domain.promotions import Approval, Promotion, PromotionState, Protection
from shipyard.services.ports import RepositoryKey

__all__ = ["PROMOTIONS", "PromotionRepository"]


class PromotionRepository(ABC):
    # -- protections ---------------------------------------------------------------

    @abstractmethod
    def protections(self, workspace: str) -> builtins.list[Protection]:
        """By model, then alias."""

    @abstractmethod
    def protect(self, workspace_id: int, protection: Protection) -> None:
        """Add the protection, or change the approvals of the same (model, alias)."""

    @abstractmethod
    def unprotect(self, workspace: str, model: str, alias: str) -> bool:
        """False when there was no such protection."""

    # -- promotions ----------------------------------------------------------------

    @abstractmethod
    def create(self, workspace_id: int, promotion: Promotion) -> int:
        """Insert the promotion (its ``id`` is ignored) and return its id."""

    @abstractmethod
    def get(self, workspace: str, promotion_id: int) -> Promotion | None:
        """With its decisions, oldest first."""

    @abstractmethod
    def list(
        self, workspace: str, name: str | None, state: str | None, limit: int
    ) -> builtins.list[Promotion]:
        """Newest first."""

    @abstractmethod
    def decide(self, promotion_id: int, approval: Approval) -> None:
        """Record one principal's decision (the caller checked it is their first)."""

    @abstractmethod
    def finish(
        self, promotion_id: int, state: PromotionState, now: int, previous_version: int | None
    ) -> bool:
        """Move a ``pending`` promotion to ``state``; False (nothing written) when it was no
        longer pending — another server decided it first."""


PROMOTIONS: RepositoryKey[PromotionRepository] = RepositoryKey("promotions")
