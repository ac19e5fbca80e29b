"""The run-search grammar (MLflow's): ``metrics.acc > 0.9 AND params.lr = '0.01'``.

Only ``AND`` joins clauses. Entity prefixes and their aliases: ``metrics``/``metric``,
``params``/``param``, ``tags``/``tag``, ``attributes``/``attribute``/``attr``/``run``.
Keys may be backticked or double-quoted when they hold spaces or dots. Parsing is pure; the
store compiles the resulting clauses into SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from shipyard.errors import InvalidFilter

__all__ = [
    "ATTRIBUTE_KEYS",
    "DATASET_KEYS",
    "MAX_CLAUSES",
    "MAX_ORDER_BY",
    "TAG_COLUMNS",
    "Clause",
    "Entity",
    "OrderBy",
    "parse_experiment_filter",
    "parse_experiment_order_by",
    "parse_filter",
    "parse_order_by",
]

Entity = Literal["metric", "param", "tag", "attribute", "dataset"]
Value = float | str | tuple[str, ...] | None

_ENTITY_ALIASES: dict[str, Entity] = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "parameters": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
    "datasets": "dataset",
    "dataset": "dataset",
}

# attribute key -> kind of values it compares against
ATTRIBUTE_KEYS: dict[str, Literal["string", "number"]] = {
    "run_id": "string",
    "run_name": "string",
    "status": "string",
    "user_id": "string",  # the user the client declares (MLflow's), not who signed in
    "created_by": "string",  # the signed-in principal that created the run (native)
    "artifact_uri": "string",
    "lifecycle_stage": "string",
    "start_time": "number",
    "end_time": "number",
    "created": "number",
    "parent_run_id": "string",
}
# The inputs a run logged (MLflow's ``datasets.name = 'train'``).
DATASET_KEYS = ("name", "digest")
# MLflow tags whose value is a run column: filtering or ordering on the tag means the column.
TAG_COLUMNS = {"mlflow.runName": "run_name", "mlflow.parentRunId": "parent_run_id"}
_ATTRIBUTE_ALIASES = {"created": "start_time", "Created": "start_time", "name": "run_name"}

# Each clause and ordering term may join one table: SQLite stops at 64 tables in a join.
MAX_CLAUSES = 40
MAX_ORDER_BY = 10

_STRING_OPS = {"=", "!=", "LIKE", "ILIKE"}
_KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE"}
_NUMBER_OPS = {"=", "!=", "<", "<=", ">", ">="}


@dataclass(frozen=True, slots=True)
class Clause:
    entity: Entity
    key: str
    op: str
    value: Value


@dataclass(frozen=True, slots=True)
class OrderBy:
    entity: Entity
    key: str
    ascending: bool


_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<ident>[A-Za-z_][\w]*)\.(?P<key>`[^`]*`|"[^"]*"|[\w\-./:]+)   # entity.key
    | (?P<op>!=|<=|>=|=|<|>)
    | (?P<string>'(?:[^']|'')*'|"[^"]*")
    | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<lparen>\()
    | (?P<rparen>\))
    | (?P<comma>,)
    | (?P<word>[A-Za-z_]\w*)   # a keyword, or a bare attribute name (MLflow's default entity)
    )""",
    re.VERBOSE,
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise InvalidFilter(f"cannot parse the filter near {text[pos : pos + 20]!r}", position=pos)
        kind = match.lastgroup or ""
        if kind == "key":
            tokens.append(("ident", f"{match.group('ident')}\0{match.group('key')}"))
        else:
            tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _unquote_key(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in '`"':
        return raw[1:-1]
    return raw


def _entity_key(token: str) -> tuple[Entity, str]:
    prefix, raw_key = token.split("\0", 1)
    entity = _ENTITY_ALIASES.get(prefix.lower())
    if entity is None:
        raise InvalidFilter(
            f"unknown entity {prefix!r}; use metrics., params., tags. or attributes.",
        )
    key = _unquote_key(raw_key)
    if not key:
        raise InvalidFilter(f"empty key after {prefix!r}")
    if entity == "tag" and key in TAG_COLUMNS:
        return "attribute", TAG_COLUMNS[key]
    if entity == "dataset" and key not in DATASET_KEYS:
        raise InvalidFilter(f"datasets filter on {', '.join(DATASET_KEYS)}; got {key!r}")
    if entity == "attribute":
        key = _ATTRIBUTE_ALIASES.get(key, key)
        if key not in ATTRIBUTE_KEYS:
            raise InvalidFilter(f"unknown attribute {key!r}; known: {', '.join(sorted(ATTRIBUTE_KEYS))}")
    return entity, key


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, what: str) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise InvalidFilter(f"the filter ends early: expected {what}")
        self.i += 1
        return token

    def clauses(self) -> list[Clause]:
        out = [self.clause()]
        while (token := self.peek()) is not None:
            if token[0] == "word" and token[1].upper() == "AND":
                self.i += 1
                out.append(self.clause())
            elif token[0] == "word" and token[1].upper() == "OR":
                raise InvalidFilter("OR is not supported; join clauses with AND")
            else:
                raise InvalidFilter(f"expected AND between clauses, found {token[1]!r}")
        return out

    def clause(self) -> Clause:
        kind, text = self.take("an entity such as metrics.acc")
        if kind == "word" and text.upper() not in _KEYWORDS:
            text = f"attributes\0{text}"  # MLflow reads a bare name as an attribute
        elif kind != "ident":
            raise InvalidFilter(f"expected an entity such as metrics.acc, found {text!r}")
        entity, key = _entity_key(text)
        op = self.operator()
        if op in ("IS NULL", "IS NOT NULL"):
            return Clause(entity, key, op, None)
        if op in ("IN", "NOT IN"):
            return Clause(entity, key, op, self.string_list())
        return self.typed_clause(entity, key, op)

    def operator(self) -> str:
        kind, text = self.take("a comparison operator")
        if kind == "op":
            return text
        word = text.upper()
        if kind == "word" and word in ("LIKE", "ILIKE", "IN"):
            return word
        if kind == "word" and word == "NOT":
            nxt = self.take("IN after NOT")
            if nxt[1].upper() != "IN":
                raise InvalidFilter("expected IN after NOT")
            return "NOT IN"
        if kind == "word" and word == "IS":
            nxt = self.take("NULL or NOT NULL after IS")
            if nxt[1].upper() == "NULL":
                return "IS NULL"
            if nxt[1].upper() == "NOT" and self.take("NULL")[1].upper() == "NULL":
                return "IS NOT NULL"
            raise InvalidFilter("expected NULL or NOT NULL after IS")
        raise InvalidFilter(f"expected a comparison operator, found {text!r}")

    def string_list(self) -> tuple[str, ...]:
        if self.take("'(' to open a list")[0] != "lparen":
            raise InvalidFilter("IN expects a parenthesised list of quoted strings")
        values: list[str] = []
        while True:
            kind, text = self.take("a quoted string")
            if kind != "string":
                raise InvalidFilter(f"IN lists hold quoted strings, found {text!r}")
            values.append(_unquote_string(text))
            sep = self.take("',' or ')'")
            if sep[0] == "rparen":
                return tuple(values)
            if sep[0] != "comma":
                raise InvalidFilter(f"expected ',' or ')' in the IN list, found {sep[1]!r}")

    def typed_clause(self, entity: Entity, key: str, op: str) -> Clause:
        kind, text = self.take("a value")
        numeric = entity == "metric" or (entity == "attribute" and ATTRIBUTE_KEYS[key] == "number")
        if numeric:
            if kind != "number":
                raise InvalidFilter(f"{entity} {key!r} compares with a number, found {text!r}")
            if op not in _NUMBER_OPS:
                raise InvalidFilter(f"operator {op} does not apply to numbers")
            number = _epoch_ms(f"attributes.{key}", text) if entity == "attribute" else float(text)
            return Clause(entity, key, op, number)
        if kind != "string":
            raise InvalidFilter(f"{entity} {key!r} compares with a quoted string, found {text!r}")
        allowed = _STRING_OPS | ({"<", "<=", ">", ">="} if entity == "param" else set())
        if op not in allowed:
            raise InvalidFilter(f"operator {op} does not apply to {entity} values")
        return Clause(entity, key, op, _unquote_string(text))


def _unquote_string(text: str) -> str:
    if text[0] == "'":
        return text[1:-1].replace("''", "'")
    return text[1:-1]


def _epoch_ms(key: str, text: str) -> float:
    """A time attribute's operand: its column is 64-bit, so a larger number would overflow it."""
    number = float(text)
    if not abs(number) < 2**63:
        raise InvalidFilter(f"{key} is milliseconds since the epoch; {text} is out of range")
    return number


def parse_filter(text: str | None) -> list[Clause]:
    """Parse a filter string into clauses (empty for ``None`` or blank)."""
    if text is None or not text.strip():
        return []
    if len(text) > 10_000:
        raise InvalidFilter("filter is longer than 10,000 characters")
    parser = _Parser(_tokenize(text))
    clauses = parser.clauses()
    if len(clauses) > MAX_CLAUSES:
        raise InvalidFilter(f"a filter joins at most {MAX_CLAUSES} clauses with AND; got {len(clauses)}")
    for clause in clauses:
        if clause.op in ("IN", "NOT IN") and not (
            (clause.entity == "attribute" and clause.key in ("run_id", "run_name", "status"))
            or clause.entity == "dataset"
        ):
            raise InvalidFilter("IN and NOT IN apply to attributes.run_id, run_name, status and datasets")
        if clause.entity == "dataset" and clause.op in ("IS NULL", "IS NOT NULL"):
            raise InvalidFilter(f"datasets.{clause.key} compares with =, !=, LIKE, ILIKE or IN")
    return clauses


def parse_order_by(items: list[str] | None) -> list[OrderBy]:
    """Parse ``["metrics.acc DESC", "attributes.start_time"]``."""
    if len(items or []) > MAX_ORDER_BY:
        raise InvalidFilter(f"order_by takes at most {MAX_ORDER_BY} terms; got {len(items or [])}")
    out: list[OrderBy] = []
    for item in items or []:
        text = item.strip()
        ascending = True
        upper = text.upper()
        if upper.endswith(" DESC"):
            ascending, text = False, text[:-5].strip()
        elif upper.endswith(" ASC"):
            text = text[:-4].strip()
        entity, key = _entity_key(_order_key(item, text))
        if entity == "dataset":
            raise InvalidFilter("runs cannot be ordered by their datasets")
        out.append(OrderBy(entity, key, ascending))
    return out


def _order_key(item: str, text: str) -> str:
    tokens = _tokenize(text)
    if len(tokens) == 1 and tokens[0][0] == "word":
        return f"attributes\0{tokens[0][1]}"
    if len(tokens) != 1 or tokens[0][0] != "ident":
        raise InvalidFilter(f"cannot parse order_by {item!r}; expected e.g. 'metrics.acc DESC'")
    return tokens[0][1]


# -- experiments ---------------------------------------------------------------------
# MLflow's experiment search: ``name LIKE 'exp%' AND tags.team = 'ml'`` and
# ``creation_time > 1700000000000``; ordering by name, id or the two times.

EXPERIMENT_ATTRIBUTES: dict[str, Literal["string", "number"]] = {
    "name": "string",
    "experiment_id": "number",
    "creation_time": "number",
    "last_update_time": "number",
}


def _split_order(item: str) -> tuple[str, bool]:
    text = item.strip()
    upper = text.upper()
    if upper.endswith(" DESC"):
        return text[:-5].strip(), False
    if upper.endswith(" ASC"):
        return text[:-4].strip(), True
    return text, True


def _experiment_key(kind: str, text: str) -> tuple[Entity, str]:
    if kind == "word":
        prefix, key = "attributes", text
    elif kind == "ident":
        prefix, raw = text.split("\0", 1)
        key = _unquote_key(raw)
    else:
        raise InvalidFilter(f"expected name, tags.<key> or an attribute, found {text!r}")
    entity = _ENTITY_ALIASES.get(prefix.lower())
    if entity not in ("attribute", "tag") or not key:
        raise InvalidFilter(f"experiments filter on attributes or tags.<key>; got {prefix!r}")
    if entity == "attribute" and key not in EXPERIMENT_ATTRIBUTES:
        raise InvalidFilter(
            f"unknown experiment attribute {key!r}; known: {', '.join(sorted(EXPERIMENT_ATTRIBUTES))}"
        )
    return entity, key


def parse_experiment_filter(text: str | None) -> list[Clause]:
    """Parse an experiment filter (attributes and tags, joined with AND)."""
    if text is None or not text.strip():
        return []
    if len(text) > 10_000:
        raise InvalidFilter("filter is longer than 10,000 characters")
    parser = _Parser(_tokenize(text))
    out: list[Clause] = []
    while True:
        entity, key = _experiment_key(*parser.take("an attribute or tags.<key>"))
        op = parser.operator()
        if op in ("IN", "NOT IN", "IS NULL", "IS NOT NULL"):
            raise InvalidFilter(f"operator {op} does not apply to experiments")
        numeric = entity == "attribute" and EXPERIMENT_ATTRIBUTES[key] == "number"
        kind, value = parser.take("a value")
        if numeric:
            if kind != "number" or op not in _NUMBER_OPS:
                raise InvalidFilter(f"{key} compares with a number using = != < <= > >=")
            out.append(Clause(entity, key, op, _epoch_ms(key, value)))
        else:
            if kind != "string" or op not in _STRING_OPS:
                raise InvalidFilter(f"{key} compares with a quoted string using = != LIKE ILIKE")
            out.append(Clause(entity, key, op, _unquote_string(value)))
        token = parser.peek()
        if token is None:
            break
        if token[0] == "word" and token[1].upper() == "OR":
            raise InvalidFilter("OR is not supported; join clauses with AND")
        if not (token[0] == "word" and token[1].upper() == "AND"):
            raise InvalidFilter(f"expected AND between clauses, found {token[1]!r}")
        parser.i += 1
    if len(out) > MAX_CLAUSES:
        raise InvalidFilter(f"a filter joins at most {MAX_CLAUSES} clauses with AND; got {len(out)}")
    return out


def parse_experiment_order_by(items: list[str] | None) -> list[OrderBy]:
    """Parse ``["name ASC", "creation_time DESC"]`` for experiment search."""
    if len(items or []) > MAX_ORDER_BY:
        raise InvalidFilter(f"order_by takes at most {MAX_ORDER_BY} terms; got {len(items or [])}")
    out: list[OrderBy] = []
    for item in items or []:
        text, ascending = _split_order(item)
        tokens = _tokenize(text)
        if len(tokens) != 1:
            raise InvalidFilter(f"cannot parse order_by {item!r}; expected e.g. 'name ASC'")
        entity, key = _experiment_key(*tokens[0])
        if entity != "attribute":
            raise InvalidFilter("experiments order by name, experiment_id, creation_time or last_update_time")
        out.append(OrderBy(entity, key, ascending))
    return out
