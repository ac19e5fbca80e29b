"""Components and completed pipeline steps in SQL."""

from __future__ import annotations

import builtins
import json
from typing import Any

from sqlalchemy import Connection, func, insert, select

from shipyard.domain.components import Component, StepResult
from shipyard.errors import AlreadyExists
from shipyard.services.component_ports import ComponentRepository, StepResultRepository
from shipyard.stores.sql._workspace import in_workspace
from shipyard.stores.sql.schema_components import components as c
from shipyard.stores.sql.schema_components import step_results as r

__all__ = ["SqlComponentRepository", "SqlStepResultRepository"]


def _component(row: Any) -> Component:
    return Component(
        name=row.name,
        version=row.version,
        workspace=row.workspace,
        spec=json.loads(row.spec),
        code_digest=row.code_digest,
        environment=None if row.environment is None else json.loads(row.environment),
        description=row.description,
        tags=json.loads(row.tags),
        is_deterministic=bool(row.is_deterministic),
        created_at=row.created_at,
        created_by=row.created_by,
    )


class SqlComponentRepository(ComponentRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _named(self, workspace: str, name: str) -> Any:
        return in_workspace(c, workspace, named=True).where(c.c.name == name)

    def create(self, workspace_id: int, component: Component) -> None:
        taken = select(c.c.id).where(
            c.c.workspace_id == workspace_id, c.c.name == component.name, c.c.version == component.version
        )
        if self.conn.execute(taken).first() is not None:
            raise AlreadyExists(
                f"component {component.name!r} already has a version {component.version!r}; versions are"
                " immutable: register a new version instead",
                name=component.name,
                version=component.version,
            )
        self.conn.execute(
            insert(c).values(
                workspace_id=workspace_id,
                name=component.name,
                version=component.version,
                spec=json.dumps(component.spec, sort_keys=True),
                code_digest=component.code_digest,
                environment=None if component.environment is None else json.dumps(component.environment),
                description=component.description,
                tags=json.dumps(component.tags, sort_keys=True),
                is_deterministic=component.is_deterministic,
                created_at=component.created_at,
                created_by=component.created_by,
            )
        )

    def get(self, workspace: str, name: str, version: str) -> Component | None:
        row = self.conn.execute(self._named(workspace, name).where(c.c.version == version)).first()
        return None if row is None else _component(row)

    def latest(self, workspace: str, name: str) -> Component | None:
        row = self.conn.execute(self._named(workspace, name).order_by(c.c.id.desc()).limit(1)).first()
        return None if row is None else _component(row)

    def versions(self, workspace: str, name: str) -> builtins.list[Component]:
        return [
            _component(row) for row in self.conn.execute(self._named(workspace, name).order_by(c.c.id.desc()))
        ]

    def list_latest(self, workspace: str) -> builtins.list[Component]:
        newest = in_workspace(c, workspace, func.max(c.c.id)).group_by(c.c.name)
        query = in_workspace(c, workspace, named=True).where(c.c.id.in_(newest)).order_by(c.c.name)
        return [_component(row) for row in self.conn.execute(query)]

    def next_version(self, workspace: str, name: str) -> str:
        rows = self.conn.execute(in_workspace(c, workspace, c.c.version).where(c.c.name == name))
        numbers = [int(v) for (v,) in rows if v.isdigit()]
        return str(max(numbers, default=0) + 1)


def _result(row: Any) -> StepResult:
    return StepResult(
        key=row.reuse_key,
        pipeline=row.pipeline,
        step=row.step,
        job=row.job_name,
        source_job=row.source_job,
        run_id=row.run_id,
        fingerprint=json.loads(row.fingerprint),
        created_at=row.created_at,
    )


class SqlStepResultRepository(StepResultRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, workspace_id: int, result: StepResult) -> None:
        known = select(r.c.id).where(r.c.workspace_id == workspace_id, r.c.job_name == result.job)
        if self.conn.execute(known).first() is not None:
            return
        self.conn.execute(
            insert(r).values(
                workspace_id=workspace_id,
                reuse_key=result.key,
                pipeline=result.pipeline[:256],
                step=result.step,
                job_name=result.job,
                source_job=result.source_job,
                run_id=result.run_id,
                fingerprint=json.dumps(result.fingerprint, sort_keys=True),
                created_at=result.created_at,
            )
        )

    def by_key(self, workspace: str, key: str) -> StepResult | None:
        query = in_workspace(r, workspace).where(r.c.reuse_key == key).order_by(r.c.id.desc()).limit(1)
        row = self.conn.execute(query).first()
        return None if row is None else _result(row)

    def last_of(self, workspace: str, pipeline: str, step: str, before: int) -> StepResult | None:
        query = (
            in_workspace(r, workspace)
            .where(r.c.pipeline == pipeline[:256], r.c.step == step, r.c.created_at < before)
            .order_by(r.c.id.desc())
            .limit(1)
        )
        row = self.conn.execute(query).first()
        return None if row is None else _result(row)
