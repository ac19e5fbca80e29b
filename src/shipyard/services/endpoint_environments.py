"""The environment of a no-code MLflow deployment whose file names none: the model's own.

MLflow writes what a model needs into its folder: ``python_env.yaml`` (the Python version,
and ``-r requirements.txt``), ``requirements.txt`` (pinned pip requirements) and
``conda.yaml`` (the same pins under ``pip:``). As ``mlflow models serve --env-manager uv``
and Azure ML do, the workers run in an environment built from them with uv, cached by the
hash of the requirements, so the model is served with the library versions it was trained
with — also on a server installed without the ``serving`` extra. Read in that order: the
first file found decides.

Three decisions, each said in the deployment log:

- **The server's own interpreter serves when it already has every package at a version the
  requirements accept** (a server installed next to the training code, the test suite): no
  build, and a worker that starts at once. ``mlflow`` is satisfied by ``mlflow-skinny`` of an
  accepted version (the same code loads the model).
- **``mlflow==V`` is installed as ``mlflow-skinny==V``**: the same version of the code that
  loads and runs a model, without the tracking server, the UI and their dependencies (Flask,
  SQLAlchemy, matplotlib, Docker's client…). ``pandas`` is added when the model does not list
  it: the pyfunc loader needs it, and full ``mlflow`` would have brought it.
- **The model's Python version** (``major.minor``) is used when this host has that Python
  (Shipyard never downloads one); otherwise the server's, and the log says so.

What cannot work is refused when the deployment is created, with what to do: a model folder
with no requirements file when the server has no ``mlflow``, and requirement lines uv cannot
install from an index (local paths, ``-e``, options other than ``-r``/``-c``/index URLs).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import yaml

from shipyard.errors import InvalidSpec
from shipyard.services.environment_ports import EnvironmentRequest, server_python_version

__all__ = ["ModelEnvironment", "ModelRequirements", "model_environment", "read_model_requirements"]

FileReader = Callable[[str], str | None]
"""The text of a file of the model folder (a path relative to it), or None when there is none."""

_FILES = ("python_env.yaml", "requirements.txt", "conda.yaml")
_MAX_INCLUDES = 8
_OPTION = re.compile(r"(-r|--requirement|-c|--constraint|--extra-index-url|--index-url|-i)(?:\s+|=)(.+)")
_NOT_FROM_AN_INDEX = re.compile(r"^(\.{0,2}/|~|[A-Za-z][A-Za-z0-9+.-]*://|file:|git\+)|\.(whl|zip|tar\.gz)$")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True, slots=True)
class ModelRequirements:
    """What the model's files ask for, as read: ``found_in`` names the file that decided."""

    found_in: str
    python: str | None
    requirements: tuple[str, ...]
    extra_index_urls: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelEnvironment:
    """The environment chosen for a model: an empty ``request`` is the server's interpreter.
    ``notes`` are lines for the deployment log: what was chosen and why."""

    request: EnvironmentRequest
    source: str
    notes: tuple[str, ...] = field(default=())


def read_model_requirements(read: FileReader, where: str) -> ModelRequirements | None:
    """The requirements in the model folder's files (``where`` names the model in messages);
    None when it has none of them."""
    for name in _FILES:
        text = read(name)
        if text is None:
            continue
        if name == "requirements.txt":
            found = _Lines(read, where)
            found.add_file(name, text)
            return found.result(name, None)
        data = _yaml(text, f"{where}: {name}")
        if name == "python_env.yaml":
            return _python_env(data, read, where)
        return _conda(data, read, where)
    return None


def model_environment(wanted: ModelRequirements | None, where: str) -> ModelEnvironment:
    """The environment to serve a no-code MLflow model in (see the module's docstring)."""
    if wanted is None:
        if _installed("mlflow") is None:
            raise InvalidSpec(
                f"{where} has no requirements.txt, python_env.yaml or conda.yaml, so Shipyard cannot"
                " tell what it needs, and the server's Python has no mlflow to load it with: log the"
                " model with mlflow (which writes requirements.txt), name an environment in the"
                " deployment file (environment: with the model's libraries and mlflow-skinny), or"
                " install them beside the server: pip install 'shipyard[serving]' and the model's"
                " libraries",
                field="environment",
            )
        return ModelEnvironment(
            EnvironmentRequest(),
            "server",
            (
                f"environment: the server's Python ({server_python_version()}): {where} lists no"
                " requirements (no requirements.txt, python_env.yaml or conda.yaml), and the"
                f" server has mlflow {_installed('mlflow')}",
            ),
        )
    missing = _unmet(wanted.requirements)
    if not missing and _same_python_line(wanted.python):
        return ModelEnvironment(
            EnvironmentRequest(),
            "server",
            (
                *wanted.notes,
                f"environment: the server's Python ({server_python_version()}): it has every package"
                f" {wanted.found_in} lists at an accepted version"
                f" ({', '.join(_present(wanted.requirements))})",
            ),
        )
    requirements, changed = _installable(wanted.requirements)
    python, python_note = _python(wanted.python)
    request = EnvironmentRequest(
        python=python, requirements=tuple(requirements), extra_index_urls=wanted.extra_index_urls
    )
    why = "; ".join(missing) if missing else f"the model was saved with Python {wanted.python}"
    notes = (
        *wanted.notes,
        f"environment: built from the model's {wanted.found_in} (the server's Python lacks what it"
        f" needs: {why})",
        *changed,
        *([python_note] if python_note else []),
    )
    return ModelEnvironment(request, f"model {wanted.found_in}", notes)


# -- reading the files ---------------------------------------------------------------------


class _Lines:
    """Requirement lines gathered from requirements files, following ``-r`` and ``-c``."""

    def __init__(self, read: FileReader, where: str) -> None:
        self.read = read
        self.where = where
        self.requirements: list[str] = []
        self.indexes: list[str] = []
        self.notes: list[str] = []
        self.seen: set[str] = set()

    def add_file(self, name: str, text: str) -> None:
        if name in self.seen:
            return
        if len(self.seen) >= _MAX_INCLUDES:
            raise InvalidSpec(f"{self.where}: {name}: more than {_MAX_INCLUDES} included requirements files")
        self.seen.add(name)
        for number, raw in enumerate(text.splitlines(), start=1):
            self.add_line(raw, f"{name} line {number}")

    def add_line(self, raw: str, place: str) -> None:
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            return
        if line.startswith("-"):
            self._option(line, place)
            return
        if _NOT_FROM_AN_INDEX.search(line.split(";", 1)[0].strip()) or not _NAME.match(line):
            raise InvalidSpec(
                f"{self.where}: {place}: {line!r} is not a package on an index, which is all a model"
                " environment installs; name an environment in the deployment file that provides it",
                field="environment",
            )
        self.requirements.append(line)

    def _option(self, line: str, place: str) -> None:
        match = _OPTION.fullmatch(line)
        if match is None:
            raise InvalidSpec(
                f"{self.where}: {place}: the option {line!r} is not supported in a model's requirements"
                " (only -r, -c, --index-url and --extra-index-url); name an environment in the"
                " deployment file instead",
                field="environment",
            )
        option, value = match.group(1), match.group(2).strip()
        if option in ("--extra-index-url", "--index-url", "-i"):
            # Searched besides the server's own index: the model's packages may be private.
            self.indexes.append(value)
            return
        text = self.read(value)
        if text is None:
            raise InvalidSpec(
                f"{self.where}: {place}: {value!r} is not in the model folder", field="environment"
            )
        if option in ("-c", "--constraint"):
            self.notes.append(f"environment: the constraints in {value} are installed as requirements")
        self.add_file(value, text)

    def result(self, found_in: str, python: str | None) -> ModelRequirements:
        return ModelRequirements(
            found_in=found_in,
            python=python,
            requirements=tuple(dict.fromkeys(self.requirements)),
            extra_index_urls=tuple(dict.fromkeys(self.indexes)),
            notes=tuple(self.notes),
        )


def _yaml(text: str, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidSpec(f"{where} is not valid YAML: {exc}", field="environment") from None
    if not isinstance(data, dict):
        raise InvalidSpec(f"{where} is not a mapping", field="environment")
    return data


def _python_env(data: dict[str, Any], read: FileReader, where: str) -> ModelRequirements:
    lines = _Lines(read, where)
    dependencies = data.get("dependencies") or []
    if not isinstance(dependencies, list):
        raise InvalidSpec(f"{where}: python_env.yaml: dependencies must be a list", field="environment")
    for number, entry in enumerate(dependencies, start=1):
        lines.add_line(str(entry), f"python_env.yaml dependency {number}")
    python = data.get("python")
    return lines.result("python_env.yaml", None if python is None else str(python))


def _conda(data: dict[str, Any], read: FileReader, where: str) -> ModelRequirements:
    lines = _Lines(read, where)
    python = None
    skipped = []
    for entry in data.get("dependencies") or []:
        if isinstance(entry, dict) and isinstance(entry.get("pip"), list):
            for number, pip_line in enumerate(entry["pip"], start=1):
                lines.add_line(str(pip_line), f"conda.yaml pip entry {number}")
        elif isinstance(entry, str) and re.match(r"python\s*[=<>]", entry):
            python = re.sub(r"^python\s*=*\s*", "", entry).split(",")[0].strip() or None
        elif isinstance(entry, str) and not re.match(r"pip\b", entry):
            skipped.append(entry)
    if skipped:
        lines.notes.append(
            f"environment: conda.yaml's conda packages {', '.join(skipped)} are not installed (a model"
            " environment installs its pip part); name an environment in the deployment file if the"
            " model needs them"
        )
    return lines.result("conda.yaml", python)


# -- comparing with the server, and what uv installs -------------------------------------------


def _installed(name: str) -> str | None:
    """The version of a distribution in the server's interpreter (``mlflow``: or mlflow-skinny)."""
    for dist in (name, "mlflow-skinny") if _canonical(name) == "mlflow" else (name,):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _unmet(requirements: tuple[str, ...]) -> list[str]:
    """Why the server's interpreter does not satisfy ``requirements`` (empty when it does)."""
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # mlflow needs packaging: a server without it has no mlflow either
        return ["it has no 'packaging' (so no mlflow)"]
    unmet = []
    for line in requirements:
        try:
            wanted = Requirement(line)
        except InvalidRequirement as exc:
            raise InvalidSpec(f"requirement {line!r} is not valid: {exc}", field="environment") from None
        if wanted.marker is not None and not wanted.marker.evaluate():
            continue
        have = _installed(wanted.name)
        if have is None:
            unmet.append(f"no {wanted.name}")
        elif not wanted.specifier.contains(have, prereleases=True):
            unmet.append(f"{wanted.name} {have}, the model wants {wanted.specifier}")
    return unmet


def _present(requirements: tuple[str, ...]) -> list[str]:
    out = []
    for line in requirements:
        match = _NAME.match(line)
        if match is not None:
            out.append(f"{match.group(0)} {_installed(match.group(0))}")
    return out


def _installable(requirements: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The requirements as uv gets them (``mlflow`` as ``mlflow-skinny``, ``pandas`` added),
    and a log line per change."""
    out, notes = [], []
    names = set()
    for line in requirements:
        match = _NAME.match(line)
        name = _canonical(match.group(0)) if match else ""
        names.add(name)
        if name == "mlflow":
            skinny = "mlflow-skinny" + line[len(match.group(0)) :] if match else line
            out.append(skinny)
            notes.append(
                f"environment: {line} is installed as {skinny}: the same code loads the model, without"
                " the tracking server and the UI"
            )
        else:
            out.append(line)
    if not names & {"mlflow", "mlflow-skinny"}:
        out.append("mlflow-skinny")
        notes.append("environment: the model lists no mlflow; mlflow-skinny (the latest) loads it")
    if "pandas" not in names:
        out.append("pandas")
        notes.append("environment: pandas added (the MLflow pyfunc loader needs it)")
    return out, notes


def _major_minor(version: str | None) -> str | None:
    if version is None:
        return None
    match = re.match(r"\s*(\d+)\.(\d+)", version)
    return None if match is None else f"{match.group(1)}.{match.group(2)}"


def _same_python_line(version: str | None) -> bool:
    wanted = _major_minor(version)
    return wanted is None or wanted == server_python_version()


def _python(version: str | None) -> tuple[str | None, str]:
    """The Python the environment is built with, and a log line when it is not the model's."""
    wanted = _major_minor(version)
    if wanted is None or wanted == server_python_version():
        return None, ""
    if shutil.which(f"python{wanted}") is not None:
        return wanted, f"environment: Python {wanted}, as the model was saved with"
    return None, (
        f"environment: the model was saved with Python {version}, which this host does not have"
        f" (Shipyard does not download interpreters): it uses the server's Python"
        f" {server_python_version()}"
    )
