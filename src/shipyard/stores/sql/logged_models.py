"""Logged models (MLflow 3) with their tags and params."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, exists, insert, not_, or_, select, update

from shipyard.domain.filters import Clause, OrderBy
from shipyard.domain.logged_models import LoggedModel, LoggedModelMetric
from shipyard.services.ports import LoggedModelRepository
from shipyard.stores.sql import schema as s
from shipyard.stores.sql._compare import compare
from shipyard.stores.sql._ids import new_id

__all__ = ["SqlLoggedModelRepository"]

_MAX_ID = 2**31 - 1
_COLUMNS = {"name": "name", "run_name": "name", "status": "status", "start_time": "created_at"}
_ORDER = {"name": "name", "run_name": "name", "start_time": "created_at", "end_time": "updated_at"}


class SqlLoggedModelRepository(LoggedModelRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _pk(self, model_id: str) -> int | None:
        lm = s.logged_models.c
        return self.conn.execute(select(lm.pk).where(lm.model_id == model_id)).scalar()

    def create(self, model: LoggedModel) -> None:
        result = self.conn.execute(
            insert(s.logged_models).values(
                model_id=model.model_id,
                experiment_id=int(model.experiment_id),
                name=model.name,
                artifact_location=model.artifact_location,
                status=model.status,
                status_message=model.status_message,
                model_type=model.model_type,
                source_run_id=model.source_run_id,
                lifecycle_stage=model.lifecycle_stage,
                created_at=model.created_at,
                created_by=model.created_by,
                updated_at=model.updated_at,
                updated_by=model.updated_by,
            )
        )
        pk = new_id(result)
        if model.tags:
            self.conn.execute(
                insert(s.logged_model_tags),
                [{"model_pk": pk, "key": k, "value": v} for k, v in model.tags.items()],
            )
        if model.params:
            self.conn.execute(
                insert(s.logged_model_params),
                [{"model_pk": pk, "key": k, "value": v} for k, v in model.params.items()],
            )

    def _build(self, rows: list[Any]) -> list[LoggedModel]:
        pks = [r.pk for r in rows]
        tags: dict[int, dict[str, str]] = {pk: {} for pk in pks}
        params: dict[int, dict[str, str]] = {pk: {} for pk in pks}
        metrics: dict[int, list[LoggedModelMetric]] = {pk: [] for pk in pks}
        ids = {r.pk: r.model_id for r in rows}
        if pks:
            for t in self.conn.execute(
                select(s.logged_model_tags).where(s.logged_model_tags.c.model_pk.in_(pks))
            ):
                tags[t.model_pk][t.key] = t.value
            for p in self.conn.execute(
                select(s.logged_model_params).where(s.logged_model_params.c.model_pk.in_(pks))
            ):
                params[p.model_pk][p.key] = p.value
            m = s.logged_model_metrics.c
            for point in self.conn.execute(
                select(s.logged_model_metrics).where(m.model_pk.in_(pks)).order_by(m.model_pk, m.id)
            ):
                metrics[point.model_pk].append(
                    LoggedModelMetric(
                        model_id=ids[point.model_pk],
                        key=point.key,
                        value=math.nan if point.value is None else point.value,
                        timestamp=point.ts,
                        step=point.step,
                        run_id=point.run_id,
                        dataset_name=point.dataset_name,
                        dataset_digest=point.dataset_digest,
                    )
                )
        return [
            LoggedModel(
                model_id=r.model_id,
                experiment_id=str(r.experiment_id),
                name=r.name,
                artifact_location=r.artifact_location,
                status=r.status,
                status_message=r.status_message,
                model_type=r.model_type,
                source_run_id=r.source_run_id,
                lifecycle_stage=r.lifecycle_stage,
                created_at=r.created_at,
                created_by=r.created_by,
                updated_at=r.updated_at,
                updated_by=r.updated_by,
                tags=tags[r.pk],
                params=params[r.pk],
                metrics=metrics[r.pk],
            )
            for r in rows
        ]

    def _select(self, workspace: str) -> Any:
        return (
            select(s.logged_models)
            .join(s.experiments, s.experiments.c.id == s.logged_models.c.experiment_id)
            .join(s.workspaces, s.workspaces.c.id == s.experiments.c.workspace_id)
            .where(s.workspaces.c.name == workspace)
        )

    def get(self, workspace: str, model_id: str) -> LoggedModel | None:
        rows = list(self.conn.execute(self._select(workspace).where(s.logged_models.c.model_id == model_id)))
        return self._build(rows)[0] if rows else None

    def update(
        self,
        model_id: str,
        actor: str,
        now: int,
        *,
        status: str | None = None,
        status_message: str | None = None,
        lifecycle_stage: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"updated_at": now, "updated_by": actor}
        if status is not None:
            values["status"] = status
        if status_message is not None:
            values["status_message"] = status_message
        if lifecycle_stage is not None:
            values["lifecycle_stage"] = lifecycle_stage
        self.conn.execute(
            update(s.logged_models).where(s.logged_models.c.model_id == model_id).values(**values)
        )

    def _upsert(self, table: Any, model_id: str, values: dict[str, str]) -> None:
        pk = self._pk(model_id)
        t = table.c
        self.conn.execute(delete(table).where(t.model_pk == pk, t.key.in_(list(values))))
        self.conn.execute(insert(table), [{"model_pk": pk, "key": k, "value": v} for k, v in values.items()])

    def set_tags(self, model_id: str, tags: dict[str, str]) -> None:
        self._upsert(s.logged_model_tags, model_id, tags)

    def delete_tag(self, model_id: str, key: str) -> bool:
        t = s.logged_model_tags.c
        pk = self._pk(model_id)
        return bool(
            self.conn.execute(delete(s.logged_model_tags).where(t.model_pk == pk, t.key == key)).rowcount
        )

    def add_params(self, model_id: str, params: dict[str, str]) -> None:
        self._upsert(s.logged_model_params, model_id, params)

    def artifact_location(self, workspace: str, model_id: str) -> str | None:
        lm = s.logged_models.c
        query = (
            select(lm.artifact_location)
            .join(s.experiments, s.experiments.c.id == lm.experiment_id)
            .join(s.workspaces, s.workspaces.c.id == s.experiments.c.workspace_id)
            .where(s.workspaces.c.name == workspace, lm.model_id == model_id, lm.lifecycle_stage == "active")
        )
        return self.conn.execute(query).scalar()

    def active_ids(self, workspace: str, model_ids: Sequence[str]) -> set[str]:
        lm = s.logged_models.c
        query = (
            select(lm.model_id)
            .join(s.experiments, s.experiments.c.id == lm.experiment_id)
            .join(s.workspaces, s.workspaces.c.id == s.experiments.c.workspace_id)
            .where(
                s.workspaces.c.name == workspace,
                lm.model_id.in_({i for i in model_ids if len(i) <= 64}),
                lm.lifecycle_stage == "active",
            )
        )
        return set(self.conn.execute(query).scalars())

    def add_metrics(self, metrics: Sequence[LoggedModelMetric]) -> None:
        if not metrics:
            return
        lm = s.logged_models.c
        wanted = {m.model_id for m in metrics}
        rows = self.conn.execute(select(lm.model_id, lm.pk).where(lm.model_id.in_(wanted)))
        pks = {model_id: pk for model_id, pk in rows}
        # NaN is stored as NULL, as on a run's metric points (SQLite cannot store NaN).
        self.conn.execute(
            insert(s.logged_model_metrics),
            [
                {
                    "model_pk": pks[m.model_id],
                    "key": m.key,
                    "value": None if math.isnan(m.value) else m.value,
                    "step": m.step,
                    "ts": m.timestamp,
                    "run_id": m.run_id,
                    "dataset_name": m.dataset_name,
                    "dataset_digest": m.dataset_digest,
                }
                for m in metrics
            ],
        )

    def search(
        self,
        workspace: str,
        experiment_ids: Sequence[str],
        clauses: Sequence[Clause],
        order: Sequence[OrderBy],
        offset: int,
        limit: int,
        datasets: Sequence[tuple[str, str | None]] = (),
    ) -> list[LoggedModel]:
        lm = s.logged_models.c
        ids = [int(i) for i in experiment_ids if i.isascii() and i.isdigit() and int(i) <= _MAX_ID]
        query = self._select(workspace).where(lm.experiment_id.in_(ids), lm.lifecycle_stage == "active")
        for clause in clauses:
            query = query.where(self._condition(clause))
        if datasets:
            m = s.logged_model_metrics.c
            on_dataset = [
                and_(m.dataset_name == name, *([m.dataset_digest == digest] if digest is not None else []))
                for name, digest in datasets
            ]
            query = query.where(exists().where(m.model_pk == lm.pk, or_(*on_dataset)))
        terms = [
            lm[_ORDER[o.key]].asc() if o.ascending else lm[_ORDER[o.key]].desc()
            for o in order
            if o.entity == "attribute" and o.key in _ORDER
        ]
        terms += [lm.created_at.desc(), lm.pk.desc()]
        return self._build(list(self.conn.execute(query.order_by(*terms).offset(offset).limit(limit))))

    @staticmethod
    def _condition(clause: Clause) -> ColumnElement[bool]:
        lm = s.logged_models.c
        if clause.entity == "attribute":
            return compare(lm[_COLUMNS[clause.key]], clause.op, clause.value)
        table = s.logged_model_tags if clause.entity == "tag" else s.logged_model_params
        t = table.c
        same_key = and_(t.model_pk == lm.pk, t.key == clause.key)
        if clause.op == "IS NULL":
            return not_(exists().where(same_key))
        return exists().where(same_key, compare(t.value, clause.op, clause.value))
