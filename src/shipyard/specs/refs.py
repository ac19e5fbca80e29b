"""References to assets, runs, URLs and local files, as they appear in job files.

====================================================  =======================
``azureml:name:version``                              :class:`AssetRef` (version)
``azureml:name@latest`` / ``azureml:name@<label>``    :class:`AssetRef` (label)
``azureml://registries/<r>/<kind>/<name>/versions/<v>``   :class:`AssetRef` (registry)
``azureml://registries/<r>/<kind>/<name>/labels/<l>``     :class:`AssetRef` (registry)
``azureml://jobs/<job>/outputs/<output>[/paths/<p>]``     :class:`JobOutputRef`
``runs:/<run_id>/<path>``                             :class:`RunRef`
``s3://…``, ``file://…``, ``https://…`` (any fsspec)  :class:`UrlRef`
anything else                                         :class:`LocalPathRef` (relative to the file)
====================================================  =======================

Registry references are how Azure's examples name curated environments; Shipyard resolves
them by name and label/version among its own assets and ignores the registry name.
``azureml://datastores/…`` is refused: datastores are a cloud-only feature, an fsspec URL does
that job. So are models in Azure's registries (``azureml://registries/azureml/models/…``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from shipyard.errors import InvalidSpec
from shipyard.specs.cloud import DATASTORES, REGISTRY_MODELS, cloud_only

__all__ = [
    "AssetRef",
    "JobOutputRef",
    "LocalPathRef",
    "Ref",
    "RunRef",
    "UrlRef",
    "asset_ref_value",
    "parse_asset_ref",
    "parse_ref",
]

_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}"
_SHORT = re.compile(rf"^azureml:(?P<name>{_NAME})(?::(?P<version>{_NAME})|@(?P<label>{_NAME}))$")
_REGISTRY = re.compile(
    rf"^azureml://registries/(?P<registry>{_NAME})/(?P<kind>environments|data|models|components)/"
    rf"(?P<name>{_NAME})/(?:versions/(?P<version>{_NAME})|labels/(?P<label>{_NAME}))/?$"
)
_JOB_OUTPUT = re.compile(
    rf"^azureml://jobs/(?P<job>{_NAME})/outputs/(?P<output>{_NAME})(?:/paths/(?P<path>.*))?$"
)
_RUN = re.compile(r"^runs:/(?P<run>[A-Za-z0-9_-]+)(?:/(?P<path>.*))?$")
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")


@dataclass(frozen=True)
class AssetRef:
    """A named, versioned Shipyard asset; exactly one of ``version`` and ``label`` is set."""

    name: str
    version: str | None = None
    label: str | None = None
    registry: str | None = None

    def __str__(self) -> str:
        return f"azureml:{self.name}:{self.version}" if self.version else f"azureml:{self.name}@{self.label}"


@dataclass(frozen=True)
class RunRef:
    """``runs:/<run_id>/<path>``: an artifact path of a tracked run (``path`` may be empty)."""

    run_id: str
    path: str


@dataclass(frozen=True)
class JobOutputRef:
    """An output of an earlier job, optionally a path inside it."""

    job: str
    output: str
    path: str


@dataclass(frozen=True)
class UrlRef:
    """A URL that fsspec opens (``s3://``, ``gs://``, ``file://``, ``https://``…)."""

    url: str
    scheme: str


@dataclass(frozen=True)
class LocalPathRef:
    """A local file or folder, made absolute against the folder of the YAML file."""

    path: Path


Ref = AssetRef | RunRef | JobOutputRef | UrlRef | LocalPathRef


def parse_asset_ref(text: str, field: str | None = None) -> AssetRef:
    """Parse an ``azureml:`` reference to a named asset, or raise :class:`InvalidSpec`."""
    m = _SHORT.match(text) or _REGISTRY.match(text)
    if m is not None:
        groups = m.groupdict()
        if groups.get("kind") == "models":
            raise InvalidSpec(_why_not_asset(text), field=field)
        return AssetRef(
            name=groups["name"],
            version=groups["version"],
            label=groups["label"],
            registry=groups.get("registry"),
        )
    raise InvalidSpec(_why_not_asset(text), field=field)


def asset_ref_value(value: Any) -> Any:
    """A pydantic ``before`` validator for a field that is an ``azureml:`` reference or an
    inline mapping (``environment``): a string must parse as a reference; its message stays
    the field's error, with its line."""
    if isinstance(value, str):
        try:
            parse_asset_ref(value)
        except InvalidSpec as exc:
            raise ValueError(exc.message) from None
    return value


def _why_not_asset(text: str) -> str:
    if "/datastores/" in text:
        return cloud_only(
            f"'{text}'",
            DATASTORES,
            "use an fsspec URL (https://…, s3://…, abfs://…) or a data asset (azureml:name:version)",
        )
    if text.startswith("azureml://registries/") and "/models/" in text:
        return cloud_only(
            f"'{text}'",
            REGISTRY_MODELS,
            "register the model in Shipyard (`shipyard model create -f`), then name it"
            " azureml:<name>:<version>",
        )
    if text.startswith("azureml://"):
        return (
            f"'{text}' is not a reference Shipyard understands; expected "
            "azureml://registries/<registry>/<kind>/<name>/versions/<version> (or /labels/<label>)"
        )
    body = text.removeprefix("azureml:")
    if body and ":" not in body and "@" not in body:
        return f"'{text}' has no version: write 'azureml:{body}:<version>' or 'azureml:{body}@latest'"
    return (
        f"'{text}' is not a valid asset reference; expected azureml:<name>:<version> or "
        "azureml:<name>@<label> (names: letters, digits, '.', '-', '_')"
    )


def parse_ref(text: str, base_dir: Path, field: str | None = None) -> Ref:
    """Parse any reference a job input may hold; local paths are resolved against ``base_dir``."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidSpec(f"an empty path or reference{f' in {field!r}' if field else ''}", field=field)
    text = text.strip()
    if text.startswith("azureml://jobs/"):
        m = _JOB_OUTPUT.match(text)
        if m is None:
            raise InvalidSpec(
                f"'{text}': expected azureml://jobs/<job>/outputs/<output>[/paths/<path>]", field=field
            )
        return JobOutputRef(job=m["job"], output=m["output"], path=_clean(m["path"] or "", text, field))
    if text.startswith("azureml:"):
        return parse_asset_ref(text, field)
    if text.startswith("runs:"):
        m = _RUN.match(text)
        if m is None:
            raise InvalidSpec(f"'{text}': expected runs:/<run_id>/<path>", field=field)
        return RunRef(run_id=m["run"], path=_clean(m["path"] or "", text, field))
    url = _URL.match(text)
    if url is not None:
        if len(text) == len(url.group(0)):
            raise InvalidSpec(f"'{text}': the URL has nothing after '://'", field=field)
        return UrlRef(url=text, scheme=url["scheme"].lower())
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:/", text) and not re.match(r"^[A-Za-z]:[\\/]", text):
        raise InvalidSpec(f"'{text}': a URL needs '://' after its scheme", field=field)
    return LocalPathRef(path=(base_dir / Path(text).expanduser()).resolve())


def _clean(path: str, text: str, field: str | None) -> str:
    """A path inside a run or output: relative, no '..'."""
    parts = PurePosixPath(path).parts
    if path.startswith("/") or ".." in parts:
        raise InvalidSpec(f"'{text}': the path inside it must be relative, without '..'", field=field)
    return "/".join(parts)
