"""Evaluation datasets (MLflow 3's ``mlflow.genai.datasets``) and their records.

A record is keyed by its ``inputs``: upserting a record whose inputs a stored record already
has merges into that record, as MLflow does (expectations and tags are merged key by key,
outputs replaced when given; the creation time and creator stay). The hash of the inputs is
MLflow's own (SHA-256 of ``json.dumps(inputs, sort_keys=True)``), so a record has the same
identity on both servers.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from shipyard.domain.validation import check_name
from shipyard.errors import InvalidArgument, InvalidFilter

__all__ = [
    "MAX_RECORDS_PER_UPSERT",
    "SOURCE_TYPES",
    "DatasetClause",
    "DatasetRecord",
    "EvalDataset",
    "RecordIn",
    "check_dataset_name",
    "dataset_digest",
    "extend_schema",
    "input_hash",
    "matches",
    "merge_record",
    "parse_dataset_filter",
    "parse_dataset_order_by",
    "parse_record",
    "source_identity",
]

MAX_RECORDS_PER_UPSERT = 10_000
SOURCE_TYPES = ("UNSPECIFIED", "TRACE", "HUMAN", "DOCUMENT", "CODE")


@dataclass(frozen=True, slots=True)
class EvalDataset:
    id: str
    workspace: str
    name: str
    digest: str
    tags: dict[str, str]
    schema: str | None
    profile: str | None
    created_time: int
    last_update_time: int
    created_by: str | None
    last_updated_by: str | None
    experiment_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RecordIn:
    """One record of an upsert, checked: what the client sent, in known shapes."""

    inputs: dict[str, Any]
    has_outputs: bool
    outputs: Any
    expectations: dict[str, Any] | None
    tags: dict[str, str] | None
    source: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    id: str
    dataset_id: str
    input_hash: str
    inputs: dict[str, Any]
    outputs: Any
    expectations: dict[str, Any] | None
    tags: dict[str, str] | None
    source: dict[str, Any] | None
    source_id: str | None
    source_type: str | None
    created_time: int
    last_update_time: int
    created_by: str | None
    last_updated_by: str | None


def input_hash(inputs: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def dataset_digest(name: str, last_update_time: int) -> str:
    """MLflow's: any change of state gives another digest."""
    return hashlib.sha256(f"{name}:{last_update_time}".encode()).hexdigest()[:8]


def _string_map(where: str, value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidArgument(f"{where} must be an object of strings; got {type(value).__name__}")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def _source(where: str, value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("source_type"), str):
        raise InvalidArgument(
            f"{where}.source must be an object with a source_type ({', '.join(SOURCE_TYPES)})"
        )
    kind = value["source_type"].upper()
    if kind not in SOURCE_TYPES:
        raise InvalidArgument(
            f"Invalid dataset record source type: {kind}. Valid source types: {list(SOURCE_TYPES)}"
        )
    data = value.get("source_data") or {}
    if not isinstance(data, dict):
        raise InvalidArgument(f"{where}.source.source_data must be an object")
    return {"source_type": kind, "source_data": data}


def parse_record(index: int, raw: object) -> RecordIn:
    """One record of an upsert, or InvalidArgument saying which and what to fix."""
    where = f"records[{index}]"
    if not isinstance(raw, dict):
        raise InvalidArgument(f"{where} must be an object with 'inputs'; got {type(raw).__name__}")
    inputs = raw.get("inputs")
    if not isinstance(inputs, dict):
        raise InvalidArgument(f"{where} must have an 'inputs' object (the record's key); got {inputs!r:.80}")
    expectations = raw.get("expectations")
    if expectations is not None and not isinstance(expectations, dict):
        raise InvalidArgument(f"{where}.expectations must be an object")
    return RecordIn(
        inputs=inputs,
        has_outputs="outputs" in raw,
        outputs=raw.get("outputs"),
        expectations=expectations,
        tags=_string_map(f"{where}.tags", raw.get("tags")),
        source=_source(where, raw.get("source")),
    )


def source_identity(source: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """(source_id, source_type) as MLflow derives them: a trace's id, else ``source_id``."""
    if source is None:
        return None, None
    data = source.get("source_data") or {}
    key = "trace_id" if source["source_type"] == "TRACE" else "source_id"
    found = data.get(key)
    return (str(found) if found is not None else None), source["source_type"]


def merge_record(existing: DatasetRecord, new: RecordIn, user: str | None, now: int) -> DatasetRecord:
    """MLflow's merge: outputs replaced when sent; expectations and tags merged by key."""
    expectations = existing.expectations
    if new.expectations:
        expectations = {**(expectations or {}), **new.expectations}
    tags = existing.tags
    if new.tags:
        tags = {**(tags or {}), **new.tags}
    return replace(
        existing,
        outputs=new.outputs if new.has_outputs else existing.outputs,
        expectations=expectations,
        tags=tags,
        last_update_time=now,
        last_updated_by=user if user is not None else existing.last_updated_by,
    )


def _field_type(value: object) -> str:
    if value is None:
        return "null"
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "float"), (str, "string")):
        if isinstance(value, kind):
            return name
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "unknown"


def extend_schema(schema: str | None, records: Sequence[RecordIn]) -> str | None:
    """The dataset's schema (field → type), extended with fields these records bring."""
    if not records and not schema:
        return None
    found: dict[str, Any] = (
        json.loads(schema) if schema else {"inputs": {}, "outputs": {}, "expectations": {}, "version": "1.0"}
    )
    for record in records:
        for key, value in record.inputs.items():
            found["inputs"].setdefault(key, _field_type(value))
        if isinstance(record.outputs, dict):
            for key, value in record.outputs.items():
                found["outputs"].setdefault(key, _field_type(value))
        elif record.outputs is not None and not found["outputs"]:
            found["outputs"] = _field_type(record.outputs)
        for key, value in (record.expectations or {}).items():
            found["expectations"].setdefault(key, _field_type(value))
    return json.dumps(found)


# -- search: MLflow's dataset filter grammar ---------------------------------------------

_ATTRIBUTES = {
    "name": "string",
    "dataset_id": "string",
    "digest": "string",
    "created_by": "string",
    "last_updated_by": "string",
    "created_time": "number",
    "last_update_time": "number",
}
_CLAUSE = re.compile(
    r"""^\s*(?P<key>tags\.(?:`[^`]+`|"[^"]+"|[\w.\-/:]+)|\w+)\s*
    (?P<op>!=|<=|>=|=|<|>|(?i:not\s+like)|(?i:like)|(?i:ilike))\s*
    (?P<value>'(?:[^']|'')*'|"[^"]*"|[-+]?\d+)\s*$""",
    re.VERBOSE,
)
_AND = re.compile(r"\s+AND\s+(?=(?:[^'\"]|'[^']*'|\"[^\"]*\")*$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DatasetClause:
    key: str  # an attribute, or "tags.<key>"
    op: str
    value: str | int


def parse_dataset_filter(text: str | None) -> list[DatasetClause]:
    """``name LIKE 'qa_%' AND tags.env = 'prod' AND created_time >= 1700000000000``."""
    if not text or not text.strip():
        return []
    if len(text) > 10_000:
        raise InvalidFilter("filter is longer than 10,000 characters")
    out: list[DatasetClause] = []
    for part in _AND.split(text.strip()):
        if re.search(r"\s+OR\s+", part, re.IGNORECASE):
            raise InvalidFilter("OR is not supported; join clauses with AND")
        found = _CLAUSE.match(part)
        if found is None:
            raise InvalidFilter(f"cannot parse {part!r}; expected e.g. name = 'qa' or tags.env = 'prod'")
        key, op, raw = found["key"], " ".join(found["op"].upper().split()), found["value"]
        if key.startswith("tags."):
            key = "tags." + key[5:].strip('`"')
            kind = "string"
        elif key in _ATTRIBUTES:
            kind = _ATTRIBUTES[key]
        else:
            raise InvalidFilter(
                f"unknown dataset attribute {key!r}; known: {', '.join(sorted(_ATTRIBUTES))}, tags.<key>"
            )
        if kind == "number":
            if not raw.lstrip("+-").isdigit() or op not in ("=", "!=", "<", "<=", ">", ">="):
                raise InvalidFilter(f"{key} compares with a number using = != < <= > >=")
            out.append(DatasetClause(key, op, int(raw)))
        else:
            if raw[0] not in "'\"" or op in ("<", "<=", ">", ">="):
                raise InvalidFilter(f"{key} compares with a quoted string using = != LIKE ILIKE")
            out.append(DatasetClause(key, op, raw[1:-1].replace("''", "'")))
    return out


def _like(pattern: str, value: str, *, fold: bool) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if fold else re.DOTALL) is not None


def _holds(clause: DatasetClause, value: object) -> bool:
    op, want = clause.op, clause.value
    if value is None:
        return op in {"!=", "NOT LIKE"}
    if isinstance(want, int):
        number = int(str(value))
        result: bool = {
            "=": number == want,
            "!=": number != want,
            "<": number < want,
            "<=": number <= want,
            ">": number > want,
            ">=": number >= want,
        }[op]
        return result
    text = str(value)
    if op in ("LIKE", "ILIKE", "NOT LIKE"):
        hit = _like(want, text, fold=op == "ILIKE")
        return not hit if op == "NOT LIKE" else hit
    return (text == want) if op == "=" else (text != want)


def matches(dataset: EvalDataset, clauses: Sequence[DatasetClause]) -> bool:
    for clause in clauses:
        if clause.key.startswith("tags."):
            value: object = dataset.tags.get(clause.key[5:])
        else:
            value = getattr(dataset, clause.key if clause.key != "dataset_id" else "id")
        if not _holds(clause, value):
            return False
    return True


_ORDERABLE = ("name", "created_time", "last_update_time", "dataset_id", "created_by", "last_updated_by")


def parse_dataset_order_by(items: Sequence[str] | None) -> list[tuple[str, bool]]:
    """(attribute, ascending) pairs; MLflow's default is newest first."""
    out: list[tuple[str, bool]] = []
    for item in items or ["created_time DESC"]:
        words = item.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
            raise InvalidFilter(f"cannot parse order_by {item!r}; expected e.g. 'name ASC'")
        key = words[0].removeprefix("attributes.")
        if key not in _ORDERABLE:
            raise InvalidFilter(f"datasets order by one of {', '.join(_ORDERABLE)}; got {key!r}")
        out.append((key, len(words) == 1 or words[1].upper() == "ASC"))
    return out


def check_dataset_name(name: object) -> str:
    return check_name("evaluation dataset", name)
