"""Promotions: moving a model's alias, behind approvals where the target is protected.

A *protection* says that in one workspace an alias of a model (or of every model, ``*``), or
every alias (``*``), moves only after ``approvals`` principals other than the requester
approved. A whole workspace is protected by ``model="*", alias="*"``.

A *promotion* asks to point ``alias`` of model ``name`` at ``version`` in ``workspace``. It is
``applied`` at once when nothing protects the alias, else ``pending`` until enough approvals
arrive (then ``applied``, in the same transaction as the last approval) or one rejection
(``rejected``). A promotion to another workspace first copies the version there; ``source``
says where it came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from shipyard.errors import InvalidArgument

__all__ = [
    "ANY",
    "MAX_APPROVALS",
    "PROMOTION_STATES",
    "Approval",
    "Promotion",
    "PromotionState",
    "Protection",
    "check_state",
    "required_approvals",
]

ANY = "*"
"""A protection's model or alias that matches every one."""

MAX_APPROVALS = 10

PromotionState = Literal["pending", "applied", "rejected"]
PROMOTION_STATES: tuple[str, ...] = ("pending", "applied", "rejected")


def check_state(state: str) -> str:
    if state not in PROMOTION_STATES:
        raise InvalidArgument(f"state must be one of {', '.join(PROMOTION_STATES)}; got {state[:40]!r}")
    return state


@dataclass(frozen=True, slots=True)
class Protection:
    workspace: str
    model: str
    """A model name, or ``*`` for every model of the workspace."""
    alias: str
    """An alias, or ``*`` for every alias."""
    approvals: int
    """How many principals other than the requester must approve."""
    created_at: int
    created_by: str

    def covers(self, model: str, alias: str) -> bool:
        return self.model in (ANY, model) and self.alias in (ANY, alias)


def required_approvals(protections: Iterable[Protection], model: str, alias: str) -> int:
    """The approvals a promotion of ``model``'s ``alias`` needs: the most any covering
    protection asks for, 0 when none covers it."""
    return max((p.approvals for p in protections if p.covers(model, alias)), default=0)


@dataclass(frozen=True, slots=True)
class Approval:
    """One principal's decision on a promotion."""

    principal: str
    decision: Literal["approved", "rejected"]
    comment: str
    at: int


@dataclass(frozen=True, slots=True)
class Promotion:
    id: int
    workspace: str
    """Where the alias moves (for a copy: the target workspace)."""
    name: str
    version: int
    alias: str
    state: PromotionState
    required_approvals: int
    requested_by: str
    requested_at: int
    decided_at: int | None = None
    source: str | None = None
    """``WORKSPACE/NAME:VERSION`` of the version this one was copied from, if it was."""
    previous_version: int | None = None
    """What the alias pointed at when the promotion was applied."""
    decisions: tuple[Approval, ...] = field(default_factory=tuple)

    @property
    def approvers(self) -> list[str]:
        return [d.principal for d in self.decisions if d.decision == "approved"]
