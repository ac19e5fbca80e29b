"""The uv command lines a build runs, run with their output streamed, and why one failed.

uv reads its own configuration as it does for ``make install``: ``UV_*`` variables
(``UV_DEFAULT_INDEX``, ``UV_INDEX_URL``…) and ``uv.toml``; it does not read pip's config.
It never downloads a Python here (``--python-preference only-system --no-python-downloads``):
a build installs the requested packages and nothing else.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from shipyard.services.environment_ports import EnvironmentRequest, server_python_version

_NO_COLOUR = ["--color", "never", "--no-progress"]
_NO_DOWNLOADED_PYTHON = ["--python-preference", "only-system", "--no-python-downloads"]
_PYTHON_MISSING = re.compile(
    r"No interpreter found|Failed to inspect Python interpreter|"
    r"No Python at|not satisfy the request|Python .* not found",
    re.IGNORECASE,
)


Emit = Callable[[str], None]


class UvFailed(Exception):
    """A uv step exited non-zero; ``step`` is ``"venv"`` or ``"install"``."""

    def __init__(self, step: str, returncode: int) -> None:
        super().__init__(f"uv {step} exited with status {returncode}")
        self.step = step
        self.returncode = returncode


def base_python(request: EnvironmentRequest) -> str:
    """What ``uv venv --python`` gets: the server's own interpreter when the versions agree."""
    if request.python is None or request.python_version == server_python_version():
        return sys.executable
    return request.python


def venv_command(uv: Path, target: Path, python: str) -> list[str]:
    # --relocatable: the venv is built in a temporary folder and renamed into the cache, so
    # its entry-point scripts must not hard-code the folder they were built in.
    return [
        str(uv), "venv", "--relocatable", "--python", python,
        *_NO_DOWNLOADED_PYTHON, *_NO_COLOUR, str(target),
    ]  # fmt: skip


def install_command(
    uv: Path, python: Path, requirements_file: Path, request: EnvironmentRequest
) -> list[str]:
    indexes = [arg for url in request.extra_index_urls for arg in ("--extra-index-url", url)]
    return [
        str(uv), "pip", "install", "--python", str(python), "--compile-bytecode",
        *_NO_DOWNLOADED_PYTHON, *_NO_COLOUR, *indexes, "-r", str(requirements_file),
    ]  # fmt: skip


def run(command: Sequence[str], step: str, emit: Emit, env: dict[str, str]) -> None:
    """Run ``command``, passing each line of its stdout and stderr to ``emit`` as it comes."""
    emit("$ " + " ".join(command))
    try:
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            errors="replace",
            bufsize=1,
        )
    except OSError as exc:  # no uv binary, or not executable
        emit(f"error: could not start uv: {exc}")
        raise UvFailed(step, -1) from exc
    with proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            emit(line.rstrip("\n"))
    if proc.returncode != 0:
        raise UvFailed(step, proc.returncode)


def uv_environment(uv_cache_dir: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    # Builds always name their interpreter; a VIRTUAL_ENV inherited from the server must not steer uv.
    env.pop("VIRTUAL_ENV", None)
    if uv_cache_dir is not None:
        env["UV_CACHE_DIR"] = str(uv_cache_dir)
    return env


def failure_message(
    failed: UvFailed, request: EnvironmentRequest, lines: Sequence[str], log_path: Path
) -> str:
    """What went wrong, in uv's words, and what the user should change."""
    reason = _reason(lines)
    if failed.step == "venv":
        if _PYTHON_MISSING.search("\n".join(lines)):
            return (
                f"Python {request.python_version} is not available on this server, and Shipyard "
                "does not download interpreters. Ask for an installed version (the server runs "
                f"{server_python_version()}) or leave the Python version out. Build log: {log_path}"
            )
        return (
            f"Could not create a Python {request.python_version} environment: {reason}. Build log: {log_path}"
        )
    culprits = _culprits(request, lines)
    if culprits:
        named = ", ".join(repr(c) for c in culprits)
        return (
            f"Could not install the requirements: {reason}. Check {named}: the package or the "
            f"version may not exist on the package index, or not for Python "
            f"{request.python_version}. Build log: {log_path}"
        )
    return f"Could not install the requirements: {reason}. Build log: {log_path}"


def _reason(lines: Sequence[str]) -> str:
    """uv's own explanation: the ``error:`` line and its ``cause:`` lines."""
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("error:")), None)
    if start is None:
        tail = [line.strip() for line in lines if line.strip()]
        return tail[-1] if tail else "uv failed without output"
    picked = [lines[start].strip().removeprefix("error:").strip()]
    picked += [line.strip() for line in lines[start + 1 : start + 6] if line.strip()]
    return " ".join(picked).rstrip(".")


def _culprits(request: EnvironmentRequest, lines: Sequence[str]) -> list[str]:
    """The requested requirements whose package name uv's error (not its progress) mentions."""
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("error:")), 0)
    text = re.sub(r"[-_.]+", "-", "\n".join(lines[start:]).lower())
    found = []
    for requirement in request.requirements:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        name = re.escape(re.sub(r"[-_.]+", "-", match.group(1).lower())) if match else None
        if name and re.search(rf"(?<![a-z0-9-]){name}(?![a-z0-9-])", text):
            found.append(requirement.strip())
    return found
