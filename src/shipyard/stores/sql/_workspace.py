"""Queries of rows that belong to a workspace (a ``workspace_id`` column), written once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Select, Table, select

from shipyard.stores.sql import schema as s

__all__ = ["in_workspace", "workspace_id"]


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
