"""Batch endpoints, their deployments and their invocations."""

from __future__ import annotations

import builtins
from typing import Any

import orjson
from sqlalchemy import Connection, Row, delete, insert, select, update

from shipyard.domain.batch_endpoints import BatchDeployment, BatchEndpoint, BatchInvocation
from shipyard.errors import AlreadyExists, NotFound
from shipyard.services.batch_ports import BatchDeploymentRepository, BatchEndpointRepository
from shipyard.stores.sql import schema as s
from shipyard.stores.sql import schema_batch as t
from shipyard.stores.sql._workspace import in_workspace, named_id, refuse_taken

__all__ = ["SqlBatchDeploymentRepository", "SqlBatchEndpointRepository"]

_e = t.batch_endpoints.c
_d = t.batch_deployments.c
_i = t.batch_invocations.c


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _endpoint_id(conn: Connection, workspace: str, name: str) -> int | None:
    return named_id(conn, t.batch_endpoints, workspace, name)


def _required_id(conn: Connection, workspace: str, name: str) -> int:
    found = _endpoint_id(conn, workspace, name)
    if found is None:
        raise NotFound(f"no batch endpoint named {name!r} in workspace {workspace!r}", name=name)
    return found


class SqlBatchEndpointRepository(BatchEndpointRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(self, workspace_id: int, endpoint: BatchEndpoint) -> None:
        refuse_taken(self.conn, t.batch_endpoints, workspace_id, endpoint.name, "a batch endpoint")
        self.conn.execute(
            insert(t.batch_endpoints).values(
                workspace_id=workspace_id,
                name=endpoint.name,
                description=endpoint.description,
                tags=_json(endpoint.tags),
                default_deployment=endpoint.default_deployment,
                spec=_json(endpoint.spec),
                created_at=endpoint.created_at,
                created_by=endpoint.created_by,
                updated_at=endpoint.updated_at,
            )
        )

    def _select(self, workspace: str) -> Any:
        return in_workspace(t.batch_endpoints, workspace, named=True)

    @staticmethod
    def _row(r: Row[Any]) -> BatchEndpoint:
        return BatchEndpoint(
            name=r.name,
            workspace=r.workspace,
            description=r.description,
            tags=orjson.loads(r.tags),
            default_deployment=r.default_deployment,
            created_at=r.created_at,
            created_by=r.created_by,
            updated_at=r.updated_at,
            spec=orjson.loads(r.spec),
        )

    def get(self, workspace: str, name: str) -> BatchEndpoint | None:
        row = self.conn.execute(self._select(workspace).where(_e.name == name)).first()
        return None if row is None else self._row(row)

    def list(self, workspace: str) -> builtins.list[BatchEndpoint]:
        return [self._row(r) for r in self.conn.execute(self._select(workspace).order_by(_e.name))]

    def set_default(self, workspace: str, name: str, deployment: str | None, now: int) -> None:
        endpoint_id = _required_id(self.conn, workspace, name)
        self.conn.execute(
            update(t.batch_endpoints)
            .where(_e.id == endpoint_id)
            .values(default_deployment=deployment, updated_at=now)
        )

    def delete(self, workspace: str, name: str) -> bool:
        endpoint_id = _endpoint_id(self.conn, workspace, name)
        if endpoint_id is None:
            return False
        self.conn.execute(delete(t.batch_invocations).where(_i.endpoint_id == endpoint_id))
        self.conn.execute(delete(t.batch_deployments).where(_d.endpoint_id == endpoint_id))
        self.conn.execute(delete(t.batch_endpoints).where(_e.id == endpoint_id))
        return True

    def add_invocation(self, workspace: str, invocation: BatchInvocation) -> None:
        endpoint_id = _required_id(self.conn, workspace, invocation.endpoint)
        self.conn.execute(
            insert(t.batch_invocations).values(
                endpoint_id=endpoint_id,
                deployment=invocation.deployment,
                job_name=invocation.job_name,
                created_at=invocation.created_at,
            )
        )

    def invocations(self, workspace: str, name: str, limit: int) -> builtins.list[BatchInvocation]:
        endpoint_id = _required_id(self.conn, workspace, name)
        rows = self.conn.execute(
            select(_i.deployment, _i.job_name, _i.created_at)
            .where(_i.endpoint_id == endpoint_id)
            .order_by(_i.created_at.desc(), _i.id.desc())
            .limit(limit)
        )
        return [BatchInvocation(name, r.deployment, r.job_name, r.created_at) for r in rows]


class SqlBatchDeploymentRepository(BatchDeploymentRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(self, workspace: str, deployment: BatchDeployment) -> None:
        endpoint_id = _required_id(self.conn, workspace, deployment.endpoint)
        taken = self.conn.execute(
            select(_d.id).where(_d.endpoint_id == endpoint_id, _d.name == deployment.name)
        ).first()
        if taken is not None:
            raise AlreadyExists(
                f"batch endpoint {deployment.endpoint!r} already has a deployment named"
                f" {deployment.name!r}; delete it first or choose another name",
                name=deployment.name,
            )
        self.conn.execute(
            insert(t.batch_deployments).values(
                endpoint_id=endpoint_id,
                name=deployment.name,
                spec=_json(deployment.spec),
                model=_json(deployment.model),
                created_at=deployment.created_at,
                created_by=deployment.created_by,
                updated_at=deployment.updated_at,
            )
        )

    def _select(self, workspace: str, endpoint: str) -> Any:
        return (
            select(t.batch_deployments, s.workspaces.c.name.label("workspace"), _e.name.label("endpoint"))
            .join(t.batch_endpoints, _e.id == _d.endpoint_id)
            .join(s.workspaces, s.workspaces.c.id == _e.workspace_id)
            .where(s.workspaces.c.name == workspace, _e.name == endpoint)
        )

    @staticmethod
    def _row(r: Row[Any]) -> BatchDeployment:
        return BatchDeployment(
            endpoint=r.endpoint,
            name=r.name,
            workspace=r.workspace,
            spec=orjson.loads(r.spec),
            model=orjson.loads(r.model),
            created_at=r.created_at,
            created_by=r.created_by,
            updated_at=r.updated_at,
        )

    def get(self, workspace: str, endpoint: str, name: str) -> BatchDeployment | None:
        row = self.conn.execute(self._select(workspace, endpoint).where(_d.name == name)).first()
        return None if row is None else self._row(row)

    def list(self, workspace: str, endpoint: str) -> builtins.list[BatchDeployment]:
        return [self._row(r) for r in self.conn.execute(self._select(workspace, endpoint).order_by(_d.name))]

    def of_workspace(self, workspace: str) -> builtins.list[BatchDeployment]:
        query = (
            select(t.batch_deployments, s.workspaces.c.name.label("workspace"), _e.name.label("endpoint"))
            .join(t.batch_endpoints, _e.id == _d.endpoint_id)
            .join(s.workspaces, s.workspaces.c.id == _e.workspace_id)
            .where(s.workspaces.c.name == workspace)
            .order_by(_e.name, _d.name)
        )
        return [self._row(r) for r in self.conn.execute(query)]

    def update(self, workspace: str, deployment: BatchDeployment) -> bool:
        endpoint_id = _endpoint_id(self.conn, workspace, deployment.endpoint)
        if endpoint_id is None:
            return False
        done = self.conn.execute(
            update(t.batch_deployments)
            .where(_d.endpoint_id == endpoint_id, _d.name == deployment.name)
            .values(
                spec=_json(deployment.spec),
                model=_json(deployment.model),
                updated_at=deployment.updated_at,
            )
        )
        return bool(done.rowcount)

    def delete(self, workspace: str, endpoint: str, name: str) -> bool:
        endpoint_id = _endpoint_id(self.conn, workspace, endpoint)
        if endpoint_id is None:
            return False
        done = self.conn.execute(
            delete(t.batch_deployments).where(_d.endpoint_id == endpoint_id, _d.name == name)
        )
        return bool(done.rowcount)
