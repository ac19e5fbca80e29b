"""Environments, compute targets, jobs (with their status events and leases), and the index
of the logs kept in chunks in the artifact store."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Mapping
from typing import Any

import orjson
from sqlalchemy import Connection, Row, delete, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from shipyard.domain.jobs import ACTIVE, Compute, Environment, Job, JobEvent, JobFailure, JobStatus
from shipyard.errors import AlreadyExists
from shipyard.services.job_ports import (
    ComputeRepository,
    EnvironmentRepository,
    JobRepository,
    LogChunkRef,
    LogChunkRepository,
)
from shipyard.stores.sql import schema as s
from shipyard.stores.sql import schema_jobs as j
from shipyard.stores.sql._ids import new_id
from shipyard.stores.sql._workspace import in_workspace, refuse_taken, workspace_id

__all__ = [
    "JOBS_CHANNEL",
    "SqlComputeRepository",
    "SqlEnvironmentRepository",
    "SqlJobRepository",
    "SqlLogChunkRepository",
]

JOBS_CHANNEL = "shipyard_jobs"
"""The PostgreSQL NOTIFY channel that wakes every server's job runner."""
_ACTIVE = [str(x) for x in ACTIVE]


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class SqlEnvironmentRepository(EnvironmentRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(self, workspace_id: int, env: Environment) -> None:
        e = j.environments.c
        taken = self.conn.execute(
            select(e.id).where(e.workspace_id == workspace_id, e.name == env.name, e.version == env.version)
        ).first()
        if taken is not None:
            raise AlreadyExists(
                f"environment {env.name}:{env.version} already exists; versions are immutable,"
                " give a new version",
                name=env.name,
                version=env.version,
            )
        self.conn.execute(
            insert(j.environments).values(
                workspace_id=workspace_id,
                name=env.name,
                version=env.version,
                spec=_json(env.spec),
                spec_hash=env.spec_hash,
                description=env.description,
                tags=_json(env.tags),
                created_at=env.created_at,
                created_by=env.created_by,
            )
        )

    def _select(self, workspace: str) -> Any:
        return in_workspace(j.environments, workspace)

    @staticmethod
    def _row(r: Row[Any]) -> Environment:
        return Environment(
            name=r.name,
            version=r.version,
            spec=orjson.loads(r.spec),
            spec_hash=r.spec_hash,
            description=r.description,
            tags=orjson.loads(r.tags),
            created_at=r.created_at,
            created_by=r.created_by,
        )

    def get(self, workspace: str, name: str, version: str) -> Environment | None:
        e = j.environments.c
        row = self.conn.execute(self._select(workspace).where(e.name == name, e.version == version)).first()
        return None if row is None else self._row(row)

    def latest(self, workspace: str, name: str) -> Environment | None:
        e = j.environments.c
        row = self.conn.execute(
            self._select(workspace).where(e.name == name).order_by(e.created_at.desc(), e.id.desc()).limit(1)
        ).first()
        return None if row is None else self._row(row)

    def list(self, workspace: str, name: str | None = None) -> builtins.list[Environment]:
        e = j.environments.c
        query = self._select(workspace)
        if name is not None:
            return [self._row(r) for r in self.conn.execute(query.where(e.name == name).order_by(e.id))]
        newest = in_workspace(j.environments, workspace, func.max(e.id)).group_by(e.name)
        return [self._row(r) for r in self.conn.execute(query.where(e.id.in_(newest)).order_by(e.name))]


class SqlComputeRepository(ComputeRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(self, workspace_id: int, compute: Compute) -> None:
        refuse_taken(self.conn, j.computes, workspace_id, compute.name, "a compute target")
        self.conn.execute(
            insert(j.computes).values(
                workspace_id=workspace_id,
                name=compute.name,
                kind=compute.kind,
                max_concurrent=compute.max_concurrent,
                address=compute.address,
                description=compute.description,
                created_at=compute.created_at,
                created_by=compute.created_by,
            )
        )

    def _select(self, workspace: str) -> Any:
        return in_workspace(j.computes, workspace)

    @staticmethod
    def _row(r: Row[Any]) -> Compute:
        return Compute(
            name=r.name,
            kind=r.kind,
            max_concurrent=r.max_concurrent,
            address=r.address,
            description=r.description,
            created_at=r.created_at,
            created_by=r.created_by,
        )

    def get(self, workspace: str, name: str) -> Compute | None:
        row = self.conn.execute(self._select(workspace).where(j.computes.c.name == name)).first()
        return None if row is None else self._row(row)

    def list(self, workspace: str) -> builtins.list[Compute]:
        return [self._row(r) for r in self.conn.execute(self._select(workspace).order_by(j.computes.c.name))]

    def delete(self, workspace: str, name: str) -> bool:
        ws = workspace_id(workspace)
        result = self.conn.execute(
            delete(j.computes).where(j.computes.c.workspace_id == ws, j.computes.c.name == name)
        )
        return bool(result.rowcount)


_PARENT = j.jobs.alias("parent_job")

_JOB_COLUMNS = (
    j.jobs.c.id,
    s.workspaces.c.name.label("workspace"),
    j.jobs.c.name,
    j.jobs.c.display_name,
    j.jobs.c.experiment_id,
    j.jobs.c.run_id,
    j.jobs.c.status,
    j.jobs.c.compute,
    j.jobs.c.command,
    j.jobs.c.spec,
    j.jobs.c.code_digest,
    j.jobs.c.environment_hash,
    j.jobs.c.timeout_s,
    j.jobs.c.failure,
    j.jobs.c.canceled_by,
    j.jobs.c.created_at,
    j.jobs.c.created_by,
    j.jobs.c.updated_at,
    j.jobs.c.attempt,
    j.jobs.c.lease_owner,
    j.jobs.c.placement,
    j.jobs.c.type,
    j.jobs.c.leaf,
    j.jobs.c.step,
    j.jobs.c.report,
    _PARENT.c.name.label("parent"),
)


class SqlJobRepository(JobRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._postgres = conn.dialect.name == "postgresql"

    def _notify(self) -> None:
        """Wake every server's runner once this transaction commits (PostgreSQL delivers
        NOTIFY at commit, and not at all on a rollback)."""
        if self._postgres:
            self.conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": JOBS_CHANNEL})

    def create(self, workspace_id: int, experiment_pk: int, job: Job) -> None:
        try:
            with self.conn.begin_nested():
                result = self.conn.execute(
                    insert(j.jobs).values(
                        workspace_id=workspace_id,
                        name=job.name,
                        display_name=job.display_name,
                        experiment_id=experiment_pk,
                        run_id=job.run_id,
                        status=str(job.status),
                        compute=job.compute,
                        command=job.command,
                        spec=_json(job.spec),
                        code_digest=job.code_digest,
                        environment_hash=job.environment_hash,
                        timeout_s=job.timeout_s,
                        failure=None if job.failure is None else _json(job.failure.to_json()),
                        canceled_by=job.canceled_by,
                        created_at=job.created_at,
                        created_by=job.created_by,
                        updated_at=job.updated_at,
                        type=job.type,
                        leaf=job.leaf,
                        parent_id=None if job.parent is None else self._pk(job.workspace, job.parent),
                        step=job.step,
                        report=_json(job.report) if job.report else None,
                    )
                )
        except IntegrityError:
            raise AlreadyExists(
                f"a job named {job.name!r} already exists; give another name", name=job.name
            ) from None
        job_pk = new_id(result)
        if job.events:
            self.conn.execute(
                insert(j.job_events),
                [
                    {"job_id": job_pk, "status": str(e.status), "at": e.at, "message": e.message}
                    for e in job.events
                ],
            )
        self._notify()

    def _select(self) -> Any:
        return (
            select(*_JOB_COLUMNS)
            .join(s.workspaces, s.workspaces.c.id == j.jobs.c.workspace_id)
            .outerjoin(_PARENT, _PARENT.c.id == j.jobs.c.parent_id)
        )

    @staticmethod
    def _row(r: Row[Any], events: builtins.list[JobEvent] | None = None) -> Job:
        return Job(
            name=r.name,
            workspace=r.workspace,
            display_name=r.display_name,
            experiment_id=str(r.experiment_id),
            run_id=r.run_id,
            status=JobStatus(r.status),
            compute=r.compute,
            command=r.command,
            spec=orjson.loads(r.spec),
            code_digest=r.code_digest,
            environment_hash=r.environment_hash,
            timeout_s=r.timeout_s,
            created_at=r.created_at,
            created_by=r.created_by,
            updated_at=r.updated_at,
            failure=None if r.failure is None else JobFailure.from_json(orjson.loads(r.failure)),
            canceled_by=r.canceled_by,
            events=events or [],
            attempt=r.attempt,
            lease_owner=r.lease_owner,
            placement=None if r.placement is None else orjson.loads(r.placement),
            type=r.type,
            parent=r.parent,
            step=r.step,
            leaf=bool(r.leaf),
            report=orjson.loads(r.report) if r.report else {},
        )

    def get(self, workspace: str, name: str) -> Job | None:
        row = self.conn.execute(
            self._select().where(s.workspaces.c.name == workspace, j.jobs.c.name == name)
        ).first()
        if row is None:
            return None
        return self._row(row, self._events(row.id))

    def _events(self, job_pk: int) -> builtins.list[JobEvent]:
        e = j.job_events.c
        return [
            JobEvent(JobStatus(r.status), r.at, r.message)
            for r in self.conn.execute(
                select(e.status, e.at, e.message).where(e.job_id == job_pk).order_by(e.id)
            )
        ]

    def list(
        self,
        workspace: str,
        statuses: Collection[JobStatus] | None,
        offset: int,
        limit: int,
        parent: str | None = None,
        type_: str | None = None,
    ) -> builtins.list[Job]:
        query = self._select().where(s.workspaces.c.name == workspace)
        if type_ is not None:
            query = query.where(j.jobs.c.type == type_)
        if parent is None:
            query = query.where(j.jobs.c.parent_id.is_(None))
        else:
            query = query.where(_PARENT.c.name == parent)
        if statuses is not None:
            query = query.where(j.jobs.c.status.in_([str(x) for x in statuses]))
        query = query.order_by(j.jobs.c.id.desc()).offset(offset).limit(limit)
        return [self._row(r) for r in self.conn.execute(query)]

    def mentioning(self, workspace: str, needles: Collection[str], limit: int) -> builtins.list[Job]:
        if not needles:
            return []
        query = self._select().where(
            s.workspaces.c.name == workspace,
            or_(*(j.jobs.c.spec.contains(n, autoescape=True) for n in needles)),
        )
        return [self._row(r) for r in self.conn.execute(query.order_by(j.jobs.c.id.desc()).limit(limit))]

    def in_status(self, statuses: Collection[JobStatus]) -> builtins.list[Job]:
        query = self._select().where(j.jobs.c.status.in_([str(x) for x in statuses])).order_by(j.jobs.c.id)
        return [self._row(r) for r in self.conn.execute(query)]

    def record_cancel_request(self, workspace: str, name: str, who: str) -> None:
        ws = workspace_id(workspace)
        self.conn.execute(
            update(j.jobs).where(j.jobs.c.workspace_id == ws, j.jobs.c.name == name).values(canceled_by=who)
        )
        self._notify()

    def set_status(
        self,
        workspace: str,
        name: str,
        status: JobStatus,
        at: int,
        message: str = "",
        *,
        failure: JobFailure | None = None,
        canceled_by: str | None = None,
        environment_hash: str | None = None,
    ) -> None:
        ws = workspace_id(workspace)
        job_pk = self.conn.execute(
            select(j.jobs.c.id).where(j.jobs.c.workspace_id == ws, j.jobs.c.name == name)
        ).scalar_one()
        values: dict[str, Any] = {"status": str(status), "updated_at": at}
        if failure is not None:
            values["failure"] = _json(failure.to_json())
        if canceled_by is not None:
            values["canceled_by"] = canceled_by
        if environment_hash is not None:
            values["environment_hash"] = environment_hash
        if status not in ACTIVE:
            values.update(lease_owner=None, lease_expires_at=None)
        self.conn.execute(update(j.jobs).where(j.jobs.c.id == job_pk).values(**values))
        self.conn.execute(
            insert(j.job_events).values(job_id=job_pk, status=str(status), at=at, message=message)
        )
        if status not in ACTIVE:
            self._notify()  # a slot is free: another server may start the next queued job

    # -- the shared queue ------------------------------------------------------------------

    def children(self, workspace: str, parent: str) -> builtins.list[Job]:
        query = self._select().where(s.workspaces.c.name == workspace, _PARENT.c.name == parent)
        return [self._row(r) for r in self.conn.execute(query.order_by(j.jobs.c.id))]

    def set_report(self, workspace: str, name: str, report: Mapping[str, Any], at: int) -> None:
        self.conn.execute(
            update(j.jobs)
            .where(j.jobs.c.id == self._pk(workspace, name))
            .values(report=_json(dict(report)), updated_at=at)
        )

    def queued_computes(self, *, leaf: bool = True) -> builtins.list[tuple[str, str]]:
        c = j.jobs.c
        query = (
            select(s.workspaces.c.name, c.compute)
            .join(s.workspaces, s.workspaces.c.id == c.workspace_id)
            .where(c.status == str(JobStatus.QUEUED), c.leaf.is_(leaf))
            .group_by(s.workspaces.c.name, c.compute)
            .order_by(func.min(c.id))
        )
        return [(r[0], r[1]) for r in self.conn.execute(query)]

    def claim(
        self,
        workspace: str,
        compute: str,
        owner: str,
        now: int,
        lease_ms: int,
        *,
        room: int,
        shared_limit: int | None,
        message: str,
        leaf: bool = True,
        status: JobStatus = JobStatus.PREPARING,
    ) -> builtins.list[Job]:
        c = j.jobs.c
        ws = workspace_id(workspace)
        on_compute = (c.workspace_id == ws, c.compute == compute, c.leaf.is_(leaf))
        if shared_limit is not None:
            if self._postgres:
                # One claimer per compute at a time while it counts, or two servers could
                # each see the last free slot; held until this transaction ends.
                self.conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                    {"key": f"shipyard.compute:{workspace}/{compute}"},
                )
            active = self.conn.execute(
                select(func.count()).select_from(j.jobs).where(*on_compute, c.status.in_(_ACTIVE))
            ).scalar_one()
            room = min(room, shared_limit - int(active))
        if room <= 0:
            return []
        picked = (
            select(c.id)
            .where(*on_compute, c.status == str(JobStatus.QUEUED))
            .order_by(c.id)
            .limit(room)
            .with_for_update(skip_locked=True)
        )
        ids = [r[0] for r in self.conn.execute(picked)]
        if not ids:
            return []
        self.conn.execute(
            update(j.jobs)
            .where(c.id.in_(ids))
            .values(
                status=str(status),
                updated_at=now,
                lease_owner=owner,
                lease_expires_at=now + lease_ms,
                placement=None,
            )
        )
        self.conn.execute(
            insert(j.job_events),
            [{"job_id": pk, "status": str(status), "at": now, "message": message} for pk in ids],
        )
        rows = self.conn.execute(self._select().where(c.id.in_(ids)).order_by(c.id))
        return [self._row(r) for r in rows]

    def renew(self, owner: str, now: int, lease_ms: int) -> set[tuple[str, str]]:
        c = j.jobs.c
        mine = (c.lease_owner == owner, c.status.in_(_ACTIVE))
        self.conn.execute(update(j.jobs).where(*mine).values(lease_expires_at=now + lease_ms))
        held = select(s.workspaces.c.name, c.name).join(s.workspaces, s.workspaces.c.id == c.workspace_id)
        return {(r[0], r[1]) for r in self.conn.execute(held.where(*mine))}

    def adopt(
        self, owner: str, now: int, lease_ms: int, *, own: bool = False, leaf: bool = True
    ) -> builtins.list[Job]:
        c = j.jobs.c
        lapsed = or_(c.lease_owner.is_(None), c.lease_expires_at.is_(None), c.lease_expires_at < now)
        if own:
            lapsed = or_(lapsed, c.lease_owner == owner)
        picked = (
            select(c.id)
            .where(c.status.in_(_ACTIVE), c.leaf.is_(leaf), lapsed)
            .order_by(c.id)
            .with_for_update(skip_locked=True)
        )
        ids = [r[0] for r in self.conn.execute(picked)]
        if not ids:
            return []
        # Read before taking them: each job comes back naming the server that held it.
        rows = self.conn.execute(self._select().where(c.id.in_(ids)).order_by(c.id)).all()
        self.conn.execute(
            update(j.jobs).where(c.id.in_(ids)).values(lease_owner=owner, lease_expires_at=now + lease_ms)
        )
        return [self._row(r, self._events(r.id)) for r in rows]

    def lock(self, workspace: str, name: str) -> Job | None:
        query = self._select().where(s.workspaces.c.name == workspace, j.jobs.c.name == name)
        row = self.conn.execute(query.with_for_update(of=j.jobs)).first()
        return None if row is None else self._row(row)

    def _pk(self, workspace: str, name: str) -> Any:
        ws = workspace_id(workspace)
        return select(j.jobs.c.id).where(j.jobs.c.workspace_id == ws, j.jobs.c.name == name).scalar_subquery()

    def set_placement(self, workspace: str, name: str, placement: Mapping[str, Any]) -> None:
        self.conn.execute(
            update(j.jobs).where(j.jobs.c.id == self._pk(workspace, name)).values(placement=_json(placement))
        )

    def requeue(self, workspace: str, name: str, at: int, message: str, *, next_attempt: bool) -> None:
        c = j.jobs.c
        job_pk = self.conn.execute(select(self._pk(workspace, name))).scalar_one()
        values: dict[str, Any] = {
            "status": str(JobStatus.QUEUED),
            "updated_at": at,
            "lease_owner": None,
            "lease_expires_at": None,
            "placement": None,
        }
        if next_attempt:
            values["attempt"] = c.attempt + 1
        self.conn.execute(update(j.jobs).where(c.id == job_pk).values(**values))
        self.conn.execute(
            insert(j.job_events).values(job_id=job_pk, status=str(JobStatus.QUEUED), at=at, message=message)
        )
        self._notify()

    def cancel_requests(self, owner: str, *, leaf: bool = True) -> builtins.list[tuple[str, str, str]]:
        c = j.jobs.c
        query = (
            select(s.workspaces.c.name, c.name, c.canceled_by)
            .join(s.workspaces, s.workspaces.c.id == c.workspace_id)
            .where(
                c.lease_owner == owner, c.status.in_(_ACTIVE), c.canceled_by.is_not(None), c.leaf.is_(leaf)
            )
        )
        return [(r[0], r[1], r[2]) for r in self.conn.execute(query)]


class SqlLogChunkRepository(LogChunkRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, stream: str, chunk: LogChunkRef, at: int) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(j.log_chunks).values(
                        stream=stream, offset=chunk.offset, size=chunk.size, key=chunk.key, created_at=at
                    )
                )
        except IntegrityError:
            raise AlreadyExists(
                f"log {stream} already has a chunk at offset {chunk.offset}", stream=stream
            ) from None

    def from_offset(self, stream: str, offset: int, limit: int) -> builtins.list[LogChunkRef]:
        lc = j.log_chunks.c
        query = (
            select(lc.offset, lc.size, lc.key)
            .where(lc.stream == stream, lc.offset + lc.size > offset)
            .order_by(lc.offset)
            .limit(limit)
        )
        return [LogChunkRef(r.offset, r.size, r.key) for r in self.conn.execute(query)]

    def size(self, stream: str) -> int:
        lc = j.log_chunks.c
        query = select(lc.offset + lc.size).where(lc.stream == stream).order_by(lc.offset.desc()).limit(1)
        return int(self.conn.execute(query).scalar() or 0)
