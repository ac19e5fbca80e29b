"""/api/v1/audit: read the append-only log and verify its hash chain."""

from __future__ import annotations

from fastapi import APIRouter, Query

from shipyard.domain.identity import AuditEntry
from shipyard.server.access_schemas import AuditEntryOut, AuditPage, AuditVerifyOut
from shipyard.server.deps import Svc, json_response

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


def _out(e: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        seq=e.seq,
        ts=e.ts,
        actor=e.actor,
        action=e.action,
        target=e.target,
        workspace=e.workspace,
        status=e.status,
        outcome=e.outcome,
        detail=e.detail,
        prev_hash=e.prev_hash,
        hash=e.hash,
    )


@router.get("", response_model=AuditPage, summary="Audit entries, newest first")
def list_(
    svc: Svc,
    actor: str | None = Query(None),
    action: str | None = Query(None, description="One action (jobs:create) or a resource (jobs)."),
    since: int | None = Query(None, ge=0, le=2**63 - 1, description="Epoch ms."),
    before_seq: int | None = Query(None, ge=1, le=2**63 - 1),
    max_results: int = Query(100, ge=1, le=1000),
) -> object:
    found = svc.audit.search(
        actor=actor, action=action, since=since, before_seq=before_seq, limit=max_results
    )
    more = found[-1].seq if len(found) == max_results else None
    return json_response(AuditPage(entries=[_out(e) for e in found], next_before_seq=more))


@router.get("/verify", response_model=AuditVerifyOut, summary="Walk the hash chain")
def verify(svc: Svc) -> object:
    result = svc.audit.verify()
    return json_response(
        AuditVerifyOut(
            ok=result.ok,
            entries=result.entries,
            head_seq=result.head_seq,
            head_hash=result.head_hash,
            first_bad_seq=result.first_bad_seq,
            problem=result.problem,
        )
    )
