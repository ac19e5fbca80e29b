"""Usage mistakes never look like crashes: every command that reads a file, given a missing
one, a folder, binary bytes or broken YAML/JSON, ends with ``error: MESSAGE (CODE)`` (or a
usage error) and no traceback. The commands run in-process through the real entry point
(``shipyard.cli.main.main``, with its last-resort handler) against one real server."""

from __future__ import annotations

import enum
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest
from typer.core import TyperArgument, TyperGroup
from typer.main import get_command

from shipyard.cli import main as cli_main
from tests.conftest import ServerProcess

_ERROR = re.compile(r"^error: .+ \([A-Z_]+\)$", re.MULTILINE)
# up and serve start servers; they are the server's, tested with it.
_SKIP = {("up",), ("serve",)}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("errors") / "home").start()
    try:
        yield proc
    finally:
        proc.stop()


def _leaves() -> Iterator[tuple[tuple[str, ...], Any]]:
    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
        if isinstance(command, TyperGroup):
            for name, sub in command.commands.items():
                yield from walk(sub, (*path, name))
        elif path not in _SKIP:
            yield path, command

    return walk(get_command(cli_main.build_app()), ())


def _dummy(param: Any) -> str:
    annotation = param.type_descriptor.annotation
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return str(next(iter(annotation)).value)
    if get_origin(annotation) is Literal:
        return str(get_args(annotation)[0])
    if annotation in (int, float):
        return "1"
    return "x"


def _argv(path: tuple[str, ...], command: Any, target: Any, value: str) -> list[str]:
    """The command with ``target`` set to ``value`` and every other required parameter set."""
    args: list[str] = list(path)
    for param in command.params:
        if param is not target and not param.required:
            continue
        text = value if param is target else _dummy(param)
        args += [text] if isinstance(param, TyperArgument) else [param.opts[0], text]
    return args


def _file_params() -> list[tuple[str, list[str], Any]]:
    cases = []
    for path, command in _leaves():
        for param in command.params:
            if (
                getattr(param, "type_descriptor", None) is not None
                and param.type_descriptor.annotation is Path
            ):
                cases.append((f"{' '.join(path)} {param.name}", list(path), (command, param)))
    return cases


FILE_PARAMS = _file_params()
BAD_FILES = {
    "missing": None,
    "folder": "",
    "binary": b"\xff\xfe\x00\x81 not text",
    "broken yaml or json": b'name: [unclosed\n{"also": not json',
}


def _write(tmp_path: Path, kind: str) -> str:
    content = BAD_FILES[kind]
    if content is None:
        return str(tmp_path / "missing.yml")
    if content == "":
        folder = tmp_path / "a-folder"
        folder.mkdir()
        (folder / "keep").write_text("so the folder is not empty")
        return str(folder)
    assert isinstance(content, bytes)
    target = tmp_path / "bad.yml"
    target.write_bytes(content)
    return str(target)


def run_main(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["shipyard", *args])
    try:
        cli_main.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_commands_that_read_files_are_all_here() -> None:
    names = {case[0] for case in FILE_PARAMS}
    assert {
        "job create file",
        "model create file",
        "online-endpoint invoke request_file",
        "login token_file",
    } <= names


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(BAD_FILES))
@pytest.mark.parametrize(("name", "path", "target"), FILE_PARAMS, ids=[c[0] for c in FILE_PARAMS])
def test_a_bad_file_is_a_clean_error(
    server: ServerProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    path: list[str],
    target: tuple[Any, Any],
    kind: str,
) -> None:
    command, param = target
    monkeypatch.setenv("SHIPYARD_URL", server.url)
    monkeypatch.setenv("HOME", str(tmp_path))  # `login` stores a credential there
    monkeypatch.chdir(tmp_path)
    code, printed = run_main(_argv(tuple(path), command, param, _write(tmp_path, kind)), monkeypatch, capsys)
    assert "Traceback" not in printed, printed
    if code == 0:
        # Writing into a folder, or creating one, is what --download-path and init are for;
        # a secret's value is any text.
        accepted = {"download_path": ("missing", "folder"), "directory": ("missing", "folder")}
        accepted["value_file"] = ("broken yaml or json",)
        assert kind in accepted.get(param.name, ()), printed
        return
    assert code in (1, 2), printed
    assert _ERROR.search(printed) or "Usage:" in printed, printed


def test_an_unknown_option_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, printed = run_main(["model", "list", "--colums", "name"], monkeypatch, capsys)
    assert code == 2
    assert "No such option: --colums" in printed
    assert "(Possible options: --columns)" in printed


def test_an_error_raised_before_connecting_is_printed_with_its_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # role create reads its file before it connects: the entry point's last resort prints it.
    monkeypatch.setenv("SHIPYARD_URL", "http://127.0.0.1:9")
    bad = tmp_path / "role.yml"
    bad.write_text("name: r\npermissions: [nope]\n")
    code, printed = run_main(["role", "create", "-f", str(bad)], monkeypatch, capsys)
    assert code == 1
    assert _ERROR.search(printed), printed
    assert "role.yml" in printed


def test_a_token_with_a_line_break_is_refused_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # httpx would refuse the header, and the CLI once said it could not reach the server.
    token_file = tmp_path / "token.txt"
    token_file.write_text("shy_first_line\nsecond line\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    code, printed = run_main(
        ["login", "--url", "http://127.0.0.1:9", "--token-file", str(token_file)], monkeypatch, capsys
    )
    assert code == 1
    assert "error: the token is not one word of visible characters" in printed
    assert "(INVALID_ARGUMENT)" in printed
    assert "cannot reach" not in printed
