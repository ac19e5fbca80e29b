"""Online endpoints and their deployments."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Mapping
from typing import Any

import orjson
from sqlalchemy import Connection, Row, delete, insert, or_, select, update
from sqlalchemy import text as sql_text

from shipyard.domain.endpoints import AuthMode, Deployment, DeploymentState, Endpoint
from shipyard.errors import AlreadyExists, NotFound
from shipyard.services.endpoint_ports import DeploymentRepository, EndpointRepository, Finish, Rollout
from shipyard.stores.sql import schema as s
from shipyard.stores.sql import schema_endpoints as t
from shipyard.stores.sql._workspace import in_workspace, named_id, refuse_taken

__all__ = ["DEPLOYMENTS_CHANNEL", "SqlDeploymentRepository", "SqlEndpointRepository"]

DEPLOYMENTS_CHANNEL = "shipyard_deployments"
"""The PostgreSQL NOTIFY channel that wakes every serving server: a deployment to bring up,
or an endpoint's deployments or traffic changed."""
_BUSY = (str(DeploymentState.CREATING), str(DeploymentState.UPDATING))

_e = t.online_endpoints.c
_d = t.online_deployments.c


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _notify(conn: Connection) -> None:
    """Wake every serving server once this transaction commits (PostgreSQL delivers NOTIFY
    at commit, and not at all on a rollback); SQLite servers poll."""
    if conn.dialect.name == "postgresql":
        conn.execute(sql_text("SELECT pg_notify(:channel, '')"), {"channel": DEPLOYMENTS_CHANNEL})


def _endpoint_id(conn: Connection, workspace: str, name: str) -> int | None:
    return named_id(conn, t.online_endpoints, workspace, name)


class SqlEndpointRepository(EndpointRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(self, workspace_id: int, endpoint: Endpoint) -> None:
        refuse_taken(self.conn, t.online_endpoints, workspace_id, endpoint.name, "an online endpoint")
        self.conn.execute(
            insert(t.online_endpoints).values(
                workspace_id=workspace_id,
                name=endpoint.name,
                auth_mode=str(endpoint.auth_mode),
                description=endpoint.description,
                tags=_json(endpoint.tags),
                traffic=_json(endpoint.traffic),
                mirror_traffic=_json(endpoint.mirror_traffic),
                primary_key=endpoint.primary_key,
                secondary_key=endpoint.secondary_key,
                spec=_json(endpoint.spec),
                created_at=endpoint.created_at,
                created_by=endpoint.created_by,
                updated_at=endpoint.updated_at,
            )
        )

    def _select(self, workspace: str) -> Any:
        return in_workspace(t.online_endpoints, workspace, named=True)

    @staticmethod
    def _row(r: Row[Any]) -> Endpoint:
        return Endpoint(
            name=r.name,
            workspace=r.workspace,
            auth_mode=AuthMode(r.auth_mode),
            description=r.description,
            tags=orjson.loads(r.tags),
            traffic=orjson.loads(r.traffic),
            mirror_traffic=orjson.loads(r.mirror_traffic),
            primary_key=r.primary_key,
            secondary_key=r.secondary_key,
            created_at=r.created_at,
            created_by=r.created_by,
            updated_at=r.updated_at,
            spec=orjson.loads(r.spec),
        )

    def get(self, workspace: str, name: str) -> Endpoint | None:
        row = self.conn.execute(self._select(workspace).where(_e.name == name)).first()
        return None if row is None else self._row(row)

    def list(self, workspace: str) -> builtins.list[Endpoint]:
        return [self._row(r) for r in self.conn.execute(self._select(workspace).order_by(_e.name))]

    def update(
        self,
        workspace: str,
        name: str,
        now: int,
        *,
        traffic: Mapping[str, int] | None = None,
        mirror_traffic: Mapping[str, int] | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        primary_key: str | None = None,
        secondary_key: str | None = None,
    ) -> None:
        endpoint_id = _endpoint_id(self.conn, workspace, name)
        if endpoint_id is None:
            raise NotFound(f"no online endpoint named {name!r} in workspace {workspace!r}", name=name)
        values: dict[str, Any] = {"updated_at": now}
        for column, value in (
            ("traffic", traffic),
            ("mirror_traffic", mirror_traffic),
            ("tags", tags),
        ):
            if value is not None:
                values[column] = _json(dict(value))
        for column, text in (
            ("description", description),
            ("primary_key", primary_key),
            ("secondary_key", secondary_key),
        ):
            if text is not None:
                values[column] = text
        self.conn.execute(update(t.online_endpoints).where(_e.id == endpoint_id).values(**values))
        _notify(self.conn)

    def delete(self, workspace: str, name: str) -> bool:
        endpoint_id = _endpoint_id(self.conn, workspace, name)
        if endpoint_id is None:
            return False
        self.conn.execute(delete(t.online_deployments).where(_d.endpoint_id == endpoint_id))
        self.conn.execute(delete(t.online_endpoints).where(_e.id == endpoint_id))
        _notify(self.conn)
        return True


class SqlDeploymentRepository(DeploymentRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(self, workspace: str, deployment: Deployment, *, all_traffic: bool = False) -> None:
        endpoint_id = _endpoint_id(self.conn, workspace, deployment.endpoint)
        if endpoint_id is None:
            raise NotFound(f"no online endpoint named {deployment.endpoint!r}", name=deployment.endpoint)
        taken = self.conn.execute(
            select(_d.id).where(_d.endpoint_id == endpoint_id, _d.name == deployment.name)
        ).first()
        if taken is not None:
            raise AlreadyExists(
                f"endpoint {deployment.endpoint!r} already has a deployment named {deployment.name!r};"
                " change it with `shipyard online-deployment update -f`",
                name=deployment.name,
            )
        self.conn.execute(
            insert(t.online_deployments).values(
                endpoint_id=endpoint_id,
                name=deployment.name,
                state=str(deployment.state),
                reason=deployment.reason,
                revision=deployment.revision,
                spec=_json(deployment.spec),
                model=_json(deployment.model),
                created_at=deployment.created_at,
                created_by=deployment.created_by,
                updated_at=deployment.updated_at,
                all_traffic=all_traffic,
            )
        )
        _notify(self.conn)

    @staticmethod
    def _select() -> Any:
        return (
            select(
                t.online_deployments,
                _e.name.label("endpoint"),
                s.workspaces.c.name.label("workspace"),
            )
            .join(t.online_endpoints, _e.id == _d.endpoint_id)
            .join(s.workspaces, s.workspaces.c.id == _e.workspace_id)
        )

    @staticmethod
    def _row(r: Row[Any]) -> Deployment:
        return Deployment(
            endpoint=r.endpoint,
            name=r.name,
            workspace=r.workspace,
            state=DeploymentState(r.state),
            reason=r.reason,
            revision=r.revision,
            spec=orjson.loads(r.spec),
            model=orjson.loads(r.model),
            created_at=r.created_at,
            created_by=r.created_by,
            updated_at=r.updated_at,
        )

    def get(self, workspace: str, endpoint: str, name: str) -> Deployment | None:
        row = self.conn.execute(
            self._select().where(s.workspaces.c.name == workspace, _e.name == endpoint, _d.name == name)
        ).first()
        return None if row is None else self._row(row)

    def list(self, workspace: str, endpoint: str) -> builtins.list[Deployment]:
        query = self._select().where(s.workspaces.c.name == workspace, _e.name == endpoint)
        return [self._row(r) for r in self.conn.execute(query.order_by(_d.name))]

    def in_states(self, states: Collection[DeploymentState]) -> builtins.list[Deployment]:
        query = self._select().where(_d.state.in_([str(x) for x in states])).order_by(_d.id)
        return [self._row(r) for r in self.conn.execute(query)]

    def of_workspace(self, workspace: str) -> builtins.list[Deployment]:
        query = self._select().where(s.workspaces.c.name == workspace).order_by(_e.name, _d.name)
        return [self._row(r) for r in self.conn.execute(query)]

    def _id(self, workspace: str, endpoint: str, name: str) -> int | None:
        endpoint_id = _endpoint_id(self.conn, workspace, endpoint)
        if endpoint_id is None:
            return None
        return self.conn.execute(select(_d.id).where(_d.endpoint_id == endpoint_id, _d.name == name)).scalar()

    def update(
        self,
        workspace: str,
        endpoint: str,
        name: str,
        now: int,
        *,
        state: DeploymentState,
        reason: str = "",
        revision: str | None = None,
        spec: Mapping[str, object] | None = None,
        model: Mapping[str, object] | None = None,
        all_traffic: bool | None = None,
    ) -> bool:
        found = self._id(workspace, endpoint, name)
        if found is None:
            return False
        values: dict[str, Any] = {
            "state": str(state),
            "reason": reason,
            "updated_at": now,
            "lease_owner": None,
            "lease_expires_at": None,
        }
        if all_traffic is not None:
            values["all_traffic"] = all_traffic
        if revision is not None:
            values["revision"] = revision
        if spec is not None:
            values["spec"] = _json(dict(spec))
        if model is not None:
            values["model"] = _json(dict(model))
        self.conn.execute(update(t.online_deployments).where(_d.id == found).values(**values))
        _notify(self.conn)
        return True

    def delete(self, workspace: str, endpoint: str, name: str) -> bool:
        found = self._id(workspace, endpoint, name)
        if found is None:
            return False
        self.conn.execute(delete(t.online_deployments).where(_d.id == found))
        _notify(self.conn)
        return True

    # -- leases: which serving server brings a deployment up --------------------------------

    def claim(self, owner: str, now: int, lease_ms: int, *, own: bool = False) -> builtins.list[Rollout]:
        lapsed = or_(_d.lease_owner.is_(None), _d.lease_expires_at.is_(None), _d.lease_expires_at < now)
        if own:
            lapsed = or_(lapsed, _d.lease_owner == owner)
        # SKIP LOCKED: two servers claiming at once each take different rows, neither waits.
        previous = {
            r.id: r.lease_owner
            for r in self.conn.execute(
                select(_d.id, _d.lease_owner)
                .where(_d.state.in_(_BUSY), lapsed)
                .order_by(_d.id)
                .with_for_update(skip_locked=True)
            )
        }
        if not previous:
            return []
        ids = builtins.list(previous)
        self.conn.execute(
            update(t.online_deployments)
            .where(_d.id.in_(ids))
            .values(lease_owner=owner, lease_expires_at=now + lease_ms)
        )
        rows = self.conn.execute(self._select().where(_d.id.in_(ids)).order_by(_d.id))
        return [Rollout(self._row(r), bool(r.all_traffic), previous[r.id]) for r in rows]

    def renew(self, owner: str, now: int, lease_ms: int) -> None:
        self.conn.execute(
            update(t.online_deployments)
            .where(_d.lease_owner == owner, _d.state.in_(_BUSY))
            .values(lease_expires_at=now + lease_ms)
        )

    def finish(
        self,
        workspace: str,
        endpoint: str,
        name: str,
        revision: str,
        owner: str,
        now: int,
        *,
        state: DeploymentState,
        reason: str,
    ) -> Finish:
        found = self._id(workspace, endpoint, name)
        if found is None:
            return Finish("gone")
        wanted = select(_d.revision, _d.state, _d.lease_owner, _d.all_traffic).where(_d.id == found)
        row = self.conn.execute(wanted.with_for_update()).one()
        if row.revision != revision or row.state not in _BUSY or row.lease_owner not in (None, owner):
            return Finish("taken")
        self.conn.execute(
            update(t.online_deployments)
            .where(_d.id == found)
            .values(
                state=str(state),
                reason=reason,
                updated_at=now,
                lease_owner=None,
                lease_expires_at=None,
                all_traffic=False,
            )
        )
        _notify(self.conn)
        return Finish("finished", bool(row.all_traffic))
