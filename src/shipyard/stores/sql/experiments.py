"""Workspaces and experiments."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, insert, select, update

from shipyard.domain.filters import Clause, OrderBy
from shipyard.domain.tracking import Experiment
from shipyard.services.ports import ExperimentRepository, WorkspaceRepository
from shipyard.stores.sql import schema as s
from shipyard.stores.sql._ids import new_id
from shipyard.stores.sql._workspace import refuse_taken

__all__ = ["SqlExperimentRepository", "SqlWorkspaceRepository"]


class SqlWorkspaceRepository(WorkspaceRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def id_of(self, name: str) -> int | None:
        return self.conn.execute(select(s.workspaces.c.id).where(s.workspaces.c.name == name)).scalar()

    def names(self) -> list[str]:
        return list(self.conn.execute(select(s.workspaces.c.name).order_by(s.workspaces.c.name)).scalars())

    def ensure(self, name: str, actor: str, now: int) -> int:
        found = self.id_of(name)
        if found is not None:
            return found
        audit = {"created_at": now, "created_by": actor, "updated_at": now, "updated_by": actor}
        if self.conn.dialect.name != "postgresql":  # SQLite serialises writers: no race
            return new_id(self.conn.execute(insert(s.workspaces).values(name=name, **audit)))
        # Two first writes into a new workspace race to create it; the loser waits for the
        # winner's commit and uses its row instead of failing on the unique name.
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        self.conn.execute(
            pg_insert(s.workspaces).values(name=name, **audit).on_conflict_do_nothing(index_elements=["name"])
        )
        found = self.id_of(name)
        assert found is not None  # inserted, or committed by the writer we waited for
        return found


_MAX_ID = 2**31 - 1

_EXPERIMENT_COLUMNS = (
    s.experiments.c.id,
    s.workspaces.c.name.label("workspace"),
    s.experiments.c.name,
    s.experiments.c.artifact_location,
    s.experiments.c.lifecycle_stage,
    s.experiments.c.created_at,
    s.experiments.c.created_by,
    s.experiments.c.updated_at,
    s.experiments.c.updated_by,
)


class SqlExperimentRepository(ExperimentRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _select(self) -> Any:
        return select(*_EXPERIMENT_COLUMNS).join(
            s.workspaces, s.workspaces.c.id == s.experiments.c.workspace_id
        )

    def _tags(self, ids: list[int]) -> dict[int, dict[str, str]]:
        out: dict[int, dict[str, str]] = {i: {} for i in ids}
        if ids:
            rows = self.conn.execute(
                select(s.experiment_tags).where(s.experiment_tags.c.experiment_id.in_(ids))
            )
            for row in rows:
                out[row.experiment_id][row.key] = row.value
        return out

    def _build(self, rows: Sequence[Row[Any]]) -> list[Experiment]:
        tags = self._tags([r.id for r in rows])
        return [
            Experiment(
                id=str(r.id),
                workspace=r.workspace,
                name=r.name,
                artifact_location=r.artifact_location,
                lifecycle_stage=r.lifecycle_stage,
                tags=tags[r.id],
                created_at=r.created_at,
                created_by=r.created_by,
                updated_at=r.updated_at,
                updated_by=r.updated_by,
            )
            for r in rows
        ]

    def create(
        self, workspace_id: int, name: str, artifact_root: str, tags: dict[str, str], actor: str, now: int
    ) -> Experiment:
        refuse_taken(self.conn, s.experiments, workspace_id, name, "an experiment")
        audit = {"created_at": now, "created_by": actor, "updated_at": now, "updated_by": actor}
        result = self.conn.execute(
            insert(s.experiments).values(
                workspace_id=workspace_id,
                name=name,
                artifact_location="",
                lifecycle_stage="active",
                **audit,
            )
        )
        experiment_id = new_id(result)
        location = f"{artifact_root}/{experiment_id}" if artifact_root else str(experiment_id)
        self.conn.execute(
            update(s.experiments)
            .where(s.experiments.c.id == experiment_id)
            .values(artifact_location=location)
        )
        if tags:
            self.conn.execute(
                insert(s.experiment_tags),
                [{"experiment_id": experiment_id, "key": k, "value": v} for k, v in tags.items()],
            )
        found = self._build(
            self.conn.execute(self._select().where(s.experiments.c.id == experiment_id)).all()
        )
        return found[0]

    def get(self, workspace: str, experiment_id: str) -> Experiment | None:
        # Anything that is not an id the INTEGER column can hold names no experiment;
        # binding it would make the driver fail (a 500) instead of answering "not found".
        if not (experiment_id.isascii() and experiment_id.isdigit()) or int(experiment_id) > _MAX_ID:
            return None
        rows = self.conn.execute(
            self._select().where(s.experiments.c.id == int(experiment_id), s.workspaces.c.name == workspace)
        ).all()
        found = self._build(rows)
        return found[0] if found else None

    def get_by_name(self, workspace: str, name: str) -> Experiment | None:
        rows = self.conn.execute(
            self._select().where(s.experiments.c.name == name, s.workspaces.c.name == workspace)
        ).all()
        found = self._build(rows)
        return found[0] if found else None

    def list(self, workspace: str, stages: Sequence[str], offset: int, limit: int) -> list[Experiment]:
        rows = self.conn.execute(
            self._select()
            .where(s.workspaces.c.name == workspace, s.experiments.c.lifecycle_stage.in_(stages))
            .order_by(s.experiments.c.id)
            .offset(offset)
            .limit(limit)
        ).all()
        return self._build(rows)

    def update(
        self,
        experiment_id: str,
        *,
        actor: str,
        now: int,
        name: str | None = None,
        lifecycle_stage: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        eid = int(experiment_id)
        values: dict[str, Any] = {"updated_at": now, "updated_by": actor}
        if name is not None:
            values["name"] = name
        if lifecycle_stage is not None:
            values["lifecycle_stage"] = lifecycle_stage
        self.conn.execute(update(s.experiments).where(s.experiments.c.id == eid).values(**values))
        for key, value in (tags or {}).items():
            self.conn.execute(
                delete(s.experiment_tags).where(
                    s.experiment_tags.c.experiment_id == eid, s.experiment_tags.c.key == key
                )
            )
            self.conn.execute(insert(s.experiment_tags).values(experiment_id=eid, key=key, value=value))

    def delete_tag(self, experiment_id: str, key: str) -> bool:
        result = self.conn.execute(
            delete(s.experiment_tags).where(
                s.experiment_tags.c.experiment_id == int(experiment_id), s.experiment_tags.c.key == key
            )
        )
        return bool(result.rowcount)

    def search(
        self,
        workspace: str,
        clauses: Sequence[Clause],
        order_by: Sequence[OrderBy],
        stages: Sequence[str],
        offset: int,
        limit: int,
    ) -> builtins.list[Experiment]:
        query = self._select().where(
            s.workspaces.c.name == workspace, s.experiments.c.lifecycle_stage.in_(stages)
        )
        for i, clause in enumerate(clauses):
            if clause.entity == "tag":
                tag = s.experiment_tags.alias(f"t{i}")
                query = query.join(
                    tag,
                    and_(
                        tag.c.experiment_id == s.experiments.c.id,
                        tag.c.key == clause.key,
                        _compare(tag.c.value, clause.op, clause.value),
                    ),
                )
            else:
                column = _ORDER_COLUMNS[clause.key]
                value = int(clause.value) if isinstance(clause.value, float) else clause.value
                query = query.where(_compare(column, clause.op, value))
        terms: list[Any] = [
            _ORDER_COLUMNS[o.key].asc() if o.ascending else _ORDER_COLUMNS[o.key].desc() for o in order_by
        ]
        if not order_by:
            terms.append(s.experiments.c.created_at.desc())
        terms.append(s.experiments.c.id.asc())
        rows = self.conn.execute(query.order_by(*terms).offset(offset).limit(limit)).all()
        return self._build(rows)


_ORDER_COLUMNS: dict[str, Any] = {
    "name": s.experiments.c.name,
    "experiment_id": s.experiments.c.id,
    "creation_time": s.experiments.c.created_at,
    "last_update_time": s.experiments.c.updated_at,
}


def _compare(column: Any, op: str, value: Any) -> Any:
    match op:
        case "LIKE":
            return column.like(value)
        case "ILIKE":
            return func.lower(column).like(func.lower(value))
        case "=":
            return column == value
        case "!=":
            return column != value
        case "<":
            return column < value
        case "<=":
            return column <= value
        case ">":
            return column > value
        case ">=":
            return column >= value
    raise AssertionError(f"the parser admits no operator {op}")
