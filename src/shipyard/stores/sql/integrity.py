"""Which database errors are the client's doing, and which are our bugs.

Repositories check that a name is free before inserting; a unique violation that still
reaches the database is the race two writers lose, and the loser gets ``409 ALREADY_EXISTS``.
Any other integrity error (a foreign key to nothing, a NULL in a NOT NULL column, a failed
CHECK) means a service let bad data through: a bug, which must stay a 500 with its
traceback in the log rather than pass for the client's mistake.

PostgreSQL's text cannot hold a NUL character, which SQLite's can: a name, tag or filter
holding one (``%00`` in a path) is refused by the driver before any SQL runs. That is the
client's text, answered ``400 INVALID_ARGUMENT`` saying so; any other data error stays a bug.
"""

from __future__ import annotations

from sqlalchemy.exc import DataError, IntegrityError

__all__ = ["holds_nul", "is_unique_violation"]

# PostgreSQL's SQLSTATE for unique_violation (a primary key's too).
_PG_UNIQUE = "23505"
# SQLite's extended result codes (Python ≥ 3.11 names them): a primary key clash is reported
# apart from other unique indexes.
_SQLITE_UNIQUE = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})


def is_unique_violation(exc: IntegrityError) -> bool:
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == _PG_UNIQUE:
        return True
    return getattr(orig, "sqlite_errorname", None) in _SQLITE_UNIQUE


def holds_nul(exc: DataError) -> bool:
    """psycopg refuses a NUL in a text parameter with this message, before sending anything."""
    return "cannot contain NUL" in str(exc.orig)
