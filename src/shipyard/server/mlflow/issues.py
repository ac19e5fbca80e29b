"""MLflow 3.17 issues: ``/api/3.0/mlflow/issues`` (create), ``/issues/<id>`` (get, update),
``/issues/search``. Issue *detection* (``/ajax-api/3.0/mlflow/issues/invoke``) runs an LLM
judge, which this server does not call: it answers NOT_IMPLEMENTED at once (``gateway.py``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import Field

from shipyard.domain.issues import Issue
from shipyard.server.deps import Ctx, Svc
from shipyard.server.mlflow._route import MlflowIn, MlflowRoute, ok, payload
from shipyard.server.mlflow.experiments import resolve_experiment_id
from shipyard.services.issues import IssueService

__all__ = ["router"]

router = APIRouter(route_class=MlflowRoute)


def _service(svc: Svc) -> IssueService:
    return svc.get("genai_issues", IssueService)


def issue_json(issue: Issue) -> dict[str, Any]:
    out: dict[str, Any] = {
        "issue_id": issue.id,
        "experiment_id": issue.experiment_id,
        "name": issue.name,
        "description": issue.description,
        "status": issue.status,
        "root_causes": list(issue.root_causes),
        "categories": list(issue.categories),
        "created_timestamp": issue.created_time,
        "last_updated_timestamp": issue.last_updated_time,
    }
    for key, value in (
        ("severity", issue.severity),
        ("source_run_id", issue.source_run_id),
        ("created_by", issue.created_by),
    ):
        if value is not None:
            out[key] = value
    return out


class CreateIn(MlflowIn):
    experiment_id: str
    name: str
    description: str = ""
    status: str | None = None
    severity: str | None = None
    root_causes: list[str] = Field(default_factory=list)
    source_run_id: str | None = None
    categories: list[str] = Field(default_factory=list)
    created_by: str | None = None


class UpdateIn(MlflowIn):
    name: str | None = None
    description: str | None = None
    status: str | None = None
    severity: str | None = None


class SearchIn(MlflowIn):
    experiment_id: str | None = None
    filter_string: str | None = None
    max_results: int | None = None
    page_token: str | None = None


@router.post("/issues")
def create(ctx: Ctx, svc: Svc, body: Annotated[CreateIn, payload(CreateIn)]) -> Response:
    made = _service(svc).create(
        ctx,
        resolve_experiment_id(ctx, svc.tracking, body.experiment_id),
        body.name,
        body.description,
        status=body.status,
        severity=body.severity,
        root_causes=body.root_causes,
        categories=body.categories,
        source_run_id=body.source_run_id,
        created_by=body.created_by,
    )
    return ok({"issue": issue_json(made)})


@router.post("/issues/search")
def search(ctx: Ctx, svc: Svc, body: Annotated[SearchIn, payload(SearchIn)]) -> Response:
    experiment_id = (
        resolve_experiment_id(ctx, svc.tracking, body.experiment_id) if body.experiment_id else None
    )
    found, token = _service(svc).search(
        ctx, experiment_id, body.filter_string, body.max_results, body.page_token
    )
    out: dict[str, Any] = {"issues": [issue_json(i) for i in found]}
    if token:
        out["next_page_token"] = token
    return ok(out)


@router.get("/issues/{issue_id}")
def get(ctx: Ctx, svc: Svc, issue_id: str) -> Response:
    return ok({"issue": issue_json(_service(svc).get(ctx, issue_id))})


@router.patch("/issues/{issue_id}")
def update(ctx: Ctx, svc: Svc, issue_id: str, body: Annotated[UpdateIn, payload(UpdateIn)]) -> Response:
    changed = _service(svc).update(
        ctx,
        issue_id,
        name=body.name,
        description=body.description,
        status=body.status,
        severity=body.severity,
    )
    return ok({"issue": issue_json(changed)})
