"""Only a unique violation is the client's duplicate (409 ALREADY_EXISTS); any other integrity
error that reaches the database is a bug and must surface as one, on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from shipyard.errors import AlreadyExists
from shipyard.stores.sql import schema
from shipyard.stores.sql.database import SqlDatabase

_AUDIT = {"created_at": 1, "created_by": "t", "updated_at": 1, "updated_by": "t"}


def _experiment(workspace_id: int, name: str) -> dict[str, object]:
    return {
        "workspace_id": workspace_id,
        "name": name,
        "artifact_location": "x",
        "lifecycle_stage": "active",
        **_AUDIT,
    }


def _insert(db: SqlDatabase, table: object, row: dict[str, object]) -> None:
    with db.write() as uow:
        uow.conn.execute(insert(table), row)  # type: ignore[attr-defined,arg-type]


def test_a_unique_violation_that_slips_past_the_checks_is_already_exists(db: SqlDatabase) -> None:
    _insert(db, schema.workspaces, {"name": "race", **_AUDIT})
    with pytest.raises(AlreadyExists, match="already exists"):
        _insert(db, schema.workspaces, {"name": "race", **_AUDIT})


def test_a_duplicate_primary_key_is_already_exists(db: SqlDatabase) -> None:
    _insert(db, schema.workspaces, {"id": 777, "name": "first", **_AUDIT})
    with pytest.raises(AlreadyExists):
        _insert(db, schema.workspaces, {"id": 777, "name": "second", **_AUDIT})


def test_a_foreign_key_to_nothing_is_a_bug_not_a_duplicate(db: SqlDatabase) -> None:
    with pytest.raises(IntegrityError) as caught:
        _insert(db, schema.experiments, _experiment(987_654, "orphan"))
    assert not isinstance(caught.value, AlreadyExists)


def test_a_null_in_a_required_column_is_a_bug_not_a_duplicate(db: SqlDatabase) -> None:
    with pytest.raises(IntegrityError):
        _insert(db, schema.workspaces, {"name": None, **_AUDIT})
