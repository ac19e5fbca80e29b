"""Queries of rows that belong to a workspace (a ``workspace_id`` column), written once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, ScalarSelect, Select, Table, select

from shipyard.errors import AlreadyExists
from shipyard.stores.sql import schema as s

__all__ = ["in_workspace", "named_id", "refuse_taken", "workspace_id"]


def in_workspace(
    table: Table, workspace: str, *columns: ColumnElement[Any], named: bool = False
) -> Select[Any]:
    """``table``'s rows (or only ``columns``) of ``workspace``; ``named`` adds the workspace's
    name as the column ``workspace``, for the records that carry it."""
    label = (s.workspaces.c.name.label("workspace"),) if named else ()
    return (
        select(*(columns or (table,)), *label)
        .join(s.workspaces, s.workspaces.c.id == table.c.workspace_id)
        .where(s.workspaces.c.name == workspace)
    )


def workspace_id(workspace: str) -> ScalarSelect[Any]:
    """The id of ``workspace``, as a subquery of the statement that uses it."""
    return select(s.workspaces.c.id).where(s.workspaces.c.name == workspace).scalar_subquery()


def named_id(conn: Connection, table: Table, workspace: str, name: str) -> int | None:
    """The id of ``workspace``'s row named ``name`` in ``table``; None when there is none."""
    found: int | None = conn.execute(
        in_workspace(table, workspace, table.c.id).where(table.c.name == name)
    ).scalar()
    return found


def refuse_taken(conn: Connection, table: Table, workspace_id: int, name: str, what: str) -> None:
    """AlreadyExists when ``workspace_id`` holds a ``name`` row in ``table`` (``what``: "a compute
    target"). Checked first for a clear message; the unique index settles a race."""
    taken = conn.execute(
        select(table.c.id).where(table.c.workspace_id == workspace_id, table.c.name == name)
    ).first()
    if taken is not None:
        raise AlreadyExists(f"{what} named {name!r} already exists", name=name)
