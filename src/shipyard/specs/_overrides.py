"""``--set path=value`` overrides, applied to the loaded mapping before validation (as the Azure CLI).

The path is dotted (``inputs.C``, ``limits.timeout``, ``environment_variables.X``); the value
is read as a YAML scalar (``0.5`` is a float, ``true`` a bool, ``azureml:cpu`` a string).
Rules, so that a typo fails instead of being silently added:

- the first segment must be a field of the spec;
- ``inputs.<name>`` / ``outputs.<name>`` must name an input/output the file declares;
- setting a declared data input (``uri_file``/``uri_folder``/``mltable``) to a string sets its
  ``path``, a typed literal input's ``default``; anything else replaces the value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml
from pydantic import BaseModel

from shipyard.errors import InvalidSpec
from shipyard.specs._yaml_reader import parse_value

__all__ = ["apply_overrides", "parse_override"]

_DATA_TYPES = frozenset({"uri_file", "uri_folder", "mltable"})
_NAMED_MAPS = frozenset({"inputs", "outputs"})


def parse_override(arg: str) -> tuple[list[str], Any]:
    """Split ``a.b=value`` into its path and its YAML-scalar value."""
    path, sep, raw = arg.partition("=")
    keys = path.strip().split(".")
    if not sep or not all(k.strip() for k in keys):
        raise InvalidSpec(
            f"--set {arg!r}: expected path=value, e.g. inputs.C=0.5 or compute=azureml:cpu",
            field=path or None,
        )
    try:
        value = parse_value(raw, f"--set {path.strip()}") if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, (dict, list)):
        value = raw  # `--set tags.x=[a]` means the text, not a structure
    return [k.strip() for k in keys], value


def apply_overrides(
    data: dict[str, Any], overrides: Sequence[str], model: type[BaseModel], source: str
) -> dict[tuple[str, ...], str]:
    """Apply each override in place; return which key paths each ``--set`` touched."""
    touched: dict[tuple[str, ...], str] = {}
    fields = {f.alias or n for n, f in model.model_fields.items()}
    for arg in overrides:
        keys, value = parse_override(arg)
        if keys[0] not in fields:
            raise InvalidSpec(
                f"--set {arg}: the {getattr(model, 'spec_kind', 'spec')} has no field '{keys[0]}'",
                file=source,
                field=".".join(keys),
            )
        _set(data, keys, value, arg, source)
        touched[tuple(keys)] = f"--set {arg}"
    return touched


def _set(data: dict[str, Any], keys: list[str], value: Any, arg: str, source: str) -> None:
    node: dict[str, Any] = data
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key)
        if key not in node or child is None:
            if depth == 1 and keys[0] in _NAMED_MAPS:
                _unknown_named(node, keys, arg, source)
            child = node[key] = {}
        if not isinstance(child, dict):
            raise InvalidSpec(
                f"--set {arg}: '{'.'.join(keys[: depth + 1])}' is not a mapping in {source}",
                file=source,
                field=".".join(keys),
            )
        node = child
    last = keys[-1]
    if len(keys) == 2 and keys[0] in _NAMED_MAPS and last not in node:
        _unknown_named(node, keys, arg, source)
    current = node.get(last)
    if (
        isinstance(current, dict)
        and not isinstance(value, dict)
        and ("type" in current or keys[0] == "inputs")
    ):
        # An input without `type` is a uri_folder, as in Azure ML: the value is its path.
        slot = "path" if current.get("type", "uri_folder") in _DATA_TYPES else "default"
        current[slot] = value
    else:
        node[last] = value


def _unknown_named(node: dict[str, Any], keys: list[str], arg: str, source: str) -> None:
    what = keys[0][:-1]  # input / output
    declared = ", ".join(sorted(node)) or "none"
    raise InvalidSpec(
        f"--set {arg}: {source} declares no {what} '{keys[1]}' ({keys[0]}: {declared})",
        file=source,
        field=".".join(keys),
    )
