"""One comparison operator of a search filter, compiled to a SQL condition."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, not_

__all__ = ["compare"]


def compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    result: ColumnElement[bool]
    match op:
        case "=":
            result = column == value
        case "!=":
            result = column != value
        case "LIKE":
            result = column.like(value)
        case "ILIKE":
            result = func.lower(column).like(func.lower(value))
        case "<":
            result = column < value
        case "<=":
            result = column <= value
        case ">":
            result = column > value
        case ">=":
            result = column >= value
        case "IN":
            result = column.in_(list(value))
        case "NOT IN":
            result = not_(column.in_(list(value)))
        case "IS NULL":
            result = column.is_(None)
        case _:
            result = column.is_not(None)
    return result
