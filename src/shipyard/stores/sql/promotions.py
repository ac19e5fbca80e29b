"""Alias protections, promotions and the decisions on them.

A promotion leaves ``pending`` by a compare-and-set (``UPDATE … WHERE state = 'pending'``):
of two servers deciding the same promotion at once, one wins and the other writes nothing.
"""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from shipyard.domain.promotions import Approval, Promotion, PromotionState, Protection
from shipyard.services.promotion_ports import PromotionRepository
from shipyard.stores.sql import schema_promotions as t
from shipyard.stores.sql._workspace import in_workspace, workspace_id

__all__ = ["SqlPromotionRepository"]

_g = t.model_protections.c
_p = t.model_promotions.c
_d = t.model_promotion_decisions.c


def _protection(r: Row[Any]) -> Protection:
    return Protection(
        workspace=r.workspace,
        model=r.model,
        alias=r.alias,
        approvals=r.approvals,
        created_at=r.created_at,
        created_by=r.created_by,
    )


def _promotion(r: Row[Any], decisions: tuple[Approval, ...]) -> Promotion:
    return Promotion(
        id=r.id,
        workspace=r.workspace,
        name=r.name,
        version=r.version,
        alias=r.alias,
        state=r.state,
        required_approvals=r.required_approvals,
        requested_by=r.requested_by,
        requested_at=r.requested_at,
        decided_at=r.decided_at,
        source=r.source,
        previous_version=r.previous_version,
        decisions=decisions,
    )


class SqlPromotionRepository(PromotionRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- protections ---------------------------------------------------------------

    def protections(self, workspace: str) -> builtins.list[Protection]:
        rows = self.conn.execute(
            in_workspace(t.model_protections, workspace, named=True).order_by(_g.model, _g.alias)
        )
        return [_protection(r) for r in rows]

    def protect(self, workspace_id: int, protection: Protection) -> None:
        changed = self.conn.execute(
            update(t.model_protections)
            .where(
                _g.workspace_id == workspace_id,
                _g.model == protection.model,
                _g.alias == protection.alias,
            )
            .values(approvals=protection.approvals)
        )
        if changed.rowcount == 0:
            self.conn.execute(
                insert(t.model_protections).values(
                    workspace_id=workspace_id,
                    model=protection.model,
                    alias=protection.alias,
                    approvals=protection.approvals,
                    created_at=protection.created_at,
                    created_by=protection.created_by,
                )
            )

    def unprotect(self, workspace: str, model: str, alias: str) -> bool:
        gone = self.conn.execute(
            delete(t.model_protections).where(
                _g.workspace_id == workspace_id(workspace), _g.model == model, _g.alias == alias
            )
        )
        return bool(gone.rowcount)

    # -- promotions ----------------------------------------------------------------

    def create(self, workspace_id: int, promotion: Promotion) -> int:
        made = self.conn.execute(
            insert(t.model_promotions)
            .values(
                workspace_id=workspace_id,
                name=promotion.name,
                version=promotion.version,
                alias=promotion.alias,
                state=promotion.state,
                required_approvals=promotion.required_approvals,
                requested_by=promotion.requested_by,
                requested_at=promotion.requested_at,
                decided_at=promotion.decided_at,
                source=promotion.source,
                previous_version=promotion.previous_version,
            )
            .returning(_p.id)
        )
        return int(made.scalar_one())

    def _decisions(self, ids: builtins.list[int]) -> dict[int, tuple[Approval, ...]]:
        found: dict[int, list[Approval]] = {i: [] for i in ids}
        if ids:
            rows = self.conn.execute(
                select(t.model_promotion_decisions).where(_d.promotion_id.in_(ids)).order_by(_d.id)
            )
            for r in rows:
                found[r.promotion_id].append(Approval(r.principal, r.decision, r.comment, r.at))
        return {i: tuple(d) for i, d in found.items()}

    def get(self, workspace: str, promotion_id: int) -> Promotion | None:
        row = self.conn.execute(
            in_workspace(t.model_promotions, workspace, named=True).where(_p.id == promotion_id)
        ).first()
        if row is None:
            return None
        return _promotion(row, self._decisions([row.id])[row.id])

    def list(
        self, workspace: str, name: str | None, state: str | None, limit: int
    ) -> builtins.list[Promotion]:
        query = in_workspace(t.model_promotions, workspace, named=True)
        if name is not None:
            query = query.where(_p.name == name)
        if state is not None:
            query = query.where(_p.state == state)
        rows = self.conn.execute(query.order_by(_p.id.desc()).limit(limit)).all()
        decisions = self._decisions([r.id for r in rows])
        return [_promotion(r, decisions[r.id]) for r in rows]

    def decide(self, promotion_id: int, approval: Approval) -> None:
        self.conn.execute(
            insert(t.model_promotion_decisions).values(
                promotion_id=promotion_id,
                principal=approval.principal,
                decision=approval.decision,
                comment=approval.comment,
                at=approval.at,
            )
        )

    def finish(
        self, promotion_id: int, state: PromotionState, now: int, previous_version: int | None
    ) -> bool:
        done = self.conn.execute(
            update(t.model_promotions)
            .where(_p.id == promotion_id, _p.state == "pending")
            .values(state=state, decided_at=now, previous_version=previous_version)
        )
        return bool(done.rowcount)
