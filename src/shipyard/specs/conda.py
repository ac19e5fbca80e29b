"""Conda dependencies as pip requirements: what uv can install in their place, or why not.

Shipyard builds environments with uv from PyPI, so a conda file's packages are installed
under their PyPI names. Most conda packages of the Python world have the same name on both
(``numpy``, ``pandas``, ``scikit-learn``); :data:`RENAMED` lists those that differ.
Libraries that conda installs as separate packages but PyPI wheels carry inside themselves
(``cudatoolkit``, ``mkl``…, :data:`BUNDLED`) are left out with a note. Programs that are not
Python packages (``r-base``, ``openjdk``, :data:`NOT_PYTHON`) cannot come from PyPI: the
file is refused with their names — a job that needs them would only fail later.

Versions are translated too: conda's ``numpy=1.21`` means "1.21 or any 1.21.x", which is
PEP 440's ``numpy==1.21.*``; ``==``, ``>=``, ``<``… mean the same in both; a build string
(``numpy=1.21.2=py38h…``) is dropped with a note; a channel prefix (``conda-forge::pandas``)
is dropped like channels are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shipyard.errors import InvalidSpec

__all__ = ["BUNDLED", "NOT_PYTHON", "RENAMED", "CondaPackages", "conda_to_pip"]

#: conda name → PyPI name, where they differ.
RENAMED: dict[str, str] = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "py-xgboost-gpu": "xgboost",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "matplotlib-base": "matplotlib",
    "msgpack-python": "msgpack",
    "pytables": "tables",
    "python-graphviz": "graphviz",
    "tensorflow-gpu": "tensorflow",
    "pyqt": "PyQt5",
    "lightgbm-cpu": "lightgbm",
    "ruamel_yaml": "ruamel.yaml",
    "jupyter_core": "jupyter-core",
    "pywavelets": "PyWavelets",
}

#: Native libraries conda installs apart and PyPI wheels carry (or the OS provides).
BUNDLED = frozenset(
    {
        "blas",
        "libblas",
        "libcblas",
        "liblapack",
        "openblas",
        "mkl",
        "mkl-service",
        "mkl_fft",
        "mkl_random",
        "intel-openmp",
        "llvm-openmp",
        "cudatoolkit",
        "cuda-toolkit",
        "cuda-version",
        "cudnn",
        "nccl",
        "libgcc",
        "libgcc-ng",
        "libstdcxx-ng",
        "libgomp",
        "_libgcc_mutex",
        "_openmp_mutex",
        "ca-certificates",
        "certifi",
        "openssl",
        "tzdata",
        "zlib",
        "libffi",
    }
)

#: Programs and libraries of other languages: no PyPI package can stand in for them.
NOT_PYTHON: dict[str, str] = {
    "r-base": "the R language",
    "r-essentials": "R packages",
    "openjdk": "a Java runtime",
    "nodejs": "Node.js",
    "julia": "the Julia language",
    "gcc": "a C compiler",
    "gxx": "a C++ compiler",
    "gfortran": "a Fortran compiler",
    "cmake": "CMake",
    "make": "make",
    "git": "git",
    "git-lfs": "git LFS",
    "curl": "curl",
    "wget": "wget",
    "graphviz": "the Graphviz programs; their Python bindings are 'python-graphviz'",
    "ffmpeg": "ffmpeg",
    "openmpi": "Open MPI",
    "mpich": "MPICH",
    "cuda": "the CUDA toolkit's compilers",
    "cuda-nvcc": "the CUDA compiler",
    "unixodbc": "unixODBC",
    "libpq": "the PostgreSQL client library",
}

_NAME = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?P<rest>.*)$")


@dataclass(frozen=True)
class CondaPackages:
    """Conda package strings as pip requirements, with what was left out and why."""

    requirements: tuple[str, ...]
    notes: tuple[str, ...]


def conda_to_pip(packages: list[str], field: str = "conda_file") -> CondaPackages:
    """The pip requirements standing for conda ``packages`` (python and pip excluded).

    Raises InvalidSpec naming every package that is not Python (or not understood).
    """
    requirements: list[str] = []
    bundled: list[str] = []
    builds: list[str] = []
    refused: list[str] = []
    for text in packages:
        spec = text.split("::", 1)[1] if "::" in text else text
        m = _NAME.match(spec.strip())
        if m is None:
            refused.append(f"'{text}' (not a conda package spec Shipyard can read)")
            continue
        name = m["name"].lower()
        if name in NOT_PYTHON or name.startswith("r-"):
            what = NOT_PYTHON.get(name, "an R package")
            refused.append(f"'{text}' ({what})")
            continue
        if name in BUNDLED:
            bundled.append(m["name"])
            continue
        version, build = _split_build(m["rest"])
        if build:
            builds.append(text)
        requirements.append(RENAMED.get(name, m["name"]) + _version(version, text, field))
    if refused:
        raise InvalidSpec(
            "conda packages that are not Python packages cannot be installed from PyPI:"
            f" {', '.join(refused)}; Shipyard builds Python environments with uv — install them on"
            " the server's host (they are then on the job's PATH), or remove them from the conda file",
            field=field,
        )
    notes: list[str] = []
    if bundled:
        notes.append(f"conda packages {', '.join(bundled)}: not installed, PyPI wheels carry them")
    if builds:
        notes.append(f"conda build strings ignored: {', '.join(builds)}")
    return CondaPackages(tuple(requirements), tuple(notes))


def _split_build(rest: str) -> tuple[str, str]:
    """(version constraint, build string) of what follows a conda package's name.

    ``=1.21.2=py38h…`` and the match-spec form ``1.21.* py38h…`` carry a build string.
    """
    rest = rest.strip()
    if " " in rest:
        version, _, build = rest.partition(" ")
        version = version if version[:1] in "=<>!~" else f"={version}"
        return version, build.strip()
    if rest.startswith("=") and not rest.startswith("=="):
        version, _, build = rest[1:].partition("=")
        return f"={version}", build
    if rest.startswith("=="):
        version, _, build = rest[2:].partition("=")
        return f"=={version}", build
    return rest, ""


def _version(spec: str, text: str, field: str) -> str:
    """A conda version constraint in PEP 440's spelling."""
    if not spec:
        return ""
    parts = []
    for raw in spec.split(","):
        part = raw.strip()
        if "|" in part:
            raise InvalidSpec(
                f"conda package '{text}': alternatives ('|') have no pip equivalent; pin one version range",
                field=field,
            )
        if part.startswith("=") and not part.startswith("=="):
            version = part[1:]
            # conda's `=1.21` is "1.21 or any 1.21.x"; `=1.21.*` already says so.
            parts.append(f"=={version}" if version.endswith("*") else f"=={version}.*")
        else:
            parts.append(part)
    return ",".join(parts)
