"""The model registry tables."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    delete,
    exists,
    func,
    insert,
    not_,
    select,
    update,
)

from shipyard.domain.model_search import ModelClause, ModelOrder
from shipyard.domain.registry import ModelEvent, ModelVersion, RegisteredModel
from shipyard.services.ports import ModelRepository
from shipyard.stores.sql import schema as s
from shipyard.stores.sql._compare import compare
from shipyard.stores.sql._ids import new_id

__all__ = ["SqlModelRepository"]


# Version numbers live in an INTEGER column: a larger number names no version, and binding
# it would make the driver fail (a 500) instead of answering "not found".
_MAX_VERSION = 2**31 - 1


_VERSION_SELECT = select(s.model_versions, s.registered_models.c.name.label("model_name")).join(
    s.registered_models, s.registered_models.c.id == s.model_versions.c.model_id
)


def _condition(
    clause: ModelClause, columns: dict[str, Any], tags: Any, owner_column: str, owner: Any
) -> ColumnElement[bool]:
    if clause.field != "tag":
        return compare(columns[clause.field], clause.op, clause.value)
    t = tags.c
    same_key = and_(t[owner_column] == owner, t.key == clause.key)
    if clause.op == "!=":  # a missing tag differs from any value (see domain.model_search)
        return not_(exists().where(same_key, t.value == clause.value))
    return exists().where(same_key, compare(t.value, clause.op, clause.value))


def _replace_tags(
    conn: Connection, table: Any, owner_column: str, owner_id: int, tags: dict[str, str]
) -> None:
    owner = table.c[owner_column]
    conn.execute(delete(table).where(owner == owner_id, table.c.key.in_(list(tags))))
    conn.execute(insert(table), [{owner_column: owner_id, "key": k, "value": v} for k, v in tags.items()])


class SqlModelRepository(ModelRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create_model(
        self, workspace_id: int, name: str, description: str, tags: dict[str, str], actor: str, now: int
    ) -> None:
        result = self.conn.execute(
            insert(s.registered_models).values(
                workspace_id=workspace_id,
                name=name,
                description=description,
                created_at=now,
                created_by=actor,
                updated_at=now,
                updated_by=actor,
            )
        )
        if tags:
            _replace_tags(self.conn, s.model_tags, "model_id", new_id(result), tags)

    def model_id(self, workspace: str, name: str) -> int | None:
        return self.conn.execute(
            select(s.registered_models.c.id)
            .join(s.workspaces, s.workspaces.c.id == s.registered_models.c.workspace_id)
            .where(s.workspaces.c.name == workspace, s.registered_models.c.name == name)
        ).scalar()

    def _models(self, rows: list[Any], workspace: str) -> list[RegisteredModel]:
        ids = [r.id for r in rows]
        tags: dict[int, dict[str, str]] = {i: {} for i in ids}
        aliases: dict[int, dict[str, int]] = {i: {} for i in ids}
        latest: dict[int, int] = {}
        if ids:
            for t in self.conn.execute(select(s.model_tags).where(s.model_tags.c.model_id.in_(ids))):
                tags[t.model_id][t.key] = t.value
            for a in self.conn.execute(select(s.model_aliases).where(s.model_aliases.c.model_id.in_(ids))):
                aliases[a.model_id][a.alias] = a.version
            v = s.model_versions.c
            for model_id, top in self.conn.execute(
                select(v.model_id, func.max(v.version)).where(v.model_id.in_(ids)).group_by(v.model_id)
            ):
                latest[model_id] = top
        return [
            RegisteredModel(
                name=r.name,
                workspace=workspace,
                description=r.description,
                tags=tags[r.id],
                aliases=aliases[r.id],
                latest_version=latest.get(r.id),
                created_at=r.created_at,
                created_by=r.created_by,
                updated_at=r.updated_at,
                updated_by=r.updated_by,
            )
            for r in rows
        ]

    def get_model(self, model_id: int) -> RegisteredModel:
        row = self.conn.execute(
            select(s.registered_models, s.workspaces.c.name.label("workspace"))
            .join(s.workspaces, s.workspaces.c.id == s.registered_models.c.workspace_id)
            .where(s.registered_models.c.id == model_id)
        ).one()
        return self._models([row], row.workspace)[0]

    def list_models(
        self, workspace: str, name_like: str | None, offset: int, limit: int
    ) -> list[RegisteredModel]:
        m = s.registered_models.c
        query = (
            select(s.registered_models)
            .join(s.workspaces, s.workspaces.c.id == m.workspace_id)
            .where(s.workspaces.c.name == workspace)
        )
        if name_like:
            query = query.where(func.lower(m.name).like(func.lower(name_like)))
        rows = list(self.conn.execute(query.order_by(m.name).offset(offset).limit(limit)))
        return self._models(rows, workspace)

    def update_model(
        self,
        model_id: int,
        actor: str,
        now: int,
        *,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        values: dict[str, Any] = {"updated_at": now, "updated_by": actor}
        if description is not None:
            values["description"] = description
        self.conn.execute(
            update(s.registered_models).where(s.registered_models.c.id == model_id).values(**values)
        )
        if tags:
            _replace_tags(self.conn, s.model_tags, "model_id", model_id, tags)

    def delete_model_tag(self, model_id: int, key: str) -> bool:
        t = s.model_tags.c
        return bool(
            self.conn.execute(delete(s.model_tags).where(t.model_id == model_id, t.key == key)).rowcount
        )

    def search_models(
        self,
        workspace: str,
        clauses: Sequence[ModelClause],
        order: Sequence[ModelOrder],
        offset: int,
        limit: int,
    ) -> list[RegisteredModel]:
        m = s.registered_models.c
        query = (
            select(s.registered_models)
            .join(s.workspaces, s.workspaces.c.id == m.workspace_id)
            .where(s.workspaces.c.name == workspace)
        )
        columns: dict[str, Any] = {"name": m.name, "created_at": m.created_at, "updated_at": m.updated_at}
        for clause in clauses:
            query = query.where(_condition(clause, columns, s.model_tags, "model_id", m.id))
        terms = [columns[o.column].asc() if o.ascending else columns[o.column].desc() for o in order]
        rows = list(self.conn.execute(query.order_by(*terms, m.name).offset(offset).limit(limit)))
        return self._models(rows, workspace)

    def rename_model(self, model_id: int, new_name: str, actor: str, now: int) -> None:
        self.conn.execute(
            update(s.registered_models)
            .where(s.registered_models.c.id == model_id)
            .values(name=new_name, updated_at=now, updated_by=actor)
        )

    def delete_model(self, model_id: int) -> None:
        v = s.model_versions.c
        version_ids = select(v.id).where(v.model_id == model_id).scalar_subquery()
        self.conn.execute(
            delete(s.model_version_tags).where(s.model_version_tags.c.version_id.in_(version_ids))
        )
        self.conn.execute(delete(s.model_versions).where(v.model_id == model_id))
        self.conn.execute(delete(s.model_aliases).where(s.model_aliases.c.model_id == model_id))
        self.conn.execute(delete(s.model_tags).where(s.model_tags.c.model_id == model_id))
        self.conn.execute(delete(s.registered_models).where(s.registered_models.c.id == model_id))

    def create_version(self, model_id: int, version: ModelVersion, actor: str, now: int) -> int:
        v = s.model_versions.c
        # Concurrent registrations take turns on the model's row lock (PostgreSQL; SQLite
        # serialises writers anyway), so each computes a distinct next number.
        m = s.registered_models.c
        self.conn.execute(select(m.id).where(m.id == model_id).with_for_update())
        top = self.conn.execute(select(func.max(v.version)).where(v.model_id == model_id)).scalar()
        number = (top or 0) + 1
        result = self.conn.execute(
            insert(s.model_versions).values(
                model_id=model_id,
                version=number,
                source=version.source,
                run_id=version.run_id,
                experiment_id=version.experiment_id,
                artifact_path=version.artifact_path,
                code_version=version.code_version,
                description=version.description,
                status=version.status,
                stage=version.stage,
                logged_model_id=version.logged_model_id,
                created_at=now,
                created_by=actor,
                updated_at=now,
                updated_by=actor,
            )
        )
        if version.tags:
            _replace_tags(
                self.conn,
                s.model_version_tags,
                "version_id",
                new_id(result),
                version.tags,
            )
        self.conn.execute(
            update(s.registered_models)
            .where(s.registered_models.c.id == model_id)
            .values(updated_at=now, updated_by=actor)
        )
        return number

    def _versions(self, model_id: int, only: int | None) -> list[ModelVersion]:
        if only is not None and not 0 <= only <= _MAX_VERSION:
            return []
        v = s.model_versions.c
        query = _VERSION_SELECT.where(v.model_id == model_id)
        if only is not None:
            query = query.where(v.version == only)
        return self._build_versions(list(self.conn.execute(query.order_by(v.version))))

    def latest_versions(self, workspace: str, names: Sequence[str]) -> dict[str, list[ModelVersion]]:
        out: dict[str, list[ModelVersion]] = {name: [] for name in names}
        if not names:
            return out
        v, m = s.model_versions.c, s.registered_models.c
        owned = (
            select(m.id)
            .join(s.workspaces, s.workspaces.c.id == m.workspace_id)
            .where(s.workspaces.c.name == workspace, m.name.in_(list(out)))
        )
        top = (
            select(v.model_id, v.stage, func.max(v.version).label("top"))
            .where(v.model_id.in_(owned))
            .group_by(v.model_id, v.stage)
            .subquery()
        )
        query = _VERSION_SELECT.join(
            top, and_(v.model_id == top.c.model_id, v.stage == top.c.stage, v.version == top.c.top)
        )
        for found in self._build_versions(list(self.conn.execute(query.order_by(v.model_id, v.version)))):
            out[found.name].append(found)
        return out

    def _build_versions(self, rows: list[Any]) -> list[ModelVersion]:
        ids = [r.id for r in rows]
        tags: dict[int, dict[str, str]] = {i: {} for i in ids}
        aliases: dict[tuple[int, int], list[str]] = {}
        if ids:
            for t in self.conn.execute(
                select(s.model_version_tags).where(s.model_version_tags.c.version_id.in_(ids))
            ):
                tags[t.version_id][t.key] = t.value
            models = {r.model_id for r in rows}
            for a in self.conn.execute(select(s.model_aliases).where(s.model_aliases.c.model_id.in_(models))):
                aliases.setdefault((a.model_id, a.version), []).append(a.alias)
        return [
            ModelVersion(
                name=r.model_name,
                version=r.version,
                source=r.source,
                run_id=r.run_id,
                experiment_id=r.experiment_id,
                artifact_path=r.artifact_path,
                code_version=r.code_version,
                description=r.description,
                status=r.status,
                tags=tags[r.id],
                aliases=sorted(aliases.get((r.model_id, r.version), [])),
                created_at=r.created_at,
                created_by=r.created_by,
                updated_at=r.updated_at,
                updated_by=r.updated_by,
                stage=r.stage,
                logged_model_id=r.logged_model_id,
            )
            for r in rows
        ]

    def search_versions(
        self,
        workspace: str,
        clauses: Sequence[ModelClause],
        order: Sequence[ModelOrder],
        offset: int,
        limit: int,
    ) -> list[ModelVersion]:
        v = s.model_versions.c
        m = s.registered_models.c
        query = _VERSION_SELECT.join(s.workspaces, s.workspaces.c.id == m.workspace_id).where(
            s.workspaces.c.name == workspace
        )
        columns: dict[str, Any] = {
            "name": m.name,
            "run_id": v.run_id,
            "source": v.source,
            "version": v.version,
            "created_at": v.created_at,
            "updated_at": v.updated_at,
        }
        for clause in clauses:
            query = query.where(_condition(clause, columns, s.model_version_tags, "version_id", v.id))
        terms = [columns[o.column].asc() if o.ascending else columns[o.column].desc() for o in order]
        terms += [m.name, v.version.desc()]
        rows = list(self.conn.execute(query.order_by(*terms).offset(offset).limit(limit)))
        return self._build_versions(rows)

    def set_stage(self, model_id: int, version: int, stage: str, actor: str, now: int) -> None:
        v = s.model_versions.c
        self.conn.execute(
            update(s.model_versions)
            .where(v.model_id == model_id, v.version == version)
            .values(stage=stage, updated_at=now, updated_by=actor)
        )

    def delete_version(self, model_id: int, version: int) -> None:
        version_id = self._version_id(model_id, version)
        if version_id is None:
            return
        self.conn.execute(delete(s.model_version_tags).where(s.model_version_tags.c.version_id == version_id))
        a = s.model_aliases.c
        self.conn.execute(delete(s.model_aliases).where(a.model_id == model_id, a.version == version))
        self.conn.execute(delete(s.model_versions).where(s.model_versions.c.id == version_id))

    def get_version(self, model_id: int, version: int) -> ModelVersion | None:
        found = self._versions(model_id, version)
        return found[0] if found else None

    def list_versions(self, model_id: int) -> list[ModelVersion]:
        return self._versions(model_id, None)

    def _version_id(self, model_id: int, version: int) -> int | None:
        if not 0 <= version <= _MAX_VERSION:
            return None
        v = s.model_versions.c
        return self.conn.execute(select(v.id).where(v.model_id == model_id, v.version == version)).scalar()

    def update_version(
        self,
        model_id: int,
        version: int,
        actor: str,
        now: int,
        *,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        version_id = self._version_id(model_id, version)
        if version_id is None:
            return
        values: dict[str, Any] = {"updated_at": now, "updated_by": actor}
        if description is not None:
            values["description"] = description
        self.conn.execute(
            update(s.model_versions).where(s.model_versions.c.id == version_id).values(**values)
        )
        if tags:
            _replace_tags(self.conn, s.model_version_tags, "version_id", version_id, tags)

    def delete_version_tag(self, model_id: int, version: int, key: str) -> bool:
        version_id = self._version_id(model_id, version)
        t = s.model_version_tags.c
        return bool(
            self.conn.execute(
                delete(s.model_version_tags).where(t.version_id == version_id, t.key == key)
            ).rowcount
        )

    def set_alias(self, model_id: int, alias: str, version: int) -> int | None:
        previous = self.delete_alias(model_id, alias)
        self.conn.execute(insert(s.model_aliases).values(model_id=model_id, alias=alias, version=version))
        return previous

    def delete_alias(self, model_id: int, alias: str) -> int | None:
        a = s.model_aliases.c
        previous = self.conn.execute(
            select(a.version).where(a.model_id == model_id, a.alias == alias)
        ).scalar()
        if previous is not None:
            self.conn.execute(delete(s.model_aliases).where(a.model_id == model_id, a.alias == alias))
        return previous

    def add_event(self, event: ModelEvent, workspace_id: int) -> None:
        self.conn.execute(
            insert(s.model_events).values(
                workspace_id=workspace_id,
                model_name=event.name,
                version=event.version,
                action=event.action,
                detail=json.dumps(event.detail, sort_keys=True),
                actor=event.actor,
                at=event.at,
            )
        )

    def events(self, workspace: str, name: str, offset: int, limit: int) -> list[ModelEvent]:
        e = s.model_events.c
        rows = self.conn.execute(
            select(s.model_events)
            .join(s.workspaces, s.workspaces.c.id == e.workspace_id)
            .where(s.workspaces.c.name == workspace, e.model_name == name)
            .order_by(e.id)
            .offset(offset)
            .limit(limit)
        )
        return [
            ModelEvent(
                id=r.id,
                name=r.model_name,
                version=r.version,
                action=r.action,
                detail=json.loads(r.detail),
                actor=r.actor,
                at=r.at,
            )
            for r in rows
        ]
