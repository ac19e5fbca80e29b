"""``Client``: every resource of the native API as typed Python calls."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlparse

import httpx

from shipyard.client import _convert, _snapshots
from shipyard.client._http import HttpClient, raise_for
from shipyard.client._paths import q
from shipyard.domain.data_assets import DataAsset
from shipyard.domain.registry import ModelEvent, ModelVersion, RegisteredModel
from shipyard.domain.snapshots import SnapshotFile, SnapshotRef
from shipyard.domain.tracking import Experiment, MetricHistory, Run
from shipyard.errors import AlreadyExists, InvalidArgument, NotFound

if TYPE_CHECKING:
    from shipyard.client.access import (
        AuditOperations,
        RoleOperations,
        SecretOperations,
        TokenOperations,
        UserOperations,
        WhoAmI,
    )
    from shipyard.client.batch_endpoints import BatchDeploymentOperations, BatchEndpointOperations
    from shipyard.client.endpoints import OnlineDeploymentOperations, OnlineEndpointOperations
    from shipyard.client.jobs import ComputeOperations, EnvironmentOperations, JobOperations

__all__ = ["DEFAULT_MAX_SNAPSHOT_BYTES", "MODEL_UPLOADS_EXPERIMENT", "Client", "Progress"]

_CHUNK = 1 << 20
_HASHES_PER_QUERY = 10_000
DEFAULT_MAX_SNAPSHOT_BYTES = 5 << 30
#: Where :meth:`Client.register_local_model` keeps the runs that hold uploaded models' files.
MODEL_UPLOADS_EXPERIMENT = "model-uploads"

_Ops = TypeVar("_Ops")

Progress = Callable[[int, int], None]
"""Called as ``progress(bytes_done, bytes_total)`` while blobs upload or download."""


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    for chunk in _file_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


class Client:
    """A connection to one Shipyard server (``url`` or ``SHIPYARD_URL``) and workspace, as the
    principal of ``token`` (else ``SHIPYARD_TOKEN``, else what ``shipyard login`` stored)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        workspace: str | None = None,
        token: str | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.http = HttpClient(url, workspace=workspace, token=token, timeout=timeout, transport=transport)

    @property
    def url(self) -> str:
        return self.http.url

    def operations(self, kind: Callable[[Client], _Ops]) -> _Ops:
        """A resource's operations class bound to this client: ``client.operations(ScheduleOperations)``.

        How a resource added as new files (``shipyard/resources/``) reaches its calls, typed,
        without a property here; the properties below are the same for the first resources.
        """
        return kind(self)

    @property
    def jobs(self) -> JobOperations:
        """Submit, follow, cancel and download jobs."""
        from shipyard.client.jobs import JobOperations

        return JobOperations(self)

    @property
    def environments(self) -> EnvironmentOperations:
        from shipyard.client.jobs import EnvironmentOperations

        return EnvironmentOperations(self)

    @property
    def computes(self) -> ComputeOperations:
        from shipyard.client.jobs import ComputeOperations

        return ComputeOperations(self)

    @property
    def online_endpoints(self) -> OnlineEndpointOperations:
        """Create online endpoints, shift their traffic, read their keys, score."""
        from shipyard.client.endpoints import OnlineEndpointOperations

        return OnlineEndpointOperations(self)

    @property
    def online_deployments(self) -> OnlineDeploymentOperations:
        """Deploy models behind online endpoints, follow them, read their logs."""
        from shipyard.client.endpoints import OnlineDeploymentOperations

        return OnlineDeploymentOperations(self)

    @property
    def batch_endpoints(self) -> BatchEndpointOperations:
        """Create batch endpoints, invoke them on a data asset (a job), list their jobs."""
        from shipyard.client.batch_endpoints import BatchEndpointOperations

        return BatchEndpointOperations(self)

    @property
    def batch_deployments(self) -> BatchDeploymentOperations:
        """Deploy models behind batch endpoints: mini-batch settings, retries, SQL output."""
        from shipyard.client.batch_endpoints import BatchDeploymentOperations

        return BatchDeploymentOperations(self)

    @property
    def users(self) -> UserOperations:
        """Create, list, disable and enable users."""
        from shipyard.client.access import UserOperations

        return UserOperations(self)

    @property
    def tokens(self) -> TokenOperations:
        """Create, list and revoke tokens (yours, or a user's)."""
        from shipyard.client.access import TokenOperations

        return TokenOperations(self)

    @property
    def roles(self) -> RoleOperations:
        """List and create roles; assign them to users in a workspace or everywhere."""
        from shipyard.client.access import RoleOperations

        return RoleOperations(self)

    @property
    def secrets(self) -> SecretOperations:
        """Set, list and delete the workspace's secrets (values are never returned)."""
        from shipyard.client.access import SecretOperations

        return SecretOperations(self)

    @property
    def audit(self) -> AuditOperations:
        """Read the audit log and verify its hash chain."""
        from shipyard.client.access import AuditOperations

        return AuditOperations(self)

    def whoami(self) -> WhoAmI:
        """Who this client is to the server: user, token, roles, permissions in its workspace."""
        from shipyard.client.access import whoami

        return whoami(self)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def health(self) -> dict[str, Any]:
        return self.http.request("GET", "/healthz")  # type: ignore[no-any-return]

    # -- experiments ---------------------------------------------------------------

    def create_experiment(self, name: str, tags: dict[str, str] | None = None) -> Experiment:
        data = self.http.request("POST", "/api/v1/experiments", json={"name": name, "tags": tags or {}})
        return _convert.experiment(data)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return _convert.experiment(self.http.request("GET", f"/api/v1/experiments/{q(experiment_id)}"))

    def get_experiment_by_name(self, name: str) -> Experiment:
        return _convert.experiment(self.http.request("GET", f"/api/v1/experiments/by-name/{q(name)}"))

    def get_or_create_experiment(self, name: str) -> Experiment:
        try:
            return self.get_experiment_by_name(name)
        except NotFound:
            try:
                return self.create_experiment(name)
            except AlreadyExists:  # created by someone else in between
                return self.get_experiment_by_name(name)

    def list_experiments(self, view: str = "active", max_results: int = 1000) -> list[Experiment]:
        out: list[Experiment] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"view": view, "max_results": min(max_results, 1000)}
            if token:
                params["page_token"] = token
            data = self.http.request("GET", "/api/v1/experiments", params=params)
            out.extend(_convert.experiment(e) for e in data["experiments"])
            token = data.get("next_page_token")
            if not token or len(out) >= max_results:
                return out[:max_results]

    # -- runs ----------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        parent_run_id: str | None = None,
    ) -> Run:
        body = {
            "experiment_id": experiment_id,
            "name": name,
            "tags": tags or {},
            "params": params or {},
            "parent_run_id": parent_run_id,
        }
        return _convert.run(self.http.request("POST", "/api/v1/runs", json=body))

    def get_run(self, run_id: str) -> Run:
        return _convert.run(self.http.request("GET", f"/api/v1/runs/{q(run_id)}"))

    def update_run(self, run_id: str, *, status: str | None = None, name: str | None = None) -> Run:
        body = {"status": status, "name": name}
        return _convert.run(self.http.request("PATCH", f"/api/v1/runs/{q(run_id)}", json=body, retry=True))

    def delete_run(self, run_id: str) -> None:
        self.http.request("DELETE", f"/api/v1/runs/{q(run_id)}", retry=True)

    def restore_run(self, run_id: str) -> None:
        self.http.request("POST", f"/api/v1/runs/{q(run_id)}/restore", retry=True)

    def search_runs_page(
        self,
        experiment_ids: list[str],
        filter: str | None = None,  # noqa: A002 — the name users know from MLflow
        order_by: list[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        view: str = "active",
    ) -> tuple[list[Run], str | None]:
        body = {
            "experiment_ids": experiment_ids,
            "filter": filter,
            "order_by": order_by or [],
            "max_results": max_results,
            "page_token": page_token,
            "view": view,
        }
        data = self.http.request("POST", "/api/v1/runs/search", json=body, retry=True)
        return [_convert.run(r) for r in data["runs"]], data.get("next_page_token")

    def search_runs(
        self,
        experiment_ids: list[str],
        filter: str | None = None,  # noqa: A002
        order_by: list[str] | None = None,
        max_results: int = 1000,
        view: str = "active",
    ) -> list[Run]:
        """Every matching run up to ``max_results``, following pages."""
        out: list[Run] = []
        token: str | None = None
        while len(out) < max_results:
            page, token = self.search_runs_page(
                experiment_ids, filter, order_by, min(1000, max_results - len(out)), token, view
            )
            out.extend(page)
            if not token:
                break
        return out

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        body = {"params": {k: str(v) for k, v in params.items()}}
        # Safe to repeat: re-logging a param with the same value is accepted.
        self.http.request("POST", f"/api/v1/runs/{q(run_id)}/params", json=body, retry=True)

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        body = {"tags": {k: str(v) for k, v in tags.items()}}
        self.http.request("POST", f"/api/v1/runs/{q(run_id)}/tags", json=body, retry=True)

    def delete_tag(self, run_id: str, key: str) -> None:
        self.http.request("DELETE", f"/api/v1/runs/{q(run_id)}/tags/{quote(key)}", retry=True)

    def log_metric_batch(self, run_id: str, payload: bytes, idempotency_key: str) -> dict[str, Any]:
        """Send an encoded batch (see ``_batcher``); retried safely thanks to the key."""
        return self.http.request(  # type: ignore[no-any-return]
            "POST",
            f"/api/v1/runs/{q(run_id)}/metrics",
            content=payload,
            headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
            retry=True,
        )

    def get_metric_history(
        self, run_id: str, key: str, *, max_points: int | None = None, page_size: int = 100_000
    ) -> MetricHistory:
        """The whole series (all pages), or a down-sampled view of it with ``max_points``."""
        params: dict[str, Any] = {"key": key, "max_results": page_size}
        if max_points is not None:
            params["max_points"] = max_points
        data = self.http.request("GET", f"/api/v1/runs/{q(run_id)}/metrics/history", params=params)
        merged = _convert.history(data)
        while merged.next_page_token and max_points is None:
            params["page_token"] = merged.next_page_token
            page = _convert.history(
                self.http.request("GET", f"/api/v1/runs/{q(run_id)}/metrics/history", params=params)
            )
            merged.steps.extend(page.steps)
            merged.values.extend(page.values)
            merged.timestamps.extend(page.timestamps)
            merged = MetricHistory(
                merged.key,
                merged.steps,
                merged.values,
                merged.timestamps,
                page.next_page_token,
                False,
                page.total,
            )
        return merged

    # -- artifacts -----------------------------------------------------------------

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[dict[str, Any]]:
        """Upload a file, or a folder recursively, under ``artifact_path`` (default: its name)."""
        source = Path(local_path)
        if not source.exists():
            raise InvalidArgument(f"{source} does not exist")
        base = artifact_path if artifact_path is not None else source.name
        if source.is_file():
            return [self._upload(run_id, source, base)]
        out = []
        for file in sorted(p for p in source.rglob("*") if p.is_file()):
            rel = file.relative_to(source).as_posix()
            out.append(self._upload(run_id, file, f"{base}/{rel}" if base else rel))
        return out

    def _upload(self, run_id: str, file: Path, artifact_path: str) -> dict[str, Any]:
        headers = {"X-Content-SHA256": _sha256(file), "Content-Type": "application/octet-stream"}
        url = f"/api/v1/runs/{q(run_id)}/artifacts/{quote(artifact_path)}"
        return self.http.request("PUT", url, content=_file_chunks(file), headers=headers)  # type: ignore[no-any-return]

    def list_artifacts(self, run_id: str, path: str = "") -> list[dict[str, Any]]:
        data = self.http.request("GET", f"/api/v1/runs/{q(run_id)}/artifacts", params={"path": path})
        return data["files"]  # type: ignore[no-any-return]

    def walk_artifacts(self, run_id: str, path: str = "") -> Iterator[str]:
        """Every artifact file under folder ``path`` of the run, depth first."""
        for entry in self.list_artifacts(run_id, path):
            if entry["is_dir"]:
                yield from self.walk_artifacts(run_id, entry["path"])
            else:
                yield entry["path"]

    def download_artifact(self, run_id: str, path: str, dest: str | os.PathLike[str]) -> Path:
        """Stream one artifact file to ``dest`` (a file path), checking its sha256."""
        target = Path(dest)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        tmp = target.with_name(target.name + ".part")
        with self.http.stream("GET", f"/api/v1/runs/{q(run_id)}/artifacts/{quote(path)}") as response:
            raise_for(response)
            expected = response.headers.get("X-Content-SHA256")
            with tmp.open("wb") as out:
                for chunk in response.iter_bytes(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
        if expected and expected != digest.hexdigest():
            tmp.unlink(missing_ok=True)
            raise InvalidArgument(f"download of {path!r} is corrupt: sha256 mismatch")
        tmp.replace(target)
        return target

    # -- registry ------------------------------------------------------------------

    def create_model(
        self, name: str, description: str = "", tags: dict[str, str] | None = None
    ) -> RegisteredModel:
        body = {"name": name, "description": description, "tags": tags or {}}
        return _convert.model(self.http.request("POST", "/api/v1/models", json=body))

    def get_model(self, name: str) -> RegisteredModel:
        return _convert.model(self.http.request("GET", f"/api/v1/models/{q(name)}"))

    def list_models(self, name_like: str | None = None, max_results: int = 100_000) -> list[RegisteredModel]:
        """Every model (following pages) up to ``max_results``."""
        out: list[RegisteredModel] = []
        while len(out) < max_results:
            page = min(1000, max_results - len(out))
            params: dict[str, Any] = {"max_results": page, "offset": len(out)}
            if name_like:
                params["name_like"] = name_like
            models = self.http.request("GET", "/api/v1/models", params=params)["models"]
            out.extend(_convert.model(m) for m in models)
            if len(models) < page:
                break
        return out

    def register_model(
        self,
        name: str,
        run_id: str,
        artifact_path: str,
        *,
        description: str = "",
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        body = {
            "run_id": run_id,
            "artifact_path": artifact_path,
            "description": description,
            "tags": tags or {},
        }
        return _convert.version(self.http.request("POST", f"/api/v1/models/{q(name)}/versions", json=body))

    def register_local_model(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        description: str = "",
        tags: dict[str, str] | None = None,
        experiment: str = MODEL_UPLOADS_EXPERIMENT,
    ) -> ModelVersion:
        """A new version of ``name`` from a local folder (or one file), uploaded.

        A version's files are a run's artifacts, so that every version has lineage: the files
        are logged under ``model/`` by a run of ``experiment`` (made if absent) named after the
        model, tagged with the local path, and that artifact is registered.
        """
        source = Path(path)
        if not source.exists():
            raise InvalidArgument(f"{source} does not exist")
        experiment_id = self.get_or_create_experiment(experiment).id
        run = self.create_run(
            experiment_id,
            name=f"upload {name}",
            tags={"shipyard.model.upload.name": name, "shipyard.model.upload.path": str(source.resolve())},
        )
        try:
            # One file goes inside the folder: a version is a folder either way, as in Azure.
            self.log_artifact(run.id, source, "model/" + source.name if source.is_file() else "model")
            version = self.register_model(name, run.id, "model", description=description, tags=tags)
        except BaseException:
            self.update_run(run.id, status="FAILED")
            raise
        self.update_run(run.id, status="FINISHED")
        return version

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """``version``: a number, ``"latest"`` or an alias such as ``"champion"``."""
        return _convert.version(
            self.http.request("GET", f"/api/v1/models/{q(name)}/versions/{q(str(version))}")
        )

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        data = self.http.request("GET", f"/api/v1/models/{q(name)}/versions")
        return [_convert.version(v) for v in data["versions"]]

    def set_model_alias(self, name: str, alias: str, version: int) -> RegisteredModel:
        url = f"/api/v1/models/{q(name)}/aliases/{q(alias)}"
        return _convert.model(self.http.request("PUT", url, json={"version": version}, retry=True))

    def delete_model_alias(self, name: str, alias: str) -> None:
        self.http.request("DELETE", f"/api/v1/models/{q(name)}/aliases/{q(alias)}")

    def update_model(
        self, name: str, *, description: str | None = None, tags: dict[str, str] | None = None
    ) -> RegisteredModel:
        body = {"description": description, "tags": tags}
        return _convert.model(self.http.request("PATCH", f"/api/v1/models/{q(name)}", json=body, retry=True))

    def update_model_version(
        self, name: str, version: int, *, description: str | None = None, tags: dict[str, str] | None = None
    ) -> ModelVersion:
        body = {"description": description, "tags": tags}
        url = f"/api/v1/models/{q(name)}/versions/{version}"
        return _convert.version(self.http.request("PATCH", url, json=body, retry=True))

    def model_history(self, name: str) -> list[ModelEvent]:
        """Every change to the model, oldest first (all pages)."""
        out: list[ModelEvent] = []
        while True:
            params = {"max_results": 10_000, "offset": len(out)}
            events = self.http.request("GET", f"/api/v1/models/{q(name)}/history", params=params)["events"]
            out.extend(_convert.event(e) for e in events)
            if len(events) < 10_000:
                return out

    # -- blobs and snapshots ---------------------------------------------------------

    def missing_blobs(self, hashes: list[str]) -> list[str]:
        """Those of ``hashes`` the server does not hold yet."""
        out: list[str] = []
        for start in range(0, len(hashes), _HASHES_PER_QUERY):
            body = {"sha256": hashes[start : start + _HASHES_PER_QUERY]}
            out.extend(self.http.request("POST", "/api/v1/blobs/missing", json=body, retry=True)["missing"])
        return out

    def upload_folder(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_MAX_SNAPSHOT_BYTES,
        progress: Progress | None = None,
    ) -> SnapshotRef:
        """Snapshot a folder (or one file): hash it locally, upload only the blobs the server
        lacks, record the manifest. Uploading the same files again sends no file bytes."""
        scanned = _snapshots.scan(Path(path), max_bytes)
        sources = {file.sha256: source for file, source in scanned}
        missing = self.missing_blobs(list(sources))
        sizes = {file.sha256: file.size for file, _ in scanned}
        total = sum(sizes[sha] for sha in missing)
        done = 0
        if progress is not None:
            progress(0, total)
        for sha in missing:
            chunks = _file_chunks(sources[sha])
            if progress is not None:
                chunks = self._counting(chunks, done, total, progress)
            headers = {"Content-Type": "application/octet-stream"}
            self.http.request("PUT", f"/api/v1/blobs/{sha}", content=chunks, headers=headers)
            done += sizes[sha]
        files = [{"path": f.path, "size": f.size, "sha256": f.sha256, "mode": f.mode} for f, _ in scanned]
        data = self.http.request("POST", "/api/v1/snapshots", json={"files": files}, retry=True)
        manifest = [_convert.decode(SnapshotFile, f) for f in data["files"]]
        return SnapshotRef(data["digest"], manifest, data["size"], total)

    @staticmethod
    def _counting(chunks: Iterator[bytes], done: int, total: int, progress: Progress) -> Iterator[bytes]:
        for chunk in chunks:
            done += len(chunk)
            yield chunk
            progress(done, total)

    def get_snapshot(self, digest: str) -> SnapshotRef:
        data = self.http.request("GET", f"/api/v1/snapshots/{q(digest)}")
        files = [_convert.decode(SnapshotFile, f) for f in data["files"]]
        return SnapshotRef(data["digest"], files, data["size"], 0)

    def download_snapshot(
        self, digest: str, dest: str | os.PathLike[str], *, progress: Progress | None = None
    ) -> Path:
        """Write the snapshot's files into the new folder ``dest``, byte for byte, with their
        executable bits; atomically (a temporary sibling renamed at the end). Each distinct
        blob is fetched once and checked against its sha256."""
        snapshot = self.get_snapshot(digest)
        target = Path(dest)
        fetched: dict[str, Path] = {}
        done = 0
        with _snapshots.staging_folder(target) as tmp:
            for file in snapshot.files:
                out = tmp.joinpath(*file.path.split("/"))
                out.parent.mkdir(parents=True, exist_ok=True)
                if file.sha256 in fetched:
                    shutil.copyfile(fetched[file.sha256], out)
                else:
                    self._fetch_blob(file.sha256, out)
                    fetched[file.sha256] = out
                    done += file.size
                    if progress is not None:
                        progress(done, snapshot.size)
                out.chmod(file.mode)
        return target

    def _fetch_blob(self, sha256: str, out: Path) -> None:
        digest = hashlib.sha256()
        with self.http.stream("GET", f"/api/v1/blobs/{sha256}") as response, out.open("wb") as handle:
            raise_for(response)
            for chunk in response.iter_bytes(_CHUNK):
                digest.update(chunk)
                handle.write(chunk)
        if digest.hexdigest() != sha256:
            raise InvalidArgument(f"download of blob {sha256} is corrupt: sha256 mismatch")

    # -- data assets -------------------------------------------------------------------

    def create_data_asset(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        version: str | None = None,
        type: str = "uri_folder",  # noqa: A002 — the field's name in data.yml
        description: str = "",
        tags: dict[str, str] | None = None,
        max_bytes: int = DEFAULT_MAX_SNAPSHOT_BYTES,
        progress: Progress | None = None,
    ) -> DataAsset:
        """Register a version. ``path``: a local file or folder, uploaded as a snapshot (only
        the blobs the server lacks), or an fsspec URL such as ``s3://…``, recorded as given.
        Without ``version``, one more than the highest integer version."""
        body: dict[str, Any] = {
            "name": name,
            "version": version,
            "type": type,
            "description": description,
            "tags": tags or {},
        }
        if isinstance(path, str) and len(urlparse(path).scheme) > 1 and "://" in path:
            body["path"] = path
        else:
            local = Path(path)
            if type == "uri_file" and local.is_dir():
                raise InvalidArgument(f"{local} is a folder; a uri_file asset is one file (use uri_folder)")
            if type != "uri_file" and local.is_file():
                raise InvalidArgument(f"{local} is a file; a {type} asset is a folder (use uri_file)")
            body["snapshot"] = self.upload_folder(local, max_bytes=max_bytes, progress=progress).digest
        return _convert.data_asset(self.http.request("POST", "/api/v1/data", json=body))

    def get_data_asset(self, name: str, version: str = "latest") -> DataAsset:
        """One version; ``"latest"`` for the one created last."""
        url = f"/api/v1/data/{q(name)}/versions/{q(version)}"
        return _convert.data_asset(self.http.request("GET", url))

    def list_data_assets(self, max_results: int = 100_000) -> list[DataAsset]:
        """The latest version of each data asset (following pages)."""
        out: list[DataAsset] = []
        while len(out) < max_results:
            page = min(10_000, max_results - len(out))
            params = {"max_results": page, "offset": len(out)}
            assets = self.http.request("GET", "/api/v1/data", params=params)["assets"]
            out.extend(_convert.data_asset(a) for a in assets)
            if len(assets) < page:
                break
        return out

    def list_data_asset_versions(self, name: str) -> list[DataAsset]:
        """Every version, newest first."""
        data = self.http.request("GET", f"/api/v1/data/{q(name)}/versions")
        return [_convert.data_asset(a) for a in data["assets"]]

    def download_data_asset(
        self,
        name: str,
        dest: str | os.PathLike[str],
        version: str = "latest",
        *,
        progress: Progress | None = None,
    ) -> Path:
        """Write an uploaded asset's files into the new folder ``dest`` (see :meth:`download_snapshot`)."""
        asset = self.get_data_asset(name, version)
        if not asset.content_hash:
            raise InvalidArgument(
                f"data asset {name}:{asset.version} is an external URL ({asset.path}); read it from there"
            )
        return self.download_snapshot(asset.content_hash, dest, progress=progress)
