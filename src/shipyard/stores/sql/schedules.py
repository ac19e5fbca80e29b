"""Schedules and their firings.

Never twice for one tick, with any number of servers on one database: a pass moves a
schedule's cursor with a compare-and-set (``UPDATE … WHERE cursor = :old``) and inserts the
firings of the ticks it took in the same transaction. Two servers that planned the same ticks
both try; on PostgreSQL the second ``UPDATE`` waits for the first transaction's row lock,
re-reads the row and matches nothing, and on SQLite writers take turns — so the loser writes
nothing. The unique (schedule, tick) index is the last guard: a firing inserted twice for one
tick is refused whatever the cursor said.
"""

from __future__ import annotations

import builtins
from typing import Any

import orjson
from sqlalchemy import Connection, Row, and_, delete, insert, select, update

from shipyard.domain.schedule_ticks import Trigger
from shipyard.domain.schedules import Firing, FiringStatus, Schedule
from shipyard.errors import AlreadyExists
from shipyard.services.schedule_ports import ScheduleRepository
from shipyard.stores.sql import schema as s
from shipyard.stores.sql import schema_schedules as t
from shipyard.stores.sql._workspace import in_workspace, named_id, refuse_taken

__all__ = ["SqlScheduleRepository"]

_s = t.schedules.c
_f = t.schedule_firings.c


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _schedule(r: Row[Any]) -> Schedule:
    return Schedule(
        name=r.name,
        workspace=r.workspace,
        display_name=r.display_name,
        description=r.description,
        tags=orjson.loads(r.tags),
        trigger=Trigger.from_json(orjson.loads(r.trigger)),
        catch_up=bool(r.catch_up),
        enabled=bool(r.enabled),
        job=orjson.loads(r.job),
        job_type=r.job_type,
        created_at=r.created_at,
        created_by=r.created_by,
        updated_at=r.updated_at,
        cursor=r.cursor,
    )


def _firing(r: Any) -> Firing:
    return Firing(
        schedule=r.schedule,
        tick_at=r.tick_at,
        status=r.status,
        at=r.at,
        job_name=r.job_name,
        message=r.message,
        node=r.node,
        caught_up=bool(r.caught_up),
        last_tick_at=r.last_tick_at,
        missed_count=r.missed_count,
    )


_FIRING_COLUMNS = (
    _s.name.label("schedule"),
    _f.tick_at,
    _f.status,
    _f.at,
    _f.job_name,
    _f.message,
    _f.node,
    _f.caught_up,
    _f.last_tick_at,
    _f.missed_count,
)


class SqlScheduleRepository(ScheduleRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _id(self, workspace: str, name: str) -> int | None:
        return named_id(self.conn, t.schedules, workspace, name)

    def create(self, workspace_id: int, schedule: Schedule) -> None:
        refuse_taken(self.conn, t.schedules, workspace_id, schedule.name, "a schedule")
        self.conn.execute(
            insert(t.schedules).values(
                workspace_id=workspace_id,
                name=schedule.name,
                display_name=schedule.display_name,
                description=schedule.description,
                tags=_json(schedule.tags),
                trigger=_json(schedule.trigger.to_json()),
                catch_up=schedule.catch_up,
                enabled=schedule.enabled,
                job=_json(schedule.job),
                job_type=schedule.job_type,
                created_at=schedule.created_at,
                created_by=schedule.created_by,
                updated_at=schedule.updated_at,
                cursor=schedule.cursor,
            )
        )

    def get(self, workspace: str, name: str) -> Schedule | None:
        row = self.conn.execute(
            in_workspace(t.schedules, workspace, named=True).where(_s.name == name)
        ).first()
        return None if row is None else _schedule(row)

    def list(self, workspace: str) -> builtins.list[Schedule]:
        rows = self.conn.execute(in_workspace(t.schedules, workspace, named=True).order_by(_s.name))
        return [_schedule(r) for r in rows]

    def enabled(self) -> builtins.list[Schedule]:
        rows = self.conn.execute(
            select(t.schedules, s.workspaces.c.name.label("workspace"))
            .join(s.workspaces, s.workspaces.c.id == _s.workspace_id)
            .where(_s.enabled.is_(True))
            .order_by(_s.id)
        )
        return [_schedule(r) for r in rows]

    def set_enabled(self, workspace: str, name: str, enabled: bool, cursor: int | None, now: int) -> bool:
        found = self._id(workspace, name)
        if found is None:
            return False
        values: dict[str, Any] = {"enabled": enabled, "updated_at": now}
        if cursor is not None:
            values["cursor"] = cursor
        self.conn.execute(update(t.schedules).where(_s.id == found).values(**values))
        return True

    def delete(self, workspace: str, name: str) -> bool:
        found = self._id(workspace, name)
        if found is None:
            return False
        self.conn.execute(delete(t.schedule_firings).where(_f.schedule_id == found))
        self.conn.execute(delete(t.schedules).where(_s.id == found))
        return True

    def advance(self, workspace: str, name: str, old: int, new: int) -> bool:
        found = self._id(workspace, name)
        if found is None:
            return False
        result = self.conn.execute(
            update(t.schedules)
            .where(_s.id == found, _s.cursor == old, _s.enabled.is_(True))
            .values(cursor=new)
        )
        return result.rowcount == 1

    def add_firing(self, workspace: str, firing: Firing) -> None:
        found = self._id(workspace, firing.schedule)
        if found is None:
            return
        taken = self.conn.execute(
            select(_f.id).where(_f.schedule_id == found, _f.tick_at == firing.tick_at)
        ).first()
        if taken is not None:
            raise AlreadyExists(
                f"schedule {firing.schedule!r} already has a firing for tick {firing.tick_at}"
            )
        self.conn.execute(
            insert(t.schedule_firings).values(
                schedule_id=found,
                tick_at=firing.tick_at,
                status=firing.status,
                at=firing.at,
                job_name=firing.job_name,
                message=firing.message,
                node=firing.node,
                caught_up=firing.caught_up,
                last_tick_at=firing.last_tick_at,
                missed_count=firing.missed_count,
            )
        )

    def finish_firing(
        self, workspace: str, name: str, tick_at: int, node: str, status: FiringStatus,
        job_name: str | None, message: str, now: int,
    ) -> bool:  # fmt: skip
        found = self._id(workspace, name)
        if found is None:
            return False
        result = self.conn.execute(
            update(t.schedule_firings)
            .where(_f.schedule_id == found, _f.tick_at == tick_at, _f.status == "claimed", _f.node == node)
            .values(status=status, job_name=job_name, message=message, at=now)
        )
        return result.rowcount == 1

    def stale_claims(self, claimed_before: int) -> builtins.list[tuple[str, Firing]]:
        rows = self.conn.execute(
            select(*_FIRING_COLUMNS, s.workspaces.c.name.label("workspace"))
            .select_from(t.schedule_firings)
            .join(t.schedules, _s.id == _f.schedule_id)
            .join(s.workspaces, s.workspaces.c.id == _s.workspace_id)
            .where(_f.status == "claimed", _f.at < claimed_before)
            .order_by(_f.tick_at)
        )
        return [(r.workspace, _firing(r)) for r in rows]

    def retake(self, workspace: str, name: str, tick_at: int, old_at: int, node: str, now: int) -> bool:
        found = self._id(workspace, name)
        if found is None:
            return False
        result = self.conn.execute(
            update(t.schedule_firings)
            .where(
                and_(_f.schedule_id == found, _f.tick_at == tick_at, _f.status == "claimed", _f.at == old_at)
            )
            .values(node=node, at=now)
        )
        return result.rowcount == 1

    def firings(self, workspace: str, name: str, limit: int) -> builtins.list[Firing]:
        found = self._id(workspace, name)
        if found is None:
            return []
        rows = self.conn.execute(
            select(*_FIRING_COLUMNS)
            .select_from(t.schedule_firings)
            .join(t.schedules, _s.id == _f.schedule_id)
            .where(_f.schedule_id == found)
            .order_by(_f.tick_at.desc())
            .limit(limit)
        )
        return [_firing(r) for r in rows]
