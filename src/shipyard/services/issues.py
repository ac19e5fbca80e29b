"""Issues (MLflow 3.17's ``create_issue``, ``get_issue``, ``update_issue``, ``search_issues``):
problems found in an experiment's traces, each with a status and a severity.

Stored and searched by experiment, newest first. ``filter_string`` is not supported yet (a
clear 400 says so); ``include_trace_count`` answers no count, since this server does not link
issues to traces.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace

from shipyard.domain.context import RequestContext
from shipyard.domain.issues import Issue, check_severity, check_status
from shipyard.domain.pagination import decode_token, encode_token, fingerprint
from shipyard.domain.validation import check_description, check_name
from shipyard.errors import InvalidArgument, InvalidPageToken, NotFound
from shipyard.services._clock import now_ms
from shipyard.services.genai_ports import ISSUES
from shipyard.services.ports import Database, UnitOfWork

__all__ = ["IssueService"]

_MAX_PAGE = 1000


def _experiment(uow: UnitOfWork, ctx: RequestContext, experiment_id: str) -> str:
    found = uow.experiments.get(ctx.workspace, str(experiment_id))
    if found is None:
        raise NotFound(
            f"no experiment with id {experiment_id!r} in workspace {ctx.workspace!r}",
            experiment_id=str(experiment_id),
        )
    return found.id


def _strings(field: str, values: Sequence[str]) -> tuple[str, ...]:
    if len(values) > 100:
        raise InvalidArgument(f"{field} holds at most 100 entries")
    return tuple(str(v) for v in values)


class IssueService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        ctx: RequestContext,
        experiment_id: str,
        name: str,
        description: str,
        *,
        status: str | None = None,
        severity: str | None = None,
        root_causes: Sequence[str] = (),
        categories: Sequence[str] = (),
        source_run_id: str | None = None,
        created_by: str | None = None,
    ) -> Issue:
        check_name("issue", name)
        check_description(description)
        now = now_ms()
        with self.db.write() as uow:
            issue = Issue(
                id=f"iss-{uuid.uuid4().hex}",
                experiment_id=_experiment(uow, ctx, experiment_id),
                name=name,
                description=description,
                status=check_status(status or "pending"),
                severity=check_severity(severity) if severity else None,
                root_causes=_strings("root_causes", root_causes),
                categories=_strings("categories", categories),
                source_run_id=source_run_id or None,
                created_by=created_by or ctx.principal.name,
                created_time=now,
                last_updated_time=now,
            )
            uow[ISSUES].create(issue)
        return issue

    def get(self, ctx: RequestContext, issue_id: str) -> Issue:
        with self.db.read() as uow:
            found = uow[ISSUES].get(ctx.workspace, issue_id)
        if found is None:
            raise NotFound(f"Issue with ID '{issue_id}' not found")
        return found

    def update(
        self,
        ctx: RequestContext,
        issue_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        status: str | None = None,
        severity: str | None = None,
    ) -> Issue:
        with self.db.write() as uow:
            found = uow[ISSUES].get(ctx.workspace, issue_id)
            if found is None:
                raise NotFound(f"Issue with ID '{issue_id}' not found")
            changed = replace(
                found,
                name=check_name("issue", name) if name else found.name,
                description=description if description is not None else found.description,
                status=check_status(status) if status else found.status,
                severity=check_severity(severity) if severity else found.severity,
                last_updated_time=now_ms(),
            )
            check_description(changed.description)
            uow[ISSUES].update(changed)
        return changed

    def search(
        self,
        ctx: RequestContext,
        experiment_id: str | None,
        filter_string: str | None = None,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> tuple[list[Issue], str | None]:
        if filter_string and filter_string.strip():
            raise InvalidArgument(
                "search_issues: filter_string is not supported by this server; filter by experiment_id"
            )
        size = max_results or 100
        if not 1 <= size <= _MAX_PAGE:
            raise InvalidArgument(f"max_results must be between 1 and {_MAX_PAGE}; got {size}")
        query = fingerprint("issues", ctx.workspace, experiment_id)
        offset = decode_token(page_token, query) or 0
        if not isinstance(offset, int) or offset < 0:
            raise InvalidPageToken("page_token is not a token this server issued")
        with self.db.read() as uow:
            key = _experiment(uow, ctx, experiment_id) if experiment_id else None
            found = uow[ISSUES].search(ctx.workspace, key, offset, size + 1)
        token = encode_token(query, offset + size) if len(found) > size else None
        return found[:size], token
