"""A model's ``MLmodel`` file, read through the API: what the model version page shows (flavors,
signature) and what the endpoint page's try-it form builds its sample from."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
import yaml

from shipyard.domain.registry import ModelVersion
from shipyard.studio.api import ApiError, StudioApi

__all__ = ["MLMODEL_MAX", "mlmodel_url", "read_mlmodel", "signature_of"]

_PROXY_SCHEME = "mlflow-artifacts:/"

MLMODEL_MAX = 256 * 1024  # an MLmodel file is a few KB; a larger one is not shown inline


async def read_mlmodel(api: StudioApi, path: str) -> str | None:
    """A small text file of the API (an artifact), with the caller's credential; None when it
    is absent or too large to show."""
    try:
        found = await api.head(path, MLMODEL_MAX + 1)
    except ApiError as error:
        if error.status == 404:
            return None
        raise
    if len(found.body) > MLMODEL_MAX:
        return None
    return found.body.decode("utf-8", "replace")


async def mlmodel_url(api: StudioApi, version: ModelVersion) -> str | None:
    """Where the API serves a registered version's ``MLmodel``: in its MLflow 3 logged model's
    artifacts (``mlflow-artifacts:/…``, through the artifact proxy), or under its source run's
    artifacts; None when the version names neither (a model registered from a path)."""
    if version.logged_model_id:
        found = await api.get(f"/api/2.0/mlflow/logged-models/{quote(version.logged_model_id, safe='')}")
        uri = str(((found.get("model") or {}).get("info") or {}).get("artifact_uri") or "")
        if not uri.startswith(_PROXY_SCHEME):
            return None
        return f"/api/2.0/mlflow-artifacts/artifacts/{quote(uri[len(_PROXY_SCHEME) :].strip('/'))}/MLmodel"
    if version.run_id and version.artifact_path is not None:
        path = f"{version.artifact_path.strip('/')}/MLmodel".lstrip("/")
        return f"/api/v1/runs/{quote(version.run_id, safe='')}/artifacts/{quote(path)}"
    return None


def signature_of(mlmodel: str) -> dict[str, Any]:
    """The MLmodel's flavors and signature (inputs/outputs are JSON inside the YAML)."""
    try:
        data = yaml.safe_load(mlmodel)
    except yaml.YAMLError:
        return {}
    if not isinstance(data, dict):
        return {}
    flavors = data.get("flavors")
    out: dict[str, Any] = {"flavors": sorted(map(str, flavors)) if isinstance(flavors, dict) else []}
    found = data.get("signature")
    signature: dict[str, Any] = found if isinstance(found, dict) else {}
    for part in ("inputs", "outputs"):
        raw = signature.get(part)
        try:
            columns = orjson.loads(raw) if isinstance(raw, str) else raw
        except orjson.JSONDecodeError:
            columns = None
        out[part] = [c for c in columns if isinstance(c, dict)] if isinstance(columns, list) else []
    return out
