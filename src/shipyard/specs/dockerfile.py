"""What a Docker build context says about its Python: read, never built.

Shipyard runs no container engine. An environment's ``build:`` context still says a lot
about the Python a job needs: a ``FROM python:3.8`` image pins the interpreter, and the
``pip install`` (and ``conda install``) commands of its ``RUN`` steps list the packages.
Those become the environment's spec; every other step (``apt-get install``, ``COPY``,
``ENV``…) is not run, and the notes say so — what such steps install must already be on
the host that runs the job.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import InvalidSpec
from shipyard.specs.conda import conda_to_pip

__all__ = ["DockerfilePython", "read_dockerfile"]

_FROM_PYTHON = re.compile(r"^(?:docker\.io/)?(?:library/)?python:(?P<major>\d)\.(?P<minor>\d{1,2})")
_PIP = ("pip", "pip3")
# pip options that take a value (skipped with it), and those that are flags.
_PIP_VALUE_OPTIONS = frozenset(
    {"-c", "--constraint", "-f", "--find-links", "--target", "-t", "--prefix", "--root", "--timeout"}
)
_SEPARATORS = frozenset({"&&", "||", ";", "|"})
_MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class DockerfilePython:
    """The interpreter (from ``FROM python:X.Y``), the packages its RUN steps install, and notes."""

    python: str | None
    requirements: tuple[str, ...]
    extra_index_urls: tuple[str, ...]
    requirement_files: tuple[Path, ...]
    notes: tuple[str, ...]


def read_dockerfile(path: Path, context: Path) -> DockerfilePython:
    """Read the Dockerfile at ``path``; ``-r file`` requirements are looked up in ``context``."""
    try:
        raw = path.read_bytes()[:_MAX_BYTES].decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidSpec(f"the Dockerfile {path} cannot be read: {exc}", field="build") from None
    python: str | None = None
    base: str | None = None
    requirements: list[str] = []
    index_urls: list[str] = []
    files: list[Path] = []
    skipped: list[str] = []
    for instruction, argument in _instructions(raw):
        if instruction == "FROM":
            base = argument.split()[0] if argument.split() else argument
            m = _FROM_PYTHON.match(base)
            python = f"{m['major']}.{m['minor']}" if m else python
        elif instruction == "RUN":
            for command in _commands(argument):
                if not _install(command, context, requirements, index_urls, files):
                    skipped.append(f"RUN {command[0].split('/')[-1]}")
        elif instruction not in ("ENV", "ARG", "LABEL", "WORKDIR", "USER", "SHELL"):
            skipped.append(instruction)
    notes = [f"build: the Docker image is not built; {path.name} is read for its Python packages"]
    if base and python is None:
        notes.append(f"build: base image '{base}' is not pulled; the job runs on the server's host")
    if skipped:
        shown = ", ".join(dict.fromkeys(skipped))
        notes.append(f"build: steps not run ({shown}): what they install must be on the server's host")
    return DockerfilePython(
        python=python,
        requirements=tuple(requirements),
        extra_index_urls=tuple(index_urls),
        requirement_files=tuple(files),
        notes=tuple(notes),
    )


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, argument) per logical line: continuations joined, comments dropped."""
    out: list[tuple[str, str]] = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued RUN
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        word, _, rest = current.partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    if current.strip():
        word, _, rest = current.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _commands(argument: str) -> list[list[str]]:
    """The simple commands of a RUN step's shell line (split on &&, ||, ;, |)."""
    if argument.startswith("["):
        argument = " ".join(re.findall(r'"((?:[^"\\]|\\.)*)"', argument))
    try:
        lexer = shlex.shlex(argument, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        return [argument.split()]
    commands: list[list[str]] = [[]]
    for token in tokens:
        if token in _SEPARATORS:
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def _install(
    command: list[str], context: Path, requirements: list[str], index_urls: list[str], files: list[Path]
) -> bool:
    """Take the packages of a ``pip install`` / ``conda install`` command; False for any other."""
    words = list(command)
    while words and ("=" in words[0] and not words[0].startswith("-")):
        words.pop(0)  # VAR=value prefixes
    if len(words) >= 3 and words[0].split("/")[-1].startswith("python") and words[1:3] == ["-m", "pip"]:
        words = words[2:]
    if len(words) >= 2 and words[0].split("/")[-1] in _PIP and words[1] == "install":
        _pip_args(words[2:], context, requirements, index_urls, files)
        return True
    if (
        len(words) >= 2
        and words[0].split("/")[-1] in ("conda", "mamba", "micromamba")
        and words[1] == "install"
    ):
        packages = [
            w for w in _skip_options(words[2:], {"-c", "--channel", "-n", "--name", "-p", "--prefix"})
        ]
        names = [p for p in packages if p.split("=")[0] not in ("python", "pip")]
        requirements.extend(conda_to_pip(names, field="build").requirements)
        return True
    return False


def _pip_args(
    args: list[str], context: Path, requirements: list[str], index_urls: list[str], files: list[Path]
) -> None:
    i = 0
    while i < len(args):
        arg = args[i]
        value = args[i + 1] if i + 1 < len(args) else ""
        if arg in ("-r", "--requirement"):
            candidate = context / value
            if candidate.is_file():
                files.append(candidate)
            i += 2
        elif arg in ("-i", "--index-url", "--extra-index-url"):
            index_urls.append(value)
            i += 2
        elif arg.startswith(("--extra-index-url=", "--index-url=")):
            index_urls.append(arg.split("=", 1)[1])
            i += 1
        elif arg in _PIP_VALUE_OPTIONS or arg in ("-e", "--editable"):
            i += 2
        elif arg.startswith("-") or "$" in arg or arg in (".", "./"):
            i += 1
        else:
            requirements.append(arg)
            i += 1


def _skip_options(args: list[str], with_value: set[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in with_value:
            skip = True
        elif not arg.startswith("-"):
            out.append(arg)
    return out
