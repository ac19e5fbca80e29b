"""Shell completion: ``shipyard --install-completion`` for bash, zsh and fish, and the
completions each shell then asks the command for. No server: completion never calls one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SHIPYARD = Path(sys.executable).parent / "shipyard"


def shipyard(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SHIPYARD), *args], capture_output=True, text=True, env=env, timeout=60, check=False, cwd=cwd
    )


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """The environment of a user whose home folder is empty."""
    folder = tmp_path / "home"
    folder.mkdir()
    return {**os.environ, "HOME": str(folder)}


def test_bash_install_writes_a_script_that_bash_completes_with(home: dict[str, str]) -> None:
    # Run from bash, as a user would: the shell is detected from the parent process.
    done = subprocess.run(
        ["bash", "-c", f"{SHIPYARD} --install-completion"],
        capture_output=True, text=True, env=home, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    script = Path(home["HOME"]) / ".bash_completions" / "shipyard.sh"
    assert f"bash completion installed in {script}" in done.stdout
    assert f"source '{script}'" in (Path(home["HOME"]) / ".bashrc").read_text()
    # What bash does on <TAB>: source the script, call its function with the words typed.
    complete = (
        f"source {script}; "
        "COMP_WORDS=(shipyard batch-endpoint list-); COMP_CWORD=2; _shipyard_completion shipyard; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    env = {**home, "PATH": f"{SHIPYARD.parent}{os.pathsep}{home['PATH']}"}
    done = subprocess.run(
        ["bash", "-c", complete], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["list-jobs"]


def test_bash_completes_commands_subcommands_and_options(home: dict[str, str]) -> None:
    def words(line: str) -> list[str]:
        typed = line.split(" ")
        env = {
            **home,
            "_SHIPYARD_COMPLETE": "complete_bash",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(typed) - 1),
        }
        done = shipyard(env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert words("shipyard mod") == ["model"]
    assert {"list", "show", "history"} <= set(words("shipyard model "))
    assert words("shipyard run ") == ["list", "show", "replay"]
    assert "--columns" in words("shipyard run list --")
    assert words("shipyard experiment list --output ") == ["table", "json"]


@pytest.mark.parametrize(
    ("shell", "installed", "profile"),
    [
        ("zsh", ".zfunc/_shipyard", ".zshrc"),
        ("fish", ".config/fish/completions/shipyard.fish", None),
    ],
)
def test_zsh_and_fish_install_and_complete(
    home: dict[str, str], shell: str, installed: str, profile: str | None
) -> None:
    # Named instead of detected: neither shell need be on the machine that runs the tests.
    env = {**home, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    done = shipyard("--install-completion", shell, env=env)
    assert done.returncode == 0, done.stderr
    assert f"{shell} completion installed in" in done.stdout
    script = Path(home["HOME"]) / installed
    assert "_SHIPYARD_COMPLETE" in script.read_text()
    if profile is not None:
        assert ".zfunc" in (Path(home["HOME"]) / profile).read_text()
    asked = {
        **home,
        "_SHIPYARD_COMPLETE": f"complete_{shell}",
        "_TYPER_COMPLETE_ARGS": "shipyard run ",
    }
    if shell == "fish":
        asked["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    done = shipyard(env=asked)
    assert done.returncode == 0, done.stderr
    assert "list" in done.stdout and "show" in done.stdout
    assert "Search the runs of an experiment" in done.stdout  # each completion comes with its help
