"""``env.yml`` (Azure ML CLI v2 environment shape) and the Python environment it describes.

Shipyard builds environments with uv, not Docker, so what matters is the Python version and
the pip packages: taken from ``conda_file`` (its ``python=…``, its conda packages under their
PyPI names, and its ``pip:`` entries) and/or ``pip_requirements`` (a requirements.txt,
Shipyard's own field). ``image`` is accepted and recorded but never pulled; ``build`` (a
Docker context) is read, never built: its ``requirements.txt``, else what its Dockerfile's
``FROM python:X.Y`` and ``pip install`` steps say.
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
from shipyard.specs.conda import conda_to_pip
from shipyard.specs.dockerfile import DockerfilePython, read_dockerfile

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
    """Read the conda file / requirements file / build context of ``env`` (paths relative to
    ``base_dir``): conda packages become their PyPI names (:mod:`shipyard.specs.conda`);
    one that is not a Python package is refused with its name."""
    notes: list[str] = []
    conda: dict[str, Any] = {}
    if isinstance(env.conda_file, dict):
        conda = env.conda_file
    elif isinstance(env.conda_file, str):
        conda = _read_conda(_existing(base_dir, env.conda_file, "conda_file"))
    python, pip_deps, conda_pkgs = _split_conda(conda)
    mapped = conda_to_pip(conda_pkgs)
    notes.extend(mapped.notes)
    channels = tuple(str(c) for c in conda.get("channels") or ())
    if channels:
        notes.append(f"conda channels ignored ({', '.join(channels)}): packages come from PyPI")
    requirements = (
        _existing(base_dir, env.pip_requirements, "pip_requirements") if env.pip_requirements else None
    )
    built: list[str] = []
    index_urls: list[str] = []
    if env.build is not None and requirements is None:
        docker = _build_context(env.build, base_dir, notes)
        python = python or docker.python
        built.extend(docker.requirements)
        index_urls.extend(docker.extra_index_urls)
        for file in docker.requirement_files:
            built.extend(_requirement_lines(file))
    if env.image:
        notes.append(
            f"image '{env.image}' is not pulled: no container engine; Python packages come from the spec"
        )
    lines = [
        *mapped.requirements,
        *pip_deps,
        *built,
        *(_requirement_lines(requirements) if requirements else []),
    ]
    packages, more_urls = _split_pip_lines(lines)
    return PythonEnvironment(
        python_version=python,
        pip_dependencies=tuple(pip_deps),
        pip_requirements_file=requirements,
        conda_channels=channels,
        conda_packages=tuple(conda_pkgs),
        image=env.image,
        notes=tuple(notes),
        requirements=tuple(packages),
        extra_index_urls=tuple([*index_urls, *more_urls]),
    )


def _build_context(build: BuildContext, base_dir: Path, notes: list[str]) -> DockerfilePython:
    """A Docker context's Python: its requirements.txt, else what its Dockerfile installs."""
    context = _existing(base_dir, build.path, "build.path")
    if not context.is_dir():
        raise InvalidSpec(f"build.path '{build.path}' is not a folder ({context})", field="build.path")
    candidate = context / "requirements.txt"
    if candidate.is_file():
        notes.append(f"build: the Docker context is not built; its requirements.txt ({candidate}) is used")
        return DockerfilePython(None, (), (), (candidate,), ())
    dockerfile = (context / (build.dockerfile_path or "Dockerfile")).resolve()
    if not dockerfile.is_file():
        raise InvalidSpec(
            f"build.path '{build.path}' has neither a requirements.txt nor a Dockerfile"
            f" ({dockerfile}); Shipyard reads one of them for the environment's Python packages",
            field="build.path",
        )
    docker = read_dockerfile(dockerfile, context)
    notes.extend(docker.notes)
    return docker


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
            elif re.split(r"[=<>!~\s]", dep.split("::")[-1].strip())[0] not in ("python", "pip"):
                others.append(dep)
        else:
            raise InvalidSpec(
                f"conda_file dependency {dep!r} is neither a package nor a pip: list",
                field="conda_file",
            )
    return python, pip_deps, others
