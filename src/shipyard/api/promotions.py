"""Promotions and protections, as ``/api/v1/models/{name}/promotions`` and
``/api/v1/model-protections`` answer them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from shipyard.api._config import ANSWER_CONFIG

__all__ = ["Decision", "Promotion", "PromotionPage", "Protection", "ProtectionPage"]


@dataclass(frozen=True, slots=True)
class Protection:
    """In ``workspace``, ``alias`` of ``model`` moves only after ``approvals`` others approved."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    workspace: str
    model: str
    """A model name, or * for every model of the workspace."""
    alias: str
    """An alias, or * for every alias."""
    approvals: int
    created_at: int
    created_by: str


@dataclass(frozen=True, slots=True)
class ProtectionPage:
    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    protections: list[Protection] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Decision:
    """One principal's approval or rejection."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    principal: str
    decision: str
    """approved or rejected."""
    comment: str
    at: int


@dataclass(frozen=True, slots=True)
class Promotion:
    """A request to point ``alias`` of model ``name`` at ``version`` in ``workspace``."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    id: int
    workspace: str
    """Where the alias moves: for a copy to another workspace, that workspace."""
    name: str
    version: int
    alias: str
    state: str
    """pending, applied or rejected."""
    required_approvals: int
    """Approvals by principals other than the requester it needs (0: unprotected)."""
    requested_by: str
    requested_at: int
    decided_at: int | None = None
    source: str | None = None
    """WORKSPACE/NAME:VERSION of the version this one was copied from, if it was."""
    previous_version: int | None = None
    """What the alias pointed at before the promotion applied."""
    decisions: list[Decision] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PromotionPage:
    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    promotions: list[Promotion] = field(default_factory=list)
