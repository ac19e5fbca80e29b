"""The registry-search grammar (MLflow's): ``name LIKE 'iris%' AND tags.team = 'vision'``.

Registered models filter on ``name`` and tags; versions also on ``run_id``, ``source_path``
and ``version_number``. Only ``AND`` joins clauses. ``tag.key != 'v'`` also matches models
without the tag: the ``mlflow`` client appends ``tag.`mlflow.prompt.is_prompt` != 'true'``
to every search to hide prompts, and that must keep every ordinary model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from shipyard.errors import InvalidFilter

__all__ = ["ModelClause", "ModelOrder", "parse_model_filter", "parse_model_order_by"]

Field = Literal["name", "run_id", "source", "version", "tag"]
_FIELDS: dict[str, Field] = {
    "name": "name",
    "run_id": "run_id",
    "source_path": "source",
    "source": "source",
    "version_number": "version",
    "version": "version",
}
_ORDER_FIELDS = {
    "name": "name",
    "version_number": "version",
    "creation_timestamp": "created_at",
    "timestamp": "created_at",
    "last_updated_timestamp": "updated_at",
}
_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<ident>(?:tags?|attributes?|attr)\.(?:`[^`]+`|\"[^\"]+\"|[\w.\-]+)|[A-Za-z_]\w*)"
    r"|(?P<string>'(?:[^']|'')*'|\"[^\"]*\")"
    r"|(?P<number>-?\d+)"
    r"|(?P<op>!=|<=|>=|=|<|>)"
    r"|(?P<lparen>\()|(?P<rparen>\))|(?P<comma>,)"
    r")"
)
_STRING_OPS = {"=", "!=", "LIKE", "ILIKE"}
_NUMBER_OPS = {"=", "!=", "<", "<=", ">", ">="}
MAX_CLAUSES = 20


@dataclass(frozen=True, slots=True)
class ModelClause:
    field: Field
    key: str  # the tag key; empty for other fields
    op: str
    value: str | int | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ModelOrder:
    column: str  # name, version, created_at, updated_at
    ascending: bool


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos, text = 0, text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.lastgroup is None:
            raise InvalidFilter(f"cannot parse the filter near {text[pos : pos + 20]!r}", position=pos)
        out.append((match.lastgroup, match.group(match.lastgroup)))
        pos = match.end()
    return out


def _field(ident: str, allowed: set[Field]) -> tuple[Field, str]:
    prefix, dot, rest = ident.partition(".")
    if dot and prefix.lower() in ("tag", "tags"):
        key = rest[1:-1] if rest[:1] in '`"' and len(rest) >= 2 else rest
        if not key:
            raise InvalidFilter("empty tag key in the filter")
        return "tag", key
    name = rest if dot and prefix.lower() in ("attribute", "attributes", "attr") else ident
    found = _FIELDS.get(name.lower())
    if found is None or found not in allowed:
        known = ", ".join(sorted(k for k, v in _FIELDS.items() if v in allowed))
        raise InvalidFilter(f"cannot filter on {ident!r}; use {known} or tags.<key>")
    return found, ""


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], allowed: set[Field]) -> None:
        self.tokens, self.i, self.allowed = tokens, 0, allowed

    def take(self, what: str) -> tuple[str, str]:
        if self.i >= len(self.tokens):
            raise InvalidFilter(f"the filter ends early: expected {what}")
        self.i += 1
        return self.tokens[self.i - 1]

    def clauses(self) -> list[ModelClause]:
        out = [self.clause()]
        while self.i < len(self.tokens):
            kind, text = self.take("AND")
            if kind == "ident" and text.upper() == "OR":
                raise InvalidFilter("OR is not supported; join clauses with AND")
            if kind != "ident" or text.upper() != "AND":
                raise InvalidFilter(f"expected AND between clauses, found {text!r}")
            out.append(self.clause())
        return out

    def operator(self) -> str:
        kind, text = self.take("a comparison operator")
        if kind == "op":
            return text
        word = text.upper() if kind == "ident" else ""
        if word in ("LIKE", "ILIKE", "IN"):
            return word
        if word == "NOT" and self.take("IN")[1].upper() == "IN":
            return "NOT IN"
        raise InvalidFilter(f"expected a comparison operator, found {text!r}")

    def clause(self) -> ModelClause:
        kind, text = self.take("a field such as name")
        if kind != "ident":
            raise InvalidFilter(f"expected a field such as name or tags.<key>, found {text!r}")
        field, key = _field(text, self.allowed)
        op = self.operator()
        if op in ("IN", "NOT IN"):
            if field not in ("run_id", "name"):
                raise InvalidFilter("IN and NOT IN apply to run_id and name")
            return ModelClause(field, key, op, self.string_list())
        kind, text = self.take("a value")
        if field == "version":
            if kind != "number" or op not in _NUMBER_OPS:
                raise InvalidFilter("version_number compares with a whole number using = != < <= > >=")
            if not abs(int(text)) < 2**63:  # the column is 64-bit: the database would overflow
                raise InvalidFilter(f"version_number {text} is out of range")
            return ModelClause(field, key, op, int(text))
        if kind != "string":
            raise InvalidFilter(f"{field} compares with a quoted string, found {text!r}")
        if op not in _STRING_OPS:
            raise InvalidFilter(f"operator {op} does not apply to {field}")
        return ModelClause(field, key, op, _unquote(text))

    def string_list(self) -> tuple[str, ...]:
        if self.take("'('")[0] != "lparen":
            raise InvalidFilter("IN expects a parenthesised list of quoted strings")
        values: list[str] = []
        while True:
            kind, text = self.take("a quoted string")
            if kind != "string":
                raise InvalidFilter(f"IN lists hold quoted strings, found {text!r}")
            values.append(_unquote(text))
            sep = self.take("',' or ')'")[0]
            if sep == "rparen":
                return tuple(values)
            if sep != "comma":
                raise InvalidFilter("expected ',' or ')' in the IN list")


def _unquote(text: str) -> str:
    return text[1:-1].replace("''", "'") if text[0] == "'" else text[1:-1]


def parse_model_filter(text: str | None, *, versions: bool = False) -> list[ModelClause]:
    """Clauses of a registered-model (or, with ``versions``, a model-version) search."""
    if text is None or not text.strip():
        return []
    if len(text) > 10_000:
        raise InvalidFilter("filter is longer than 10,000 characters")
    allowed: set[Field] = {"name", "tag"}
    if versions:
        allowed |= {"run_id", "source", "version"}
    clauses = _Parser(_tokens(text), allowed).clauses()
    if len(clauses) > MAX_CLAUSES:
        raise InvalidFilter(f"a filter joins at most {MAX_CLAUSES} clauses with AND")
    return clauses


def parse_model_order_by(items: list[str] | None, *, versions: bool = False) -> list[ModelOrder]:
    """``["name ASC", "last_updated_timestamp DESC"]``; versions may also order by version_number."""
    out: list[ModelOrder] = []
    for item in (items or [])[:10]:
        parts = item.split()
        direction = parts[1].upper() if len(parts) == 2 else "ASC"
        column = _ORDER_FIELDS.get(parts[0].removeprefix("attributes.")) if parts else None
        if (
            column is None
            or len(parts) > 2
            or direction not in ("ASC", "DESC")
            or (column == "version" and not versions)
        ):
            known = ", ".join(k for k in _ORDER_FIELDS if versions or k != "version_number")
            raise InvalidFilter(f"cannot order by {item!r}; use one of {known}, then ASC or DESC")
        out.append(ModelOrder(column, direction == "ASC"))
    return out
