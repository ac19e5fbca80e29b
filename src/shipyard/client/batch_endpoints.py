"""Batch endpoints and deployments over HTTP (``client.batch_endpoints``,
``client.batch_deployments``), the way Azure ML's ``MLClient`` groups its operations."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.api.batch import BatchDeployment, BatchEndpoint
from shipyard.client._convert import decode
from shipyard.client._deploy_files import deployment_body
from shipyard.client._paths import q
from shipyard.client.jobs import job_from_json
from shipyard.domain.jobs import Job

if TYPE_CHECKING:
    from shipyard.client.client import Client, Progress

__all__ = ["BatchDeployment", "BatchDeploymentOperations", "BatchEndpoint", "BatchEndpointOperations"]

_BASE = "/api/v1/batch-endpoints"


class BatchEndpointOperations:
    def __init__(self, client: Client) -> None:
        self._http = client.http

    def create(self, path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> BatchEndpoint:
        """Create a batch endpoint from its file (name, description, tags)."""
        from shipyard.specs._yaml import LoadedText
        from shipyard.specs.batch_endpoint import BatchEndpointSpec

        text = LoadedText.read(Path(path), BatchEndpointSpec, overrides)
        text.validate(BatchEndpointSpec)
        body = {"spec": dict(text.data), "source": Path(path).name}
        return decode(BatchEndpoint, self._http.request("POST", _BASE, json=body))

    def get(self, name: str) -> BatchEndpoint:
        return decode(BatchEndpoint, self._http.request("GET", f"{_BASE}/{q(name)}"))

    def list(self) -> builtins.list[BatchEndpoint]:
        return [decode(BatchEndpoint, e) for e in self._http.request("GET", _BASE)["endpoints"]]

    def delete(self, name: str) -> None:
        """Delete the endpoint and its deployments (the jobs it ran stay)."""
        self._http.request("DELETE", f"{_BASE}/{q(name)}")

    def invoke(
        self, name: str, data: str, *, deployment_name: str | None = None, job_name: str | None = None
    ) -> Job:
        """Score the data asset ``data`` (``azureml:<name>@latest``) as a job; returns it queued
        (follow it with ``client.jobs.stream(job.name)``)."""
        body = {"input": data, "deployment_name": deployment_name, "job_name": job_name}
        return job_from_json(self._http.request("POST", f"{_BASE}/{q(name)}/jobs", json=body))

    def list_jobs(self, name: str, max_results: int = 100) -> builtins.list[Job]:
        data = self._http.request("GET", f"{_BASE}/{q(name)}/jobs", params={"max_results": max_results})
        return [job_from_json(j) for j in data["jobs"]]


class BatchDeploymentOperations:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._http = client.http

    def _body(
        self,
        path: str | Path,
        overrides: list[str] | tuple[str, ...],
        set_default: bool,
        say: Callable[[str], None],
        progress: Progress | None,
    ) -> tuple[str, str, dict[str, Any]]:
        from shipyard.specs.batch_endpoint import load_batch_deployment

        loaded = load_batch_deployment(Path(path), overrides)
        body = deployment_body(self._client, loaded, say, progress)
        body["set_default"] = set_default
        return loaded.spec.endpoint_name, loaded.spec.name, body

    def create(
        self,
        path: str | Path,
        overrides: list[str] | tuple[str, ...] = (),
        *,
        set_default: bool = False,
        step: Callable[[str], None] | None = None,
        progress: Progress | None = None,
    ) -> BatchDeployment:
        """Read the deployment file, upload its local model and code (only what the server
        lacks), create it; ``set_default`` makes it what ``invoke`` uses."""
        say = step or (lambda _line: None)
        endpoint, _, body = self._body(path, overrides, set_default, say, progress)
        url = f"{_BASE}/{q(endpoint)}/deployments"
        return decode(BatchDeployment, self._http.request("POST", url, json=body))

    def update(
        self,
        path: str | Path,
        overrides: list[str] | tuple[str, ...] = (),
        *,
        set_default: bool = False,
        step: Callable[[str], None] | None = None,
        progress: Progress | None = None,
    ) -> BatchDeployment:
        """Replace an existing deployment's spec with its file, read and uploaded as by
        :meth:`create`; jobs already started keep the spec they started with."""
        say = step or (lambda _line: None)
        endpoint, name, body = self._body(path, overrides, set_default, say, progress)
        url = f"{_BASE}/{q(endpoint)}/deployments/{q(name)}"
        return decode(BatchDeployment, self._http.request("PUT", url, json=body))

    def get(self, endpoint_name: str, name: str) -> BatchDeployment:
        url = f"{_BASE}/{q(endpoint_name)}/deployments/{q(name)}"
        return decode(BatchDeployment, self._http.request("GET", url))

    def list(self, endpoint_name: str) -> builtins.list[BatchDeployment]:
        data = self._http.request("GET", f"{_BASE}/{q(endpoint_name)}/deployments")
        return [decode(BatchDeployment, d) for d in data["deployments"]]

    def delete(self, endpoint_name: str, name: str) -> None:
        self._http.request("DELETE", f"{_BASE}/{q(endpoint_name)}/deployments/{q(name)}")
