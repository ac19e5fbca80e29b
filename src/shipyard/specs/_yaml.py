"""YAML in, validated pydantic model out — with the line of every key kept for the errors.

:mod:`shipyard.specs._yaml_reader` builds plain values whose :class:`LineDict` mappings also
remember where each key sits, within limits of size, nesting and 64-bit integers (its
docstring). When pydantic rejects the data, :func:`spec_error` walks
the error's location back through those mappings to say ``job.yml line 7: unknown field
'comand' under the job (did you mean 'command'?)`` — the way the Azure CLI's schema check does.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shipyard.errors import InvalidSpec
from shipyard.specs._overrides import apply_overrides
from shipyard.specs._yaml_reader import LineDict, load_mapping, read_text

__all__ = [
    "LineDict",
    "LoadedText",
    "field_line",
    "load_mapping",
    "load_spec",
    "parse_spec",
    "read_text",
    "spec_error",
    "spec_kind",
    "validate_spec",
]

M = TypeVar("M", bound=BaseModel)

# `<ENDPOINT_NAME>`, `< your compute name >`, `{{MODEL_VERSION}}`: values Azure's examples
# leave for their scripts (or the reader) to fill in.
_PLACEHOLDER = re.compile(r"<\s*[A-Za-z][A-Za-z0-9 _-]*>|\{\{\s*\w+\s*\}\}")


def parse_spec(text: str, model: type[M], source: str = "<string>", overrides: Sequence[str] = ()) -> M:
    """Validate YAML text against ``model``; any problem is an :class:`InvalidSpec`."""
    return LoadedText(text, model, source, overrides).validate(model)


def load_spec(path: Path, model: type[M], overrides: Sequence[str] = ()) -> M:
    """Read and validate a spec file; ``overrides`` are ``--set a.b=value`` strings."""
    return LoadedText.read(path, model, overrides).validate(model)


def validate_spec(data: Mapping[str, Any], model: type[M], source: str = "<string>") -> M:
    """Validate a mapping already loaded (e.g. a spec sent to the server); errors as InvalidSpec.

    A :class:`LineDict` keeps its lines in the messages; a plain mapping names fields only.
    """
    loaded = LoadedText.__new__(LoadedText)
    loaded.source = source
    loaded.data = data if isinstance(data, LineDict) else LineDict(data)
    loaded.overridden = {}
    return loaded.validate(model)


class LoadedText:
    """A spec file's mapping with its lines and overrides, kept to place later errors in the file."""

    def __init__(self, text: str, model: type[BaseModel], source: str, overrides: Sequence[str] = ()) -> None:
        self.source = source
        self.data = load_mapping(text, source)
        self.overridden = apply_overrides(self.data, overrides, model, source)

    @classmethod
    def read(cls, path: Path, model: type[BaseModel], overrides: Sequence[str] = ()) -> LoadedText:
        return cls(read_text(path), model, str(path), overrides)

    def validate(self, model: type[M]) -> M:
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            raise spec_error(exc, self.data, model, self.source, self.overridden) from None
        except InvalidSpec as exc:
            raise self.locate(exc) from None

    def locate(self, exc: InvalidSpec) -> InvalidSpec:
        """``exc`` with the file and the line of its ``field`` (unless it names a file already)."""
        if exc.details.get("file"):
            return exc
        field = exc.details.get("field")
        keys = str(field).split(".") if field else []
        _, line = _walk(self.data, tuple(keys), missing=False)
        set_arg = _override_for(keys, self.overridden)
        where = (
            f"{self.source} ({set_arg})" if set_arg else f"{self.source} line {line}" if line else self.source
        )
        return InvalidSpec(f"{where}: {exc.message}", **{**exc.details, "file": self.source, "line": line})


def field_line(data: Mapping[str, Any], field: str) -> int | None:
    """The line of the dotted ``field`` (``inputs.iris.path``) in a file's mapping, or of the
    nearest key above it that the file has; None for a mapping read without lines."""
    _, line = _walk(data, tuple(field.split(".")), missing=False)
    return line


def spec_kind(model: type[BaseModel]) -> str:
    """The noun of a model in messages: 'job', 'environment'…"""
    return str(getattr(model, "spec_kind", model.__name__))


def spec_error(
    exc: ValidationError,
    data: Mapping[str, Any],
    model: type[BaseModel],
    source: str,
    overridden: Mapping[tuple[str, ...], str] | None = None,
) -> InvalidSpec:
    """One :class:`InvalidSpec` for all of pydantic's complaints, each with its line."""
    lines: list[str] = []
    first: dict[str, Any] = {}
    for err in exc.errors():
        keys, line = _walk(data, err["loc"], missing=err["type"] == "missing")
        dotted = ".".join(keys)
        set_arg = _override_for(keys, overridden or {})
        where = f"{source} ({set_arg})" if set_arg else f"{source} line {line}" if line else source
        message = _describe(err, keys, model)
        lines.append(f"{where}: {message}")
        if not first:
            first = {"file": source, "line": None if set_arg else line, "field": dotted or None}
    text = lines[0] if len(lines) == 1 else f"{len(lines)} problems:\n  " + "\n  ".join(lines)
    return InvalidSpec(text, **first)


def _override_for(keys: list[str], overridden: Mapping[tuple[str, ...], str]) -> str | None:
    for n in range(len(keys), 0, -1):
        if tuple(keys[:n]) in overridden:
            return overridden[tuple(keys[:n])]
    return None


def _walk(data: Mapping[str, Any], loc: tuple[int | str, ...], missing: bool) -> tuple[list[str], int | None]:
    """Follow a pydantic location through the data: the real keys and the line of the last one.

    Location parts that are not keys of the data (union tags, validator names) are skipped;
    the name of a missing field is kept, with its parent's line.
    """
    keys: list[str] = []
    node: Any = data
    line = getattr(data, "line", None)
    for i, part in enumerate(loc):
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            keys.append(str(part))
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and part in node:
            keys.append(part)
            line = getattr(node, "key_lines", {}).get(part, line)
            node = node[part]
        elif missing and i == len(loc) - 1:
            keys.append(str(part))
    return keys, line


def _models_at(model: type[BaseModel], keys: Sequence[str]) -> list[type[BaseModel]]:
    """The pydantic models that may describe the mapping found at ``keys``."""
    candidates: list[Any] = [model]
    for key in keys:
        nxt: list[Any] = []
        for tp in _expand(candidates):
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                field = tp.model_fields.get(key) or next(
                    (f for f in tp.model_fields.values() if f.alias == key), None
                )
                if field is not None:
                    nxt.append(field.annotation)
            elif typing.get_origin(tp) is dict:
                nxt.append(typing.get_args(tp)[1])
            elif typing.get_origin(tp) is list:
                nxt.append(typing.get_args(tp)[0])
        candidates = nxt
    return [tp for tp in _expand(candidates) if isinstance(tp, type) and issubclass(tp, BaseModel)]


def _expand(types_: list[Any]) -> list[Any]:
    """Unwrap Annotated and unions into their members."""
    out: list[Any] = []
    for tp in types_:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            out.extend(_expand([typing.get_args(tp)[0]]))
        elif origin in (typing.Union, types.UnionType):
            out.extend(_expand(list(typing.get_args(tp))))
        else:
            out.append(tp)
    return out


def _describe(err: Any, keys: list[str], model: type[BaseModel]) -> str:
    kind_of = err["type"]
    if kind_of == "extra_forbidden":
        name = keys[-1] if keys else str(err["loc"][-1])
        parent = keys[:-1]
        under = f"'{'.'.join(parent)}'" if parent else f"the {spec_kind(model)}"
        allowed = [f.alias or n for m in _models_at(model, parent) for n, f in m.model_fields.items()]
        hint = difflib.get_close_matches(name, allowed, n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        return f"unknown field '{name}' under {under}{suggestion}"
    dotted = ".".join(keys)
    if kind_of == "missing":
        return f"missing required field '{dotted}'"
    msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    value = err.get("input")
    if isinstance(value, str) and _PLACEHOLDER.search(value):
        msg += f" ('{value}' is a placeholder of the example: put your value there, or --set {dotted}=…)"
    elif isinstance(value, dict) and any(isinstance(v, str) and "{{" in v for v in value):
        msg += " ('{{…}}' is a placeholder of the example: put your value there)"
    return f"field '{dotted}': {msg}" if dotted else msg
