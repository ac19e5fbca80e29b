"""YAML text → plain values whose mappings remember their lines, in bounded time and memory.

A spec file is read by the CLI before anything is sent, so a mistaken or hostile file must end
in an :class:`InvalidSpec` naming the file and the line, never in a traceback:

- at most :data:`MAX_SPEC_BYTES` (a spec is a few kilobytes; a megabyte is a wrong file);
- at most :data:`MAX_SPEC_DEPTH` levels of nesting (PyYAML's composer and constructor recurse,
  so 5,000 levels raised RecursionError, and deeper ones could overflow the C stack);
- at most :data:`MAX_SPEC_VALUES` values once aliases are expanded (a few lines of ``&a``/``*a``
  can stand for billions of values, which sending the spec as JSON would write out);
- integers within 64 bits (the server stores them in 64 bits; the SDK's JSON encoder refuses
  more), and no lone surrogate (PyYAML's pure-Python scanner accepts ``"\\ud800"``).

The values are built straight from libyaml's parse events in one pass with an explicit stack:
no node graph, no recursion. That is linear (0.17 / 0.32 / 0.66 s for 0.5 / 1 / 2 MB of short
integer inputs) and 7-11x faster than PyYAML's pure-Python SafeLoader, which the previous
reader subclassed: it took 8.1 s on a 2 MB job file, 4.8 s on 1 MiB (``benchmarks/spec_files.py``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

from shipyard.domain.validation import INT64_MAX, INT64_MIN, describe_char, find_surrogate
from shipyard.errors import InvalidSpec

__all__ = [
    "MAX_SPEC_BYTES",
    "MAX_SPEC_DEPTH",
    "MAX_SPEC_VALUES",
    "LineDict",
    "check_size",
    "load_mapping",
    "parse_value",
    "read_text",
]

MAX_SPEC_BYTES = 1024 * 1024
MAX_SPEC_DEPTH = 64
MAX_SPEC_VALUES = 1_000_000

# libyaml when PyYAML was built with it (the wheels are); the pure-Python parser otherwise.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_COLLECTION_TAGS = frozenset({None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


class LineDict(dict[str, Any]):
    """A mapping from a YAML file: ``line`` is where it starts, ``key_lines[k]`` where key k is."""

    line: int | None
    key_lines: dict[str, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = None
        self.key_lines = {}


def check_size(size: int, source: str) -> None:
    if size > MAX_SPEC_BYTES:
        raise InvalidSpec(
            f"{source} is {size / 1024**2:.1f} MiB; a spec file may be at most"
            f" {MAX_SPEC_BYTES // 1024**2} MiB ({MAX_SPEC_BYTES} bytes)",
            file=source,
        )


def read_text(path: Path) -> str:
    """A spec file's text; a missing, unreadable, oversized or non-UTF-8 file is an InvalidSpec."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)  # never more: the file may be huge, or endless
            size = (
                len(raw) if len(raw) <= MAX_SPEC_BYTES else max(len(raw), os.fstat(handle.fileno()).st_size)
            )
    except FileNotFoundError:
        raise InvalidSpec(f"{path}: no such file", file=str(path)) from None
    except OSError as exc:
        raise InvalidSpec(f"{path}: cannot be read: {exc}", file=str(path)) from None
    check_size(size, str(path))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidSpec(f"{path}: cannot be read: {exc}", file=str(path)) from None


def parse_value(text: str, source: str) -> Any:
    """One YAML document's value (None when empty), within the limits above.

    A limit is an :class:`InvalidSpec` with its line; text that is not YAML at all is PyYAML's
    own ``yaml.YAMLError``, so a caller can fall back to reading it as plain text.
    """
    check_size(len(text.encode("utf-8", "surrogatepass")), source)
    return _Builder(text, source).build()


def load_mapping(text: str, source: str = "<string>") -> LineDict:
    """Parse YAML text whose top level must be a mapping; keys keep their lines."""
    try:
        data = parse_value(text, source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        where = f" line {line}" if line else ""
        hint = ""
        if line and "{{" in (text.splitlines()[line - 1 : line] or [""])[0]:
            hint = "; '{{…}}' is a placeholder the example's script fills in: put a value there first"
        raise InvalidSpec(
            f"{source}{where}: not valid YAML: {exc.problem}{hint}", file=source, line=line
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidSpec(f"{source}: not valid YAML: {exc}", file=source) from None
    if not isinstance(data, LineDict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise InvalidSpec(f"{source}: the top level must be a mapping of fields, got {got}", file=source)
    return data


class _Open:
    """A mapping or sequence being filled; ``size`` counts its values, aliases expanded."""

    __slots__ = ("anchor", "key", "key_line", "merges", "size", "value")

    def __init__(self, value: LineDict | list[Any], anchor: str | None) -> None:
        self.value = value
        self.anchor = anchor
        self.size = 1
        self.key: Any = _NO_KEY
        self.key_line = 0
        self.merges: list[LineDict] = []


_NO_KEY = object()


class _Builder:
    def __init__(self, text: str, source: str) -> None:
        self.loader = _Loader(text)
        self.source = source
        self.stack: list[_Open] = []
        self.anchors: dict[str, tuple[Any, int]] = {}

    def build(self) -> Any:
        try:
            return self._run()
        finally:
            self.loader.dispose()

    def _run(self) -> Any:
        root: Any = None
        documents = 0
        while True:
            event = self.loader.get_event()
            if isinstance(event, StreamEndEvent):
                return root
            if isinstance(event, DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise self._error(event, "a spec file holds one document; found a second '---'")
            elif isinstance(event, CollectionStartEvent):
                self._open(event)
            elif isinstance(event, ScalarEvent | AliasEvent | MappingEndEvent | SequenceEndEvent):
                value, size = self._value(event)
                if self.stack:
                    self._attach(event, value, size)
                else:
                    root = value

    def _open(self, event: CollectionStartEvent) -> None:
        if event.tag not in _COLLECTION_TAGS:
            raise self._error(event, f"tag {event.tag} is not supported in a spec file")
        if len(self.stack) >= MAX_SPEC_DEPTH:
            raise self._error(event, f"nested deeper than {MAX_SPEC_DEPTH} levels")
        value: LineDict | list[Any]
        if isinstance(event, MappingStartEvent):
            value = LineDict()
            value.line = _line(event)
        else:
            value = []
        self.stack.append(_Open(value, event.anchor))

    def _value(self, event: Event) -> tuple[Any, int]:
        """The finished value an event gives, with its size once aliases are expanded."""
        if isinstance(event, ScalarEvent):
            value = self._scalar(event)
            if event.anchor:
                self.anchors[event.anchor] = (value, 1)
            return value, 1
        if isinstance(event, AliasEvent):
            if any(o.anchor == event.anchor for o in self.stack):
                raise self._error(event, f"alias *{event.anchor} refers to a mapping or list that holds it")
            if event.anchor not in self.anchors:
                raise self._error(event, f"alias *{event.anchor} has no anchor &{event.anchor} before it")
            return self.anchors[event.anchor]
        done = self.stack.pop()
        if done.merges:
            assert isinstance(done.value, LineDict)
            _merge(done.value, done.merges)
        if done.anchor:
            self.anchors[done.anchor] = (done.value, done.size)
        return done.value, done.size

    def _attach(self, event: Event, value: Any, size: int) -> None:
        # Sizes add up to the root as collections close, so checking the receiving one is enough.
        parent = self.stack[-1]
        parent.size += size
        if parent.size > MAX_SPEC_VALUES:
            raise self._error(
                event, f"the file expands to more than {MAX_SPEC_VALUES:,} values through aliases"
            )
        if isinstance(parent.value, list):
            parent.value.append(value)
        elif parent.key is _NO_KEY:
            parent.key = _MERGE if _is_merge(event) else value if isinstance(value, str) else str(value)
            parent.key_line = _line(event)
        else:
            self._put(parent, event, value, size)
            parent.key = _NO_KEY

    def _put(self, parent: _Open, event: Event, value: Any, size: int) -> None:
        out, key, line = parent.value, parent.key, parent.key_line
        assert isinstance(out, LineDict)
        if key is _MERGE:
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(item, LineDict) for item in items):
                raise self._error(event, "'<<' merges a mapping or a list of mappings")
            parent.merges.extend(items)
            return
        if key in out:
            raise InvalidSpec(
                f"{self.source} line {line}: duplicated key '{key}' (first at line {out.key_lines[key]})",
                file=self.source,
                line=line,
                field=key,
            )
        out[key] = value
        out.key_lines[key] = line

    def _scalar(self, event: ScalarEvent) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(ScalarNode, event.value, event.implicit)
        if tag in (_STR, _MERGE):
            value: Any = event.value
        else:
            start: Any = event.start_mark  # libyaml's marks quack like PyYAML's
            end: Any = event.end_mark
            node = ScalarNode(tag, event.value, start, end, event.style)
            construct = self.loader.yaml_constructors.get(tag) or self.loader.yaml_constructors[None]
            value = construct(self.loader, node)
        if isinstance(value, str):
            ch = find_surrogate(value)
            if ch is not None:
                raise self._error(event, f"{describe_char(ch)} is a lone surrogate, not a character")
        elif type(value) is int and not INT64_MIN <= value <= INT64_MAX:
            shown = event.value if len(event.value) <= 40 else f"{event.value[:20]}…"
            raise self._error(
                event,
                f"{shown} does not fit in 64 bits ({INT64_MIN}..{INT64_MAX}); quote it to keep it as text",
            )
        return value

    def _error(self, event: Event, problem: str) -> InvalidSpec:
        line = _line(event)
        return InvalidSpec(f"{self.source} line {line}: {problem}", file=self.source, line=line)


def _line(event: Event) -> int:
    return 0 if event.start_mark is None else event.start_mark.line + 1


def _is_merge(event: Event) -> bool:
    return isinstance(event, ScalarEvent) and event.tag is None and event.implicit[0] and event.value == "<<"


def _merge(out: LineDict, merges: list[LineDict]) -> None:
    """YAML's merge key: the mapping's own keys win, then the first mapping merged."""
    for merged in merges:
        for key, value in merged.items():
            if key not in out:
                out[key] = value
                out.key_lines[key] = merged.key_lines.get(key, merged.line or 0)
