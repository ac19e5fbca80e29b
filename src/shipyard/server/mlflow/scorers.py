"""MLflow 3 scorers: ``/api/3.0/mlflow/scorers/*`` (``scorer.register()``, ``list_scorers``,
``get_scorer``, ``delete_scorer``, and the online configuration ``scorer.start()``/``update()``
write). Stored, listed, returned; never run on the server."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import Field

from shipyard.domain.scorers import OnlineScoringConfig, ScorerVersion
from shipyard.errors import InvalidArgument
from shipyard.server.deps import Ctx, Svc
from shipyard.server.mlflow._route import MlflowIn, MlflowRoute, missing_value, ok, payload
from shipyard.server.mlflow.experiments import resolve_experiment_id
from shipyard.services.scorers import ScorerService

__all__ = ["router"]

router = APIRouter(route_class=MlflowRoute)


def _service(svc: Svc) -> ScorerService:
    return svc.get("scorers", ScorerService)


def scorer_json(version: ScorerVersion) -> dict[str, Any]:
    return {
        "experiment_id": int(version.experiment_id),
        "scorer_name": version.name,
        "scorer_version": version.version,
        "serialized_scorer": version.serialized_scorer,
        "creation_time": version.creation_time,
        "scorer_id": version.scorer_id,
    }


class RegisterIn(MlflowIn):
    experiment_id: str
    name: str
    serialized_scorer: str


class ListIn(MlflowIn):
    experiment_id: str | None = None
    experiment_ids: list[str] = Field(default_factory=list)


class NameIn(MlflowIn):
    experiment_id: str
    name: str
    version: int | None = None


class OnlineConfigsIn(MlflowIn):
    scorer_ids: list[str] = Field(default_factory=list)


class OnlineConfigIn(MlflowIn):
    experiment_id: str
    name: str
    sample_rate: Any  # checked by the service, in MLflow's words
    filter_string: Any = None


@router.post("/scorers/register")
def register(ctx: Ctx, svc: Svc, body: Annotated[RegisterIn, payload(RegisterIn)]) -> Response:
    experiment_id = resolve_experiment_id(ctx, svc.tracking, body.experiment_id)
    made = _service(svc).register(ctx, experiment_id, body.name, body.serialized_scorer)
    return ok(
        {
            "version": made.version,
            "scorer_id": made.scorer_id,
            "experiment_id": made.experiment_id,
            "name": made.name,
            "serialized_scorer": made.serialized_scorer,
            "creation_time": made.creation_time,
        }
    )


@router.get("/scorers/list")
def list_scorers(ctx: Ctx, svc: Svc, body: Annotated[ListIn, payload(ListIn)]) -> Response:
    ids = body.experiment_ids or ([body.experiment_id] if body.experiment_id else [])
    if not ids:
        raise InvalidArgument("Missing value for required parameter 'experiment_id'.")
    found: list[ScorerVersion] = []
    for experiment_id in ids:
        found.extend(_service(svc).latest(ctx, resolve_experiment_id(ctx, svc.tracking, experiment_id)))
    return ok({"scorers": [scorer_json(v) for v in found]})


@router.get("/scorers/versions")
def versions(ctx: Ctx, svc: Svc, body: Annotated[NameIn, payload(NameIn)]) -> Response:
    experiment_id = resolve_experiment_id(ctx, svc.tracking, body.experiment_id)
    found = _service(svc).versions(ctx, experiment_id, body.name)
    return ok({"scorers": [scorer_json(v) for v in found]})


@router.get("/scorers/get")
def get(ctx: Ctx, svc: Svc, body: Annotated[NameIn, payload(NameIn)]) -> Response:
    experiment_id = resolve_experiment_id(ctx, svc.tracking, body.experiment_id)
    return ok({"scorer": scorer_json(_service(svc).get(ctx, experiment_id, body.name, body.version))})


@router.delete("/scorers/delete")
def delete(ctx: Ctx, svc: Svc, body: Annotated[NameIn, payload(NameIn)]) -> Response:
    experiment_id = resolve_experiment_id(ctx, svc.tracking, body.experiment_id)
    _service(svc).delete(ctx, experiment_id, body.name, body.version)
    return ok()


def online_config_json(config: OnlineScoringConfig) -> dict[str, Any]:
    out: dict[str, Any] = {
        "online_scoring_config_id": config.id,
        "scorer_id": config.scorer_id,
        "sample_rate": config.sample_rate,
        "experiment_id": config.experiment_id,
    }
    if config.filter_string is not None:
        out["filter_string"] = config.filter_string
    return out


@router.get("/scorers/online-configs")
def online_configs(
    ctx: Ctx, svc: Svc, body: Annotated[OnlineConfigsIn, payload(OnlineConfigsIn)]
) -> Response:
    if not body.scorer_ids:
        raise missing_value("scorer_ids")
    found = _service(svc).online_configs(ctx, body.scorer_ids)
    return ok({"configs": [online_config_json(c) for c in found]})


@router.put("/scorers/online-config")
def upsert_online_config(
    ctx: Ctx, svc: Svc, body: Annotated[OnlineConfigIn, payload(OnlineConfigIn)]
) -> Response:
    """Stored and answered; the server never samples traces nor runs the scorer on them."""
    experiment_id = resolve_experiment_id(ctx, svc.tracking, body.experiment_id)
    made = _service(svc).set_online_config(
        ctx, experiment_id, body.name, body.sample_rate, body.filter_string
    )
    return ok({"config": online_config_json(made)})
