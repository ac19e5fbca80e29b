"""Runs with their params and tags, and run search."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)

from shipyard.domain.filters import Clause, OrderBy
from shipyard.domain.tracking import MetricSummary, Run, RunStatus
from shipyard.errors import InvalidFilter
from shipyard.services.ports import RunRef, RunRepository
from shipyard.stores.sql import schema as s
from shipyard.stores.sql._ids import new_id

__all__ = ["SqlRunRepository"]

# MLflow's ``user_id`` is the user the client declares: the ``mlflow.user`` tag, else
# ``unknown`` (what ``runs/get`` answers, server/mlflow/_convert.py). Who signed in and
# created the run is ``created_by``, the audit fact.
_DECLARED_USER = func.coalesce(
    select(s.run_tags.c.value)
    .where(s.run_tags.c.run_pk == s.runs.c.pk, s.run_tags.c.key == "mlflow.user")
    .correlate(s.runs)
    .scalar_subquery(),
    "unknown",
)

_ATTRIBUTE_COLUMNS: dict[str, Any] = {
    "run_id": s.runs.c.run_id,
    "run_name": s.runs.c.name,
    "status": s.runs.c.status,
    "user_id": _DECLARED_USER,
    "created_by": s.runs.c.created_by,
    "artifact_uri": s.runs.c.artifact_uri,
    "lifecycle_stage": s.runs.c.lifecycle_stage,
    "start_time": s.runs.c.start_time,
    "end_time": s.runs.c.end_time,
    "parent_run_id": s.runs.c.parent_run_id,
}


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    match op:
        case "=":
            return column == value  # type: ignore[no-any-return]
        case "!=":
            return column != value  # type: ignore[no-any-return]
        case "<":
            return column < value  # type: ignore[no-any-return]
        case "<=":
            return column <= value  # type: ignore[no-any-return]
        case ">":
            return column > value  # type: ignore[no-any-return]
        case ">=":
            return column >= value  # type: ignore[no-any-return]
        case "LIKE":
            return column.like(value)  # type: ignore[no-any-return]
        case "ILIKE":
            return func.lower(column).like(func.lower(value))
        case "IN":
            return column.in_(value)  # type: ignore[no-any-return]
        case "NOT IN":
            return column.not_in(value)  # type: ignore[no-any-return]
    raise InvalidFilter(f"unsupported operator {op}")


def _keyed_table(entity: str) -> Any:
    return {"metric": s.metric_series, "param": s.params, "tag": s.run_tags}[entity]


def _value_column(table: Any) -> Any:
    return table.c.last_value if "last_value" in table.c else table.c.value


# The statements of the small calls (get a run, log to it), built once. Building a Core
# statement costs ~50 us, twice what executing it from SQLAlchemy's compiled cache costs;
# a run read used eight of them (see docs/mlflow.md, where the time of a small call goes).
_REF = (
    select(
        s.runs.c.pk,
        s.runs.c.run_id,
        s.runs.c.experiment_id,
        s.workspaces.c.name,
        s.runs.c.lifecycle_stage,
        s.runs.c.artifact_uri,
    )
    .join(s.experiments, s.experiments.c.id == s.runs.c.experiment_id)
    .join(s.workspaces, s.workspaces.c.id == s.experiments.c.workspace_id)
    .where(s.runs.c.run_id == bindparam("run_id"))
)
_RUN_BY_ID = select(s.runs).where(s.runs.c.run_id == bindparam("run_id"))
_RUNS_BY_PK = select(s.runs).where(s.runs.c.pk.in_(bindparam("pks", expanding=True)))
_PARAMS_OF = select(s.params).where(s.params.c.run_pk.in_(bindparam("pks", expanding=True)))
_TAGS_OF = select(s.run_tags).where(s.run_tags.c.run_pk.in_(bindparam("pks", expanding=True)))
_METRICS_OF = select(s.metric_series).where(s.metric_series.c.run_pk.in_(bindparam("pks", expanding=True)))
_PARAMS_BY_KEY = select(s.params.c.key, s.params.c.value).where(
    s.params.c.run_pk == bindparam("pk"), s.params.c.key.in_(bindparam("keys", expanding=True))
)
_INSERT_PARAM = insert(s.params)
_INSERT_TAG = insert(s.run_tags)
_DELETE_TAGS = delete(s.run_tags).where(
    s.run_tags.c.run_pk == bindparam("pk"), s.run_tags.c.key.in_(bindparam("keys", expanding=True))
)


class SqlRunRepository(RunRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(self, run: Run, actor: str, now: int) -> int:
        result = self.conn.execute(
            insert(s.runs).values(
                run_id=run.id,
                experiment_id=int(run.experiment_id),
                name=run.name,
                status=run.status.value,
                start_time=run.start_time,
                end_time=run.end_time,
                parent_run_id=run.parent_run_id,
                lifecycle_stage=run.lifecycle_stage,
                artifact_uri=run.artifact_uri,
                created_at=now,
                created_by=actor,
                updated_at=now,
                updated_by=actor,
            )
        )
        pk = new_id(result)
        if run.params:
            self.conn.execute(
                insert(s.params), [{"run_pk": pk, "key": k, "value": v} for k, v in run.params.items()]
            )
        if run.tags:
            self.conn.execute(
                insert(s.run_tags), [{"run_pk": pk, "key": k, "value": v} for k, v in run.tags.items()]
            )
        return pk

    def ref(self, run_id: str) -> RunRef | None:
        row = self.conn.execute(_REF, {"run_id": run_id}).first()
        if row is None:
            return None
        return RunRef(row[0], row[1], str(row[2]), row[3], row[4], row[5])

    def get(self, run_id: str) -> Run | None:
        row = self.conn.execute(_RUN_BY_ID, {"run_id": run_id}).first()
        if row is None:
            return None
        return self._load([row.pk], {row.pk: row})[0]

    def _load(self, pks: list[int], rows: dict[int, Any] | None = None) -> list[Run]:
        """The runs of ``pks`` in that order; ``rows``: their ``runs`` rows when already read."""
        if not pks:
            return []
        keys = {"pks": pks}
        if rows is None:
            rows = {r.pk: r for r in self.conn.execute(_RUNS_BY_PK, keys)}
        params: dict[int, dict[str, str]] = {pk: {} for pk in pks}
        tags: dict[int, dict[str, str]] = {pk: {} for pk in pks}
        metrics: dict[int, dict[str, MetricSummary]] = {pk: {} for pk in pks}
        for p in self.conn.execute(_PARAMS_OF, keys):
            params[p.run_pk][p.key] = p.value
        for t in self.conn.execute(_TAGS_OF, keys):
            tags[t.run_pk][t.key] = t.value
        for m in self.conn.execute(_METRICS_OF, keys):
            metrics[m.run_pk][m.key] = MetricSummary(
                key=m.key,
                value=math.nan if m.last_value is None else m.last_value,
                step=m.last_step,
                timestamp=m.last_ts,
                count=m.n_points,
                min=math.nan if m.min_value is None else m.min_value,
                max=math.nan if m.max_value is None else m.max_value,
            )
        return [
            Run(
                id=r.run_id,
                experiment_id=str(r.experiment_id),
                name=r.name,
                status=RunStatus(r.status),
                start_time=r.start_time,
                end_time=r.end_time,
                parent_run_id=r.parent_run_id,
                lifecycle_stage=r.lifecycle_stage,
                artifact_uri=r.artifact_uri,
                created_by=r.created_by,
                updated_at=r.updated_at,
                updated_by=r.updated_by,
                params=params[r.pk],
                tags=tags[r.pk],
                metrics=metrics[r.pk],
            )
            for pk in pks
            if (r := rows.get(pk)) is not None
        ]

    def update(
        self,
        ref: RunRef,
        *,
        actor: str,
        now: int,
        status: str | None = None,
        end_time: int | None = None,
        name: str | None = None,
        lifecycle_stage: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"updated_at": now, "updated_by": actor}
        for column, value in (
            ("status", status),
            ("end_time", end_time),
            ("name", name),
            ("lifecycle_stage", lifecycle_stage),
        ):
            if value is not None:
                values[column] = value
        self.conn.execute(update(s.runs).where(s.runs.c.pk == ref.pk).values(**values))

    def set_stage_in_experiment(self, experiment_id: str, stage: str, actor: str, now: int) -> None:
        self.conn.execute(
            update(s.runs)
            .where(s.runs.c.experiment_id == int(experiment_id), s.runs.c.lifecycle_stage != stage)
            .values(lifecycle_stage=stage, updated_at=now, updated_by=actor)
        )

    def params(self, ref: RunRef, keys: Sequence[str]) -> dict[str, str]:
        rows = self.conn.execute(_PARAMS_BY_KEY, {"pk": ref.pk, "keys": list(keys)})
        return {k: v for k, v in rows}

    def add_params(self, ref: RunRef, params: dict[str, str]) -> None:
        self.conn.execute(
            _INSERT_PARAM, [{"run_pk": ref.pk, "key": k, "value": v} for k, v in params.items()]
        )

    def set_tags(self, ref: RunRef, tags: dict[str, str]) -> None:
        self.conn.execute(_DELETE_TAGS, {"pk": ref.pk, "keys": list(tags)})
        self.conn.execute(_INSERT_TAG, [{"run_pk": ref.pk, "key": k, "value": v} for k, v in tags.items()])

    def delete_tag(self, ref: RunRef, key: str) -> bool:
        result = self.conn.execute(
            delete(s.run_tags).where(s.run_tags.c.run_pk == ref.pk, s.run_tags.c.key == key)
        )
        return bool(result.rowcount)

    def search(
        self,
        experiment_ids: Sequence[str],
        clauses: Sequence[Clause],
        order_by: Sequence[OrderBy],
        stages: Sequence[str],
        offset: int,
        limit: int,
    ) -> list[Run]:
        query: Select[Any] = select(s.runs.c.pk).where(
            s.runs.c.experiment_id.in_([int(e) for e in experiment_ids]),
            s.runs.c.lifecycle_stage.in_(list(stages)),
        )
        for i, clause in enumerate(clauses):
            query = self._apply_clause(query, i, clause)
        query = self._apply_order(query, order_by)
        pks = list(self.conn.execute(query.offset(offset).limit(limit)).scalars())
        return self._load(pks)

    @staticmethod
    def _apply_clause(query: Select[Any], i: int, clause: Clause) -> Select[Any]:
        if clause.entity == "dataset":
            used = exists().where(
                s.run_inputs.c.run_pk == s.runs.c.pk,
                s.datasets.c.id == s.run_inputs.c.dataset_id,
                _compare(s.datasets.c[clause.key], clause.op, clause.value),
            )
            return query.where(used)
        if clause.entity == "attribute":
            column = _ATTRIBUTE_COLUMNS[clause.key]
            if clause.op == "IS NULL":
                return query.where(column.is_(None))
            if clause.op == "IS NOT NULL":
                return query.where(column.is_not(None))
            value = int(clause.value) if isinstance(clause.value, float) else clause.value
            return query.where(_compare(column, clause.op, value))
        table = _keyed_table(clause.entity)
        if clause.op in ("IS NULL", "IS NOT NULL"):
            present = exists().where(table.c.run_pk == s.runs.c.pk, table.c.key == clause.key)
            return query.where(~present if clause.op == "IS NULL" else present)
        alias = table.alias(f"f{i}")
        return query.join(
            alias,
            and_(
                alias.c.run_pk == s.runs.c.pk,
                alias.c.key == clause.key,
                _compare(_value_column(alias), clause.op, clause.value),
            ),
        )

    @staticmethod
    def _apply_order(query: Select[Any], order_by: Sequence[OrderBy]) -> Select[Any]:
        terms: list[Any] = []
        for i, item in enumerate(order_by):
            if item.entity == "attribute":
                column = _ATTRIBUTE_COLUMNS[item.key]
            else:
                table = _keyed_table(item.entity).alias(f"o{i}")
                query = query.outerjoin(table, and_(table.c.run_pk == s.runs.c.pk, table.c.key == item.key))
                column = _value_column(table)
            terms.append((column.asc() if item.ascending else column.desc()).nulls_last())
        if not any(o.entity == "attribute" and o.key == "start_time" for o in order_by):
            terms.append(s.runs.c.start_time.desc())
        # Ties broken by run id, ascending, as MLflow's store does: pages of runs started in
        # the same millisecond come in the same order on both servers. Ids are lowercase hex,
        # so SQLite's and PostgreSQL's collations agree on it.
        terms.append(s.runs.c.run_id.asc())
        return query.order_by(*terms)
