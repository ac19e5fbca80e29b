"""Option values converted without pydantic (shipyard.cli._coerce): the same values and the
same complaints as Typer's own conversion, for every option of the command tree, and the
path a real command takes."""

from __future__ import annotations

import enum
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, get_origin

import pytest
from typer._click import Context
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param
from typer.main import get_command

from shipyard.cli._coerce import convert_parameter, convert_without_pydantic
from shipyard.cli.main import build_app

SAMPLES: dict[Any, list[Any]] = {
    str: ["", "iris", " spaced ", "naïve", "--x"],
    int: ["5", " 5 ", "5.0", "5.5", "1_000", "abc", "", "-3", "+4", "0x10", "\uff11\uff12", "0", "1", "-1"],
    float: [
        "0.05",
        "0.1",
        "2",
        "inf",
        "nan",
        "1e3",
        "abc",
        "",
        " 2 ",
        "1_0",
        "\uff11",
    ],  # fullwidth digits: not numbers to pydantic
    bool: ["true", "False", "1", "0", "yes", "off", "maybe", "", "T", "y", True, False],
    Path: ["a/b", "", ".", "~/x", "/tmp"],
    "choice": ["table", "JSON", "Json", "xml", "", "local", "primary"],
}


def _params() -> Iterator[tuple[str, Any]]:
    command = get_command(build_app())

    def walk(cmd: Any, path: str) -> Iterator[tuple[str, Any]]:
        for param in [*cmd.params, cmd.get_help_option(Context(cmd))]:
            if param is not None and getattr(param, "type_descriptor", None) is not None:
                yield f"{path} {param.name}", param
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            yield from walk(sub, f"{path} {name}")

    return walk(command, "shipyard")


def _outcome(runtime: Any, value: Any, param: Any) -> tuple[str, Any]:
    try:
        return "value", runtime.coerce(value, param=param, ctx=None)
    except BadParameter as exc:
        # pydantic says "Value error, …" before the message of a check it ran; the message is the same.
        return "error", exc.message.removeprefix("Value error, ")


def test_every_option_converts_as_typer_would() -> None:
    checked = 0
    for where, param in _params():
        descriptor = param.type_descriptor
        annotation = descriptor.annotation
        item = annotation.__args__[0] if getattr(annotation, "__origin__", None) is list else annotation
        is_choice = (isinstance(item, type) and issubclass(item, enum.Enum)) or get_origin(item) is Literal
        samples = SAMPLES["choice"] if is_choice else SAMPLES.get(item)
        assert samples is not None, f"{where}: no samples for {annotation!r}"
        typer_runtime = build_runtime_param(descriptor)
        assert convert_parameter(param), f"{where} is left to Typer"
        ours = param._runtime_param
        for sample in samples:
            value = [sample] if item is not annotation else sample
            expected = _outcome(typer_runtime, value, param)
            got = _outcome(ours, value, param)
            assert got == expected, f"{where} {sample!r}: {got} != Typer's {expected}"
            checked += 1
    assert checked > 1000


def test_the_whole_tree_is_converted_without_pydantic() -> None:
    command = get_command(build_app())
    total = sum(1 for _ in _params())
    assert convert_without_pydantic(command) == total


def test_a_command_imports_only_its_group_and_neither_pydantic_nor_httpx_cli(tmp_path: Path) -> None:
    # A closed port: the command fails at once, after everything it imports is imported.
    probe = (
        "import sys\n"
        "from shipyard.cli.main import main\n"
        "sys.argv = ['shipyard', 'experiment', 'list', '--url', 'http://127.0.0.1:9', '-o', 'json']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 1, e.code\n"
        "loaded = {m for m, module in sys.modules.items() if module is not None}\n"
        "heavy = sorted(m for m in loaded if m.split('.')[0] in ('pydantic', 'rich')"
        " or m in ('httpx._main', 'typer._adapters'))\n"
        "groups = sorted(m for m in loaded if m.startswith('shipyard.cli.') and not m.startswith('shipyard.cli._'))\n"
        "print(heavy, groups)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] ['shipyard.cli.experiments', 'shipyard.cli.main']"
    assert "cannot reach the Shipyard server" in done.stderr


def test_a_bad_value_is_a_usage_error_with_typers_words() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shipyard", "run", "list", "-e", "x", "--max-results", "0"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Invalid value for '--max-results': Input should be greater than or equal to 1" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "shipyard", "experiment", "list", "-o", "xml"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Invalid value for '--output' / '-o': 'xml' is not one of 'table', 'json'." in done.stderr


@pytest.mark.parametrize("value", ["5.5", "1e3"])
def test_whole_numbers_refuse_fractions(value: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shipyard", "run", "list", "-e", "x", "--max-results", value],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Input should be a valid integer" in done.stderr
