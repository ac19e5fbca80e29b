"""What the job service needs from an environment builder: turn a spec into a Python to run.

A job names the packages it needs; an :class:`EnvironmentBuilder` answers with a
:class:`BuiltEnvironment` — an interpreter that has them. Builders cache by
:func:`spec_hash`, so a second job with the same spec pays a stat and a small file read.

An *empty* request (no requirements, no extra index, no other Python) means "the server's
own interpreter": :meth:`EnvironmentBuilder.ensure` returns it at once without building
anything. A job that only uses what the server already has (scikit-learn, mlflow…) then
starts in well under a second, where a venv — even a cached one — could only offer less.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import sysconfig
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import InvalidArgument

__all__ = [
    "BuildLog",
    "BuiltEnvironment",
    "EnvironmentBuilder",
    "EnvironmentRequest",
    "normalise_requirement",
    "platform_tag",
    "server_environment",
    "server_python_version",
    "spec_hash",
]

BuildLog = Callable[[str], None]
"""Receives each line of a build's output as it is produced (no trailing newline)."""

_PYTHON_VERSION = re.compile(r"\d+\.\d+(\.\d+)?")
_NAME = re.compile(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(.*)", re.DOTALL)
_HASH_FORMAT = 1


def server_python_version() -> str:
    """``major.minor`` of the interpreter running the server, e.g. ``"3.11"``."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def platform_tag() -> str:
    """Implementation and platform, e.g. ``cpython-linux-x86_64``: wheels differ across them."""
    return f"{sys.implementation.name}-{sysconfig.get_platform()}"


@dataclass(frozen=True, slots=True)
class EnvironmentRequest:
    """The packages a job needs, as plain values (the YAML is parsed elsewhere).

    ``python`` is ``"3.11"``-style or ``None`` for the server's own version;
    ``requirements`` are pip requirement strings (``"scikit-learn>=1.4"``), taken from a
    conda file's ``pip:`` section or a requirements list; ``extra_index_urls`` are searched
    besides the index the server's uv is configured with.
    """

    python: str | None = None
    requirements: tuple[str, ...] = ()
    extra_index_urls: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Lists parsed from YAML are accepted and frozen, so a request stays hashable.
        object.__setattr__(self, "requirements", tuple(self.requirements))
        object.__setattr__(self, "extra_index_urls", tuple(self.extra_index_urls))
        if self.python is not None and not _PYTHON_VERSION.fullmatch(self.python):
            raise InvalidArgument(
                f"python version {self.python!r} is not a version such as '3.11' or '3.11.7'"
            )
        for requirement in self.requirements:
            # A leading '-' would be read by pip/uv as an option (--index-url, -e …), not a package.
            if not requirement.strip() or requirement.lstrip().startswith("-"):
                raise InvalidArgument(
                    f"requirement {requirement!r} is not a package requirement such as 'numpy>=2'"
                )
        for url in self.extra_index_urls:
            if not url.startswith(("http://", "https://", "file://")):
                raise InvalidArgument(f"extra index url {url!r} must be an http(s):// or file:// URL")

    @property
    def python_version(self) -> str:
        """The Python version this request resolves to on this server."""
        return self.python if self.python is not None else server_python_version()

    @property
    def is_server_interpreter(self) -> bool:
        """Nothing to install and no other Python asked for: the server's interpreter will do."""
        if self.requirements or self.extra_index_urls:
            return False
        return self.python is None or _same_python(self.python)


def _same_python(version: str) -> bool:
    parts = tuple(int(p) for p in version.split("."))
    return parts == tuple(sys.version_info[: len(parts)])


def normalise_requirement(requirement: str) -> str:
    """One spelling per requirement: PEP 503 name, no blanks in the specifier, one in markers.

    ``"Scikit_Learn >= 1.4"`` and ``"scikit-learn>=1.4"`` are the same request, so they hash alike.
    """
    spec, _, marker = requirement.partition(";")
    match = _NAME.fullmatch(spec)
    if match is None:
        head = "".join(spec.split())
    else:
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
        head = name + "".join(match.group(2).split())
    marker = " ".join(marker.split())
    return f"{head}; {marker}" if marker else head


def spec_hash(request: EnvironmentRequest) -> str:
    """The cache key of a request: 16 hex digits of a SHA-256 over its canonical form.

    The canonical form is a JSON object (sorted keys, no blanks) of: a format number, the
    Python version the request resolves to (``major.minor`` as asked, or the server's),
    :func:`platform_tag`, the requirements normalised by :func:`normalise_requirement`,
    de-duplicated and sorted, and the extra index URLs, sorted. Order and spelling of the
    requirements do not change the hash; anything that can change what gets installed does.
    """
    canonical = {
        "format": _HASH_FORMAT,
        "python": request.python_version,
        "platform": platform_tag(),
        "requirements": sorted({normalise_requirement(r) for r in request.requirements}),
        "extra_index_urls": sorted(set(request.extra_index_urls)),
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class BuiltEnvironment:
    """A ready interpreter. ``build_log`` is ``None`` for the server's own interpreter."""

    hash: str
    python: Path
    site_packages: Path
    build_log: Path | None
    cache_hit: bool
    seconds: float
    is_server_interpreter: bool = False


def server_environment(request: EnvironmentRequest, seconds: float = 0.0) -> BuiltEnvironment:
    """The server's own interpreter as the environment of ``request`` (which must be empty)."""
    return BuiltEnvironment(
        hash=spec_hash(request),
        python=Path(sys.executable),
        site_packages=Path(sysconfig.get_path("purelib")),
        build_log=None,
        cache_hit=True,
        seconds=seconds,
        is_server_interpreter=True,
    )


class EnvironmentBuilder(ABC):
    """Builds environments once and hands out cached ones; safe across threads and processes."""

    @abstractmethod
    def ensure(self, request: EnvironmentRequest, log: BuildLog | None = None) -> BuiltEnvironment:
        """The environment of ``request``, built now if no finished one is cached.

        Concurrent calls for the same new spec build it once; the others wait and get the
        cached result. Build output goes to ``log`` line by line as it is produced. Raises
        :class:`~shipyard.errors.EnvironmentBuildFailed` (with ``details["log_tail"]``) when
        the spec cannot be built; nothing is cached then.
        """

    @abstractmethod
    def path_of(self, env_hash: str) -> BuiltEnvironment | None:
        """The finished environment cached under ``env_hash``, or ``None``; never builds."""
