"""Azure ML's curated environments as built-in uv specs of the same libraries.

Azure's examples name environments Microsoft maintains — as a registry reference
(``azureml://registries/azureml/environments/sklearn-1.5/labels/latest``) or by their
``AzureML-`` name (``azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest``). Each is a
Docker image with a conda environment inside; what a job needs from it is the Python
version and the libraries, which uv builds here.

A name is read as ``[AzureML-]<family>-<version>[-ubuntuXX.XX][-pyXY][-cpu|-gpu|-cudaN…]
[-inference]``: the family says which libraries (:data:`FAMILIES`), the version pins the main
one (``sklearn-1.5`` → ``scikit-learn~=1.5.0``), ``-py38`` pins Python 3.8 (else the
family's own, :data:`PYTHON`). Azure's images also carry its SDK (``azureml-core``,
``azureml-defaults``); those talk to Azure and are left out — ``mlflow-skinny`` (what
``azureml-mlflow`` brings) is in, so a training script's ``mlflow`` calls reach Shipyard.
The version or label of the reference (``/versions/6``, ``@latest``) is not used: the
built-in spec is the one there is. docs/environments.md shows the table; a test keeps the
two equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["FAMILIES", "PYTHON", "CuratedEnvironment", "curated_environment"]

_MLFLOW = "mlflow-skinny"

#: family → (main library as a pip name, other libraries of its image).
FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "sklearn": ("scikit-learn", ("numpy", "pandas", "scipy", "matplotlib", _MLFLOW)),
    "lightgbm": ("lightgbm", ("scikit-learn", "numpy", "pandas", "scipy", "matplotlib", _MLFLOW)),
    "xgboost": ("xgboost", ("scikit-learn", "numpy", "pandas", "scipy", _MLFLOW)),
    "pytorch": ("torch", ("torchvision", "numpy", "pandas", _MLFLOW)),
    "acpt-pytorch": ("torch", ("torchvision", "numpy", "pandas", _MLFLOW)),
    "tensorflow": ("tensorflow", ("numpy", "pandas", _MLFLOW)),
    "mlflow": (_MLFLOW, ("numpy", "pandas", "scikit-learn")),
    "minimal": ("", ()),
}

#: The Python of an image whose name does not say (``-py38``), by family and version.
PYTHON: dict[str, tuple[tuple[str, str], ...]] = {
    # (lowest version of the main library, Python) — the newest entry that fits wins.
    "sklearn": (("0", "3.8"), ("1.5", "3.10")),
    "lightgbm": (("0", "3.8"), ("4", "3.10")),
    "xgboost": (("0", "3.10"),),
    "pytorch": (("0", "3.8"), ("2", "3.10")),
    "acpt-pytorch": (("0", "3.10"),),
    "tensorflow": (("0", "3.8"), ("2.13", "3.10")),
    "mlflow": (("0", "3.8"),),
    "minimal": (("0", "3.8"),),
}

_NAME = re.compile(
    r"^(?:azureml-)?(?P<family>acpt-pytorch|pytorch|tensorflow|sklearn|lightgbm|xgboost|mlflow|minimal)"
    r"(?:-(?P<version>\d+(?:\.\d+)*))?"
    r"(?P<tags>(?:-(?:ubuntu\d+\.\d+|py\d{2,3}|cpu|gpu|cuda\d+(?:\.\d+)?|inference|openmpi[\d.]*))*)$",
    re.IGNORECASE,
)
_PY = re.compile(r"-py(?P<major>\d)(?P<minor>\d{1,2})(?=-|$)", re.IGNORECASE)


@dataclass(frozen=True)
class CuratedEnvironment:
    """The built-in spec standing for a curated environment name."""

    name: str
    python: str
    requirements: tuple[str, ...]


def curated_environment(name: str) -> CuratedEnvironment | None:
    """The built-in spec for a curated environment ``name``, or None for a name it is not."""
    m = _NAME.match(name.strip())
    if m is None:
        return None
    family = m["family"].lower()
    version = m["version"]
    if not (version or m["tags"] or name.lower().startswith("azureml-")):
        return None  # a bare 'sklearn' is a name of the user's, not Azure's
    main, others = FAMILIES[family]
    py = _PY.search(m["tags"] or "")
    python = f"{py['major']}.{py['minor']}" if py else _python_for(family, version)
    requirements: list[str] = []
    if main:
        requirements.append(f"{main}{_compatible(version)}")
    requirements.extend(o for o in others if o != main)
    return CuratedEnvironment(name=name, python=python, requirements=tuple(requirements))


def _compatible(version: str | None) -> str:
    """``1.5`` → ``~=1.5.0`` (any 1.5.x); ``2`` → ``~=2.0`` (any 2.x); none: no pin."""
    if not version:
        return ""
    parts = version.split(".")
    return f"~={parts[0]}.0" if len(parts) == 1 else f"~={'.'.join(parts[:2])}.0"


def _python_for(family: str, version: str | None) -> str:
    chosen = PYTHON[family][0][1]
    for lowest, python in PYTHON[family]:
        if version is None or _key(version) >= _key(lowest):
            chosen = python
    return chosen


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))
