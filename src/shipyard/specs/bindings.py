"""``${{inputs.x}}`` / ``${{outputs.y}}`` in a job's command, and ``$[[ … ]]`` optional blocks.

A binding is replaced by the input's value (a literal, or the local path its data resolved
to) or the output's folder, shell-quoted. An optional block ``$[[--lr ${{inputs.lr}}]]`` is
kept (without its brackets) only when every input it mentions is given, and dropped otherwise,
as Azure ML does. ``${{search_space.…}}`` belongs to sweep jobs and is refused in a command job.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

from shipyard.errors import InvalidSpec

__all__ = ["Binding", "check_bindings", "find_bindings", "literal_text", "render_command"]

_BINDING = re.compile(r"\$\{\{\s*(?P<expr>.*?)\s*\}\}")
_OPTIONAL = re.compile(r"\$\[\[(?P<body>.*?)\]\]", re.DOTALL)
_EXPR = re.compile(r"^(?P<kind>inputs|outputs)\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")


@dataclass(frozen=True)
class Binding:
    """One ``${{…}}`` in a command; ``optional`` when it sits inside a ``$[[ … ]]`` block."""

    kind: Literal["inputs", "outputs"]
    name: str
    text: str
    optional: bool

    def __str__(self) -> str:
        return f"${{{{{self.kind}.{self.name}}}}}"


def find_bindings(command: str) -> list[Binding]:
    """Every binding of the command, in order; malformed or sweep-only ones raise InvalidSpec."""
    found: list[Binding] = []
    for block_optional, segment in _segments(command):
        for m in _BINDING.finditer(segment):
            found.append(_parse(m.group(0), m.group("expr"), block_optional))
    return found


def check_bindings(
    command: str,
    inputs: Collection[str],
    outputs: Collection[str],
    given: Collection[str] | None = None,
) -> list[Binding]:
    """Refuse bindings to undeclared inputs/outputs and required inputs that are not given.

    ``given`` is the names of inputs that have a value (default: all declared inputs).
    """
    given = inputs if given is None else given
    bindings = find_bindings(command)
    for b in bindings:
        declared = inputs if b.kind == "inputs" else outputs
        if b.name not in declared:
            names = ", ".join(sorted(declared)) or "none"
            raise InvalidSpec(
                f"{b.text} in the command: the job declares no {b.kind[:-1]} '{b.name}' ({b.kind}: {names})",
                field="command",
            )
        if b.kind == "inputs" and not b.optional and b.name not in given:
            raise InvalidSpec(
                f"{b.text} in the command: input '{b.name}' has no value; give it one, "
                f"or put the option inside an optional block: $[[--{b.name} {b.text}]]",
                field="command",
            )
    return bindings


def literal_text(value: bool | int | float | str) -> str:
    """A literal input as the command gets it: ``True``/``False``, ``0.5``, text unchanged (as Azure ML)."""
    return str(value)


def render_command(command: str, inputs: Mapping[str, str | None], outputs: Mapping[str, str]) -> str:
    """The command with every binding replaced by its shell-quoted value.

    An input whose value is None (or absent) is "not given": its optional blocks are dropped,
    and a binding to it outside such a block is an InvalidSpec naming it.
    """
    out: list[str] = []
    for block_optional, segment in _segments(command):
        bindings = [_parse(m.group(0), m.group("expr"), block_optional) for m in _BINDING.finditer(segment)]
        if block_optional and any(b.kind == "inputs" and inputs.get(b.name) is None for b in bindings):
            continue
        out.append(
            _BINDING.sub(
                functools.partial(_value, optional=block_optional, inputs=inputs, outputs=outputs), segment
            )
        )
    return "".join(out)


def _value(
    m: re.Match[str], *, optional: bool, inputs: Mapping[str, str | None], outputs: Mapping[str, str]
) -> str:
    b = _parse(m.group(0), m.group("expr"), optional)
    value = inputs.get(b.name) if b.kind == "inputs" else outputs.get(b.name)
    if value is None:
        raise InvalidSpec(f"{b.text} in the command has no value to put there", field="command")
    return shlex.quote(value)


def _segments(command: str) -> list[tuple[bool, str]]:
    """Split the command into (inside-an-optional-block, text) pieces."""
    pieces: list[tuple[bool, str]] = []
    pos = 0
    for m in _OPTIONAL.finditer(command):
        pieces.append((False, command[pos : m.start()]))
        pieces.append((True, m.group("body")))
        pos = m.end()
    pieces.append((False, command[pos:]))
    for _, text in pieces:
        if "$[[" in text:
            raise InvalidSpec(
                "an optional block '$[[' in the command is not closed by ']]' (or is nested)",
                field="command",
            )
    return pieces


def _parse(text: str, expr: str, optional: bool) -> Binding:
    m = _EXPR.match(expr)
    if m is not None:
        kind: Literal["inputs", "outputs"] = "inputs" if m["kind"] == "inputs" else "outputs"
        return Binding(kind=kind, name=m["name"], text=text, optional=optional)
    if expr.startswith("search_space."):
        raise InvalidSpec(
            f"{text} in the command: search_space bindings belong to sweep jobs, not command jobs",
            field="command",
        )
    raise InvalidSpec(
        f"{text} in the command is not a binding Shipyard understands; "
        "use ${{inputs.<name>}} or ${{outputs.<name>}}",
        field="command",
    )
