"""Logged models (MLflow 3): created before their files are uploaded, then finalized.

Their files live in the artifact store under the model's ``artifact_location``; deleting a
model deletes them too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from shipyard.domain.context import RequestContext
from shipyard.domain.filters import OrderBy, parse_filter
from shipyard.domain.logged_models import LoggedModel, LoggedModelStatus
from shipyard.domain.pagination import decode_token, encode_token, fingerprint
from shipyard.domain.validation import (
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    check_key,
    check_name,
    check_value,
)
from shipyard.errors import InvalidArgument, InvalidFilter, InvalidPageToken, NotFound
from shipyard.services._clock import now_ms
from shipyard.services.ports import ArtifactStore, Database, UnitOfWork
from shipyard.services.tracking import TrackingService, check_run_link

__all__ = ["LoggedModelService"]

MAX_SEARCH_PAGE = 1000
# The filterable attributes of a logged model; ``name`` arrives as the run grammar's run_name.
_FILTER_ATTRIBUTES = {"run_name", "status"}
_ORDER_FIELDS = {
    "name": "run_name",
    "creation_timestamp": "start_time",
    "creation_time": "start_time",
    "last_updated_timestamp": "end_time",
}


def _check_map(kind: str, values: dict[str, str], limit: int) -> dict[str, str]:
    if len(values) > 1000:
        raise InvalidArgument(f"at most 1,000 {kind}s per request")
    return {check_key(kind, k): check_value(kind, k, v, limit) for k, v in values.items()}


class LoggedModelService:
    def __init__(self, db: Database, store: ArtifactStore) -> None:
        self.db = db
        self.store = store

    @staticmethod
    def _get(
        uow: UnitOfWork, ctx: RequestContext, model_id: str, *, allow_deleted: bool = False
    ) -> LoggedModel:
        found = uow.logged_models.get(ctx.workspace, model_id) if len(model_id) <= 64 else None
        if found is None or (found.lifecycle_stage != "active" and not allow_deleted):
            raise NotFound(
                f"no logged model with id {model_id[:64]!r} in workspace {ctx.workspace!r}",
                model_id=model_id[:64],
            )
        return found

    def create(
        self,
        ctx: RequestContext,
        experiment_id: str,
        *,
        name: str | None = None,
        model_type: str | None = None,
        source_run_id: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> LoggedModel:
        model_id = f"m-{uuid.uuid4().hex}"
        name = name or f"model-{model_id[2:10]}"
        check_name("logged model", name)
        if model_type is not None:
            check_value("model_type", "model_type", model_type, 500)
        params = _check_map("param", params or {}, MAX_PARAM_VALUE_LENGTH)
        tags = _check_map("tag", tags or {}, MAX_TAG_VALUE_LENGTH)
        if source_run_id:
            # Stored as given, as MLflow does: the run may live on another server.
            check_run_link("source_run_id", source_run_id)
        now = now_ms()
        with self.db.write() as uow:
            experiment = TrackingService._experiment(uow, ctx, experiment_id)
            if experiment.lifecycle_stage != "active":
                raise InvalidArgument(
                    f"experiment {experiment_id} is deleted; restore it first",
                    experiment_id=experiment_id,
                    lifecycle_stage=experiment.lifecycle_stage,
                )
            model = LoggedModel(
                model_id=model_id,
                experiment_id=experiment.id,
                name=name,
                artifact_location=f"{experiment.artifact_location}/models/{model_id}/artifacts",
                status=LoggedModelStatus.PENDING.value,
                status_message=None,
                model_type=model_type or None,
                source_run_id=source_run_id or None,
                lifecycle_stage="active",
                created_at=now,
                created_by=ctx.principal.name,
                updated_at=now,
                updated_by=ctx.principal.name,
                tags=tags,
                params=params,
            )
            uow.logged_models.create(model)
        return model

    def get(self, ctx: RequestContext, model_id: str) -> LoggedModel:
        with self.db.read() as uow:
            return self._get(uow, ctx, model_id)

    def finalize(self, ctx: RequestContext, model_id: str, status: str) -> LoggedModel:
        try:
            parsed = LoggedModelStatus(status)
        except ValueError:
            raise InvalidArgument(f"status must be READY or FAILED; got {status!r}") from None
        if parsed == LoggedModelStatus.PENDING:
            raise InvalidArgument("a logged model is finalized as READY or FAILED, not PENDING")
        with self.db.write() as uow:
            self._get(uow, ctx, model_id)
            uow.logged_models.update(model_id, ctx.principal.name, now_ms(), status=parsed.value)
            return self._get(uow, ctx, model_id)

    def set_tags(self, ctx: RequestContext, model_id: str, tags: dict[str, str]) -> LoggedModel:
        tags = _check_map("tag", tags, MAX_TAG_VALUE_LENGTH)
        with self.db.write() as uow:
            self._get(uow, ctx, model_id)
            if tags:
                uow.logged_models.set_tags(model_id, tags)
                uow.logged_models.update(model_id, ctx.principal.name, now_ms())
            return self._get(uow, ctx, model_id)

    def delete_tag(self, ctx: RequestContext, model_id: str, key: str) -> None:
        with self.db.write() as uow:
            self._get(uow, ctx, model_id)
            if not uow.logged_models.delete_tag(model_id, key):
                raise NotFound(f"logged model {model_id} has no tag {key!r}", key=key, model_id=model_id)

    def log_params(self, ctx: RequestContext, model_id: str, params: dict[str, str]) -> None:
        params = _check_map("param", params, MAX_PARAM_VALUE_LENGTH)
        with self.db.write() as uow:
            self._get(uow, ctx, model_id)
            if params:
                uow.logged_models.add_params(model_id, params)

    def delete(self, ctx: RequestContext, model_id: str) -> None:
        """Hide the model, then delete its files: once hidden, no upload reaches its folder."""
        with self.db.write() as uow:
            model = self._get(uow, ctx, model_id)
            uow.logged_models.update(model_id, ctx.principal.name, now_ms(), lifecycle_stage="deleted")
        prefix = model.artifact_location + "/"
        for info in list(self.store.list(model.artifact_location)):
            if info.key.startswith(prefix):
                self.store.delete(info.key)

    def search(
        self,
        ctx: RequestContext,
        experiment_ids: Sequence[str],
        *,
        filter_string: str | None = None,
        order_by: Sequence[tuple[str, bool]] = (),
        max_results: int = 50,
        page_token: str | None = None,
        datasets: Sequence[tuple[str, str | None]] = (),
    ) -> tuple[list[LoggedModel], str | None]:
        """``order_by`` holds (field name, ascending) pairs, as MLflow sends them; ``datasets``
        (name, digest or None) keeps the models with a metric logged on one of them."""
        for name, digest in datasets:
            if not name:
                raise InvalidArgument("`dataset_name` in the `datasets` clause must be specified.")
            check_name("dataset", name)
            if digest is not None and not 1 <= len(digest) <= 64:
                raise InvalidArgument("dataset digest must be 1 to 64 characters long")
        if not experiment_ids:
            raise InvalidArgument("give at least one experiment id to search logged models")
        if not 1 <= max_results <= MAX_SEARCH_PAGE:
            raise InvalidArgument(f"max_results must be between 1 and {MAX_SEARCH_PAGE}; got {max_results}")
        clauses = parse_filter(filter_string)
        for clause in clauses:
            if clause.entity == "metric" or (
                clause.entity == "attribute" and clause.key not in _FILTER_ATTRIBUTES
            ):
                raise InvalidFilter(
                    "logged models filter on name, status, tags.<key> and params.<key>;"
                    f" {clause.entity} {clause.key!r} is not supported"
                )
        ordering = []
        for field, ascending in order_by:
            if field not in _ORDER_FIELDS:
                raise InvalidFilter(
                    f"cannot order logged models by {field!r}; use {', '.join(_ORDER_FIELDS)}"
                )
            ordering.append(OrderBy("attribute", _ORDER_FIELDS[field], ascending))
        query = fingerprint(
            "logged-models",
            ctx.workspace,
            sorted(experiment_ids),
            filter_string,
            list(order_by),
            list(datasets),
        )
        offset = decode_token(page_token, query) or 0
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset < 2**63:
            raise InvalidPageToken("page_token is not a token this server issued")
        with self.db.read() as uow:
            for experiment_id in experiment_ids:
                TrackingService._experiment(uow, ctx, experiment_id)
            found = uow.logged_models.search(
                ctx.workspace, experiment_ids, clauses, ordering, offset, max_results + 1, datasets
            )
        token = encode_token(query, offset + max_results) if len(found) > max_results else None
        return found[:max_results], token
