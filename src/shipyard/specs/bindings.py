"""``${{inputs.x}}`` / ``${{outputs.y}}`` in a job's command, and ``$[[ … ]]`` optional blocks.

A binding is replaced by the input's value (a literal, or the local path its data resolved
to) or the output's folder, shell-quoted. An optional block ``$[[--lr ${{inputs.lr}}]]`` is
kept (without its brackets) only when every input it mentions is given, and dropped otherwise,
as Azure ML does. ``${{search_space.<name>}}`` belongs to a sweep's trial command: inside
:func:`search_space_bindings` it is a binding to the named search space entry (replaced by
:func:`render_search_space` with the trial's sampled value), and elsewhere — a command job —
it is refused.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

from shipyard.errors import InvalidSpec

__all__ = [
    "Binding",
    "check_bindings",
    "find_bindings",
    "literal_text",
    "render_command",
    "render_search_space",
    "search_space_bindings",
]

_BINDING = re.compile(r"\$\{\{\s*(?P<expr>.*?)\s*\}\}")
_OPTIONAL = re.compile(r"\$\[\[(?P<body>.*?)\]\]", re.DOTALL)
_EXPR = re.compile(r"^(?P<kind>inputs|outputs)\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")
_SEARCH_SPACE_EXPR = re.compile(r"^search_space\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")

# The search space entries a trial command may bind to, while a sweep's trial is checked. A
# context variable rather than an argument: the check runs inside the command job's pydantic
# validator (and in the server's submission builder), which take no argument from the sweep.
_SEARCH_SPACE: ContextVar[frozenset[str] | None] = ContextVar("shipyard_search_space", default=None)

BindingKind = Literal["inputs", "outputs", "search_space"]


@dataclass(frozen=True)
class Binding:
    """One ``${{…}}`` in a command; ``optional`` when it sits inside a ``$[[ … ]]`` block."""

    kind: BindingKind
    name: str
    text: str
    optional: bool

    def __str__(self) -> str:
        return f"${{{{{self.kind}.{self.name}}}}}"


@contextmanager
def search_space_bindings(names: Collection[str]) -> Iterator[None]:
    """Within the block, ``${{search_space.<name>}}`` is a binding when ``name`` is one of
    ``names`` (a sweep's search space) and an InvalidSpec naming the entries when it is not."""
    token = _SEARCH_SPACE.set(frozenset(names))
    try:
        yield
    finally:
        _SEARCH_SPACE.reset(token)


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
        if b.kind == "search_space":
            continue  # checked against the search space as it was parsed
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


def render_search_space(command: str, values: Mapping[str, str]) -> str:
    """A trial's command: every ``${{search_space.<name>}}`` replaced by the trial's value of
    ``name``, shell-quoted; ``${{inputs.…}}``/``${{outputs.…}}`` and ``$[[…]]`` blocks are left
    for the job runner. A name without a value is an InvalidSpec."""

    def value(m: re.Match[str]) -> str:
        found = _SEARCH_SPACE_EXPR.match(m.group("expr"))
        if found is None:
            return m.group(0)
        if found["name"] not in values:
            raise InvalidSpec(f"{m.group(0)} in the trial command has no value", field="trial.command")
        return shlex.quote(values[found["name"]])

    return _BINDING.sub(value, command)


def _value(
    m: re.Match[str], *, optional: bool, inputs: Mapping[str, str | None], outputs: Mapping[str, str]
) -> str:
    b = _parse(m.group(0), m.group("expr"), optional)
    if b.kind == "search_space":
        value = None  # a trial's command has its values put in (render_search_space) first
    else:
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
        return _search_space_binding(text, expr, optional)
    raise InvalidSpec(
        f"{text} in the command is not a binding Shipyard understands; "
        "use ${{inputs.<name>}} or ${{outputs.<name>}}",
        field="command",
    )


def _search_space_binding(text: str, expr: str, optional: bool) -> Binding:
    names = _SEARCH_SPACE.get()
    if names is None:
        raise InvalidSpec(
            f"{text} in the command: search_space bindings belong to sweep jobs, not command jobs",
            field="command",
        )
    m = _SEARCH_SPACE_EXPR.match(expr)
    if m is None or m["name"] not in names:
        entries = ", ".join(sorted(names)) or "none"
        raise InvalidSpec(
            f"{text} in the trial command names no entry of the search space (search_space: {entries})",
            field="command",
        )
    return Binding(kind="search_space", name=m["name"], text=text, optional=optional)
