"""``env.yml`` (Azure ML CLI v2 environment shape) and the Python environment it describes.

Shipyard builds environments with uv, not Docker, so what matters is the Python version and
the pip packages: taken from ``conda_file`` (its ``python=…`` and ``pip:`` entries) and/or
``pip_requirements`` (a requirements.txt, Shipyard's own field). ``image`` is accepted and
recorded but never pulled; ``build`` (a Docker context) is accepted when its folder holds a
``requirements.txt``, which is then used as the pip requirements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator, model_validator

from shipyard.errors import InvalidSpec
from shipyard.specs._base import SpecModel, StrictModel, scalar_map, visible
from shipyard.specs._yaml_reader import load_mapping, read_text

__all__ = [
    "BuildContext",
    "EnvironmentBody",
    "EnvironmentSpec",
    "InlineEnvironment",
    "PythonEnvironment",
    "resolve_environment",
]

_PYTHON = re.compile(r"^python\s*(?:={1,2}|>=|~=)?\s*(?P<version>\d+(?:\.\d+){0,2})")


class BuildContext(StrictModel):
    """A Docker build context (``build.path``); only its requirements.txt is used."""

    path: str
    dockerfile_path: str | None = None


class EnvironmentBody(StrictModel):
    """The fields an environment file and a job's inline ``environment:`` share."""

    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    image: str | None = None
    conda_file: str | dict[str, Any] | None = None
    pip_requirements: str | None = None
    build: BuildContext | None = None
    os_type: str | None = None
    inference_config: dict[str, Any] | None = None

    _scalars = field_validator("tags", mode="before")(scalar_map)

    @field_validator("os_type")
    @classmethod
    def _linux_only(cls, value: str | None) -> str | None:
        if value is not None and value.lower() != "linux":
            raise ValueError(f"os_type '{value}' is not supported; Shipyard runs jobs on linux only")
        return value


class EnvironmentSpec(SpecModel, EnvironmentBody):
    """``shipyard environment create -f env.yml``."""

    spec_kind: ClassVar[str] = "environment"

    name: Annotated[str, visible("environment")]
    version: str | None = None

    @model_validator(mode="after")
    def _something_to_build(self) -> EnvironmentSpec:
        _require_content(self)
        return self


class InlineEnvironment(EnvironmentBody):
    """``environment:`` written inside a job; name and version are optional there."""

    name: Annotated[str | None, visible("environment")] = None
    version: str | None = None

    @model_validator(mode="after")
    def _something_to_build(self) -> InlineEnvironment:
        _require_content(self)
        return self


def _require_content(env: EnvironmentBody) -> None:
    if not (env.image or env.conda_file or env.pip_requirements or env.build):
        raise ValueError("an environment needs at least one of image, conda_file, pip_requirements, build")


@dataclass(frozen=True)
class PythonEnvironment:
    """What the uv builder needs, read from an environment spec and its files.

    ``conda_packages`` are the non-pip conda dependencies (other than python and pip): uv cannot
    install them, the builder decides (they are listed in ``notes``). ``image`` is informative.
    ``requirements`` is every pip requirement (the conda file's ``pip:`` list, then the lines of
    the requirements file) and ``extra_index_urls`` the ``--extra-index-url`` options among them.
    """

    python_version: str | None
    pip_dependencies: tuple[str, ...]
    pip_requirements_file: Path | None
    conda_channels: tuple[str, ...]
    conda_packages: tuple[str, ...]
    image: str | None
    notes: tuple[str, ...]
    requirements: tuple[str, ...] = ()
    extra_index_urls: tuple[str, ...] = ()


def resolve_environment(env: EnvironmentBody, base_dir: Path) -> PythonEnvironment:
    """Read the conda file / requirements file of ``env`` (paths relative to ``base_dir``)."""
    notes: list[str] = []
    conda: dict[str, Any] = {}
    if isinstance(env.conda_file, dict):
        conda = env.conda_file
    elif isinstance(env.conda_file, str):
        conda = _read_conda(_existing(base_dir, env.conda_file, "conda_file"))
    python, pip_deps, conda_pkgs = _split_conda(conda)
    requirements = (
        _existing(base_dir, env.pip_requirements, "pip_requirements") if env.pip_requirements else None
    )
    if env.build is not None and requirements is None:
        context = _existing(base_dir, env.build.path, "build.path")
        candidate = context / "requirements.txt"
        if not candidate.is_file():
            raise InvalidSpec(
                f"build.path '{env.build.path}' is a Docker context; Shipyard runs no container "
                "engine and uses only a requirements.txt in it, which is missing",
                field="build.path",
            )
        requirements = candidate
        notes.append(f"build: the Docker context is not built; its requirements.txt ({candidate}) is used")
    if env.image:
        notes.append(
            f"image '{env.image}' is not pulled: no container engine; Python packages come from the spec"
        )
    if conda_pkgs:
        notes.append(f"conda packages {', '.join(conda_pkgs)} are not pip packages; uv cannot install them")
    channels = tuple(str(c) for c in conda.get("channels") or ())
    lines = [*pip_deps, *(_requirement_lines(requirements) if requirements else [])]
    packages, index_urls = _split_pip_lines(lines)
    return PythonEnvironment(
        python_version=python,
        pip_dependencies=tuple(pip_deps),
        pip_requirements_file=requirements,
        conda_channels=channels,
        conda_packages=tuple(conda_pkgs),
        image=env.image,
        notes=tuple(notes),
        requirements=tuple(packages),
        extra_index_urls=tuple(index_urls),
    )


def _requirement_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidSpec(
            f"pip requirements {path} cannot be read: {exc}", field="pip_requirements"
        ) from None
    return [
        line.split(" #")[0].strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _split_pip_lines(lines: list[str]) -> tuple[list[str], list[str]]:
    """Package requirements and ``--extra-index-url`` values; other pip options are refused."""
    packages: list[str] = []
    index_urls: list[str] = []
    for line in lines:
        if line.startswith(("--extra-index-url", "--index-url")):
            index_urls.append(line.split("=", 1)[1].strip() if "=" in line.split()[0] else line.split()[1])
        elif line.startswith("-"):
            raise InvalidSpec(
                f"pip option '{line}' is not supported in an environment; list packages "
                "(and --extra-index-url) only",
                field="pip_requirements",
            )
        else:
            packages.append(line)
    return packages, index_urls


def _existing(base_dir: Path, relative: str, field: str) -> Path:
    path = (base_dir / Path(relative).expanduser()).resolve()
    if not path.exists():
        raise InvalidSpec(f"{field} '{relative}' does not exist ({path})", field=field)
    return path


def _read_conda(path: Path) -> dict[str, Any]:
    # The same bounded reader as spec files: its errors name the conda file and the line.
    return load_mapping(read_text(path), str(path))


def _split_conda(conda: dict[str, Any]) -> tuple[str | None, list[str], list[str]]:
    """(python version, pip dependencies, other conda packages) of a conda environment mapping."""
    python: str | None = None
    pip_deps: list[str] = []
    others: list[str] = []
    deps = conda.get("dependencies") or []
    if not isinstance(deps, list):
        raise InvalidSpec("conda_file 'dependencies' must be a list", field="conda_file")
    for dep in deps:
        if isinstance(dep, dict) and "pip" in dep:
            pip_deps.extend(str(p) for p in dep["pip"] or [])
        elif isinstance(dep, str):
            m = _PYTHON.match(dep)
            if m and not dep.startswith("python-"):
                python = m["version"]
            elif dep.split("=")[0].strip() not in ("python", "pip"):
                others.append(dep)
        else:
            raise InvalidSpec(
                f"conda_file dependency {dep!r} is neither a package nor a pip: list",
                field="conda_file",
            )
    return python, pip_deps, others
