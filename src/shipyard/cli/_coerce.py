"""Option values converted without pydantic: a large part of what keeps a command's start short.

Typer (0.2x) converts every option value through a pydantic ``TypeAdapter`` built on first
use; importing pydantic and building the adapters costs about 0.1 s per command — as much as
the HTTP client's import. Shipyard's options are plain: text, whole and decimal numbers with
bounds, flags, paths, lists of text and enums. :func:`convert_without_pydantic` gives each such
parameter a converter built from the standard library that returns the same values and says
the same things about bad ones (``tests/unit/test_cli_coercion.py`` compares both over every
option of the tree), and leaves anything else to Typer.

It reaches into Typer's parameter objects (``type_descriptor``, ``_runtime_param``): when a
Typer release changes them, nothing is converted here and Typer's own path runs, slower but
right — and the test that checks this path is taken fails, so it is noticed.
"""

from __future__ import annotations

import enum
import functools
import math
import os
import re
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["convert_parameter", "convert_without_pydantic", "converter_for"]

_INT = re.compile(r"[+-]?\d+(?:_\d+)*(?:\.0*)?", re.ASCII)
_NOT_INT = "Input should be a valid integer, unable to parse string as an integer"
_NOT_FLOAT = "Input should be a valid number, unable to parse string as a number"
_NOT_BOOL = "Input should be a valid boolean, unable to interpret input"
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no", ""})


def _text(value: Any) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else str(value)


def _integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = _text(value).strip()
    if not _INT.fullmatch(text):
        raise ValueError(_NOT_INT)
    return int(text.split(".", 1)[0])


def _decimal(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = _text(value).strip()
    try:
        if not text.isascii():  # float() reads other scripts' digits; pydantic does not
            raise ValueError(text)
        return float(text)
    except ValueError:
        raise ValueError(_NOT_FLOAT) from None


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(_NOT_BOOL)


def _bounded(convert: Callable[[Any], float], low: float | None, high: float | None) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        number = convert(value)
        if low is not None and (math.isnan(number) or number < low):
            raise ValueError(f"Input should be greater than or equal to {low}")
        if high is not None and (math.isnan(number) or number > high):
            raise ValueError(f"Input should be less than or equal to {high}")
        return number

    return check


def converter_for(annotation: Any, info: Any) -> Callable[..., Any] | None:
    """How to convert one value of ``annotation`` (Typer's ``ParameterInfo`` in ``info``), or
    None when Typer should do it. Paths and choices take ``(value, param, ctx)``."""
    from typer._param_types import coerce_cli_choice, coerce_cli_path

    if getattr(info, "parser", None) is not None or getattr(info, "clamp", False):
        return None
    if annotation is str:
        return lambda value, param, ctx: _text(value)
    if annotation is bool:
        return lambda value, param, ctx: _flag(value)
    if annotation in (int, float):
        plain = _integer if annotation is int else _decimal
        convert = _bounded(plain, info.min, info.max) if (info.min, info.max) != (None, None) else plain
        return lambda value, param, ctx: convert(value)
    if annotation is Path and getattr(info, "path_type", None) in (None, Path):
        # Typer's own checks (exists, dir_okay…) after the conversion pydantic would have done.
        return lambda value, param, ctx: coerce_cli_path(
            value if isinstance(value, Path) else Path(_text(value)),
            info,
            path_type=Path,
            param=param,
            ctx=ctx,
        )
    choices: tuple[Any, ...] | None = None
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        choices = tuple(annotation)
    elif typing.get_origin(annotation) is typing.Literal:
        choices = typing.get_args(annotation)
    if choices is not None:
        return lambda value, param, ctx: coerce_cli_choice(
            value, choices=choices, case_sensitive=info.case_sensitive, ctx=ctx
        )
    return None


def _parameters(command: Any, context: Callable[[Any], Any]) -> Iterator[Any]:
    yield from command.params
    # --help too: a flag made (and cached) on first use, converted like any other.
    help_option = command.get_help_option(context(command))
    if help_option is not None:
        yield help_option
    for sub in (getattr(command, "commands", None) or {}).values():
        yield from _parameters(sub, context)


def convert_without_pydantic(command: Any) -> int:
    """Give every plain parameter of ``command`` and its subcommands a standard-library
    converter; how many were given one (0 when this Typer's internals are not the known ones)."""
    try:
        from typer._click import Context
    except ImportError:  # another Typer: its own conversion runs
        return 0
    return sum(convert_parameter(param) for param in _parameters(command, Context))


def convert_parameter(param: Any) -> bool:
    """:func:`convert_without_pydantic` for one parameter: whether it was given a converter."""
    runtime = _runtime_class()
    descriptor = getattr(param, "type_descriptor", None)
    if runtime is None or descriptor is None or getattr(param, "_runtime_param", False) is not None:
        return False
    from typer._typing import get_args, get_origin

    annotation, info = descriptor.annotation, descriptor.parameter_info
    if get_origin(annotation) is list and len(get_args(annotation)) == 1:
        annotation = get_args(annotation)[0]
    elif get_origin(annotation) not in (None, typing.Literal) or descriptor.file_annotation is not None:
        return False
    convert = converter_for(annotation, info)
    if convert is None:
        return False
    param._runtime_param = runtime(parameter_info=info, annotation=descriptor.annotation, convert=convert)
    return True


@functools.cache
def _runtime_class() -> Any:
    """Typer's runtime-conversion class with our converter inside; None for another Typer."""
    try:
        from typer._click.exceptions import BadParameter
        from typer._coercion import RuntimeParam
    except ImportError:
        return None

    @dataclass(frozen=True)
    class Plain(RuntimeParam):
        convert: Callable[..., Any]

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                if isinstance(value, list | tuple):
                    return [self.convert(item, param, ctx) for item in value]
                return self.convert(value, param, ctx)
            except ValueError as exc:
                raise BadParameter(str(exc), ctx=ctx, param=param) from None

    return Plain
