"""Online endpoints and deployments over HTTP (``client.online_endpoints``,
``client.online_deployments``), the way Azure ML's ``MLClient`` groups its operations."""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.api import endpoints as api
from shipyard.api.endpoints import DeploymentProgress, DeploymentSystem, OnlineEndpoint, SystemMinute
from shipyard.client._convert import decode
from shipyard.client._deploy_files import deployment_body
from shipyard.client._paths import q
from shipyard.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from shipyard.client.client import Client, Progress

__all__ = [
    "DEPLOYMENT_HEADER",
    "DeploymentProgress",
    "DeploymentSystem",
    "OnlineDeployment",
    "OnlineDeploymentOperations",
    "OnlineEndpoint",
    "OnlineEndpointOperations",
    "system_answer",
]

DEPLOYMENT_HEADER = "azureml-model-deployment"
"""Names the deployment that should answer a scoring request (and the one that did)."""

_BASE = "/api/v1/online-endpoints"


@dataclass(frozen=True, slots=True)
class OnlineDeployment(api.OnlineDeployment):
    """A deployment as the server answers it (:class:`shipyard.api.endpoints.OnlineDeployment`),
    plus where following its preparation log starts (:meth:`OnlineDeploymentOperations.follow`):
    for an update, the log's end just before it was sent. Not a server field."""

    log_offset: int = 0


def _endpoint(data: dict[str, Any]) -> OnlineEndpoint:
    return decode(OnlineEndpoint, data)


def _deployment(data: dict[str, Any]) -> OnlineDeployment:
    return decode(OnlineDeployment, data)


def weights(value: str | Mapping[str, int]) -> dict[str, int]:
    """``"blue=90 green=10"`` or a mapping → a mapping (the server checks the rules)."""
    if not isinstance(value, str):
        return dict(value)
    from shipyard.domain.endpoints import parse_weights

    return parse_weights(value)


class OnlineEndpointOperations:
    def __init__(self, client: Client) -> None:
        self._http = client.http

    def create(self, path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> OnlineEndpoint:
        """Create an endpoint from its file (name, auth_mode, description, tags)."""
        from shipyard.specs._yaml import LoadedText
        from shipyard.specs.endpoint import OnlineEndpointSpec

        text = LoadedText.read(Path(path), OnlineEndpointSpec, overrides)
        text.validate(OnlineEndpointSpec)
        body = {"spec": dict(text.data), "source": Path(path).name}
        return _endpoint(self._http.request("POST", _BASE, json=body))

    def get(self, name: str) -> OnlineEndpoint:
        return _endpoint(self._http.request("GET", f"{_BASE}/{q(name)}"))

    def list(self) -> builtins.list[OnlineEndpoint]:
        return [_endpoint(e) for e in self._http.request("GET", _BASE)["endpoints"]]

    def update(
        self,
        name: str,
        *,
        traffic: str | Mapping[str, int] | None = None,
        mirror_traffic: str | Mapping[str, int] | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> OnlineEndpoint:
        """Change the live split (``"blue=90 green=10"``), the mirror, the description or tags."""
        body: dict[str, Any] = {}
        if traffic is not None:
            body["traffic"] = weights(traffic)
        if mirror_traffic is not None:
            body["mirror_traffic"] = weights(mirror_traffic)
        if description is not None:
            body["description"] = description
        if tags is not None:
            body["tags"] = dict(tags)
        return _endpoint(self._http.request("PATCH", f"{_BASE}/{q(name)}", json=body))

    def delete(self, name: str) -> None:
        """Delete the endpoint and all its deployments."""
        self._http.request("DELETE", f"{_BASE}/{q(name)}")

    def get_keys(self, name: str) -> dict[str, str]:
        """``{"primaryKey": …, "secondaryKey": …}``, as the Azure CLI prints them."""
        data: dict[str, str] = self._http.request("POST", f"{_BASE}/{q(name)}/keys")
        return data

    def regenerate_keys(self, name: str, key_type: str = "primary") -> OnlineEndpoint:
        body = {"key_type": key_type}
        return _endpoint(self._http.request("POST", f"{_BASE}/{q(name)}/regenerate-keys", json=body))

    def invoke(
        self,
        name: str,
        request_file: str | Path | None = None,
        *,
        body: Any = None,
        deployment_name: str | None = None,
        key: str | None = None,
    ) -> Any:
        """Score: POST the request file (or ``body``, sent as JSON) to ``/endpoints/<name>/score``
        with the endpoint's key; ``deployment_name`` targets one deployment."""
        if (request_file is None) == (body is None):
            raise InvalidArgument("give a request file or a body to send, not both")
        content = _read_request(Path(request_file)) if request_file is not None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        endpoint = self.get(name)
        if endpoint.auth_mode == "key":
            headers["Authorization"] = f"Bearer {key or self.get_keys(name)['primaryKey']}"
        if deployment_name:
            headers[DEPLOYMENT_HEADER] = deployment_name
        return self._http.request("POST", f"/endpoints/{q(name)}/score", content=content, headers=headers)


def _read_request(path: Path) -> bytes:
    """The request file's bytes, or an error that names the file and what is wrong with it."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InvalidArgument(f"the request file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise InvalidArgument(f"the request file {str(path)!r} is a folder; give a JSON file") from None
    except OSError as exc:
        raise InvalidArgument(f"cannot read the request file {str(path)!r}: {exc.strerror}") from None


class OnlineDeploymentOperations:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._http = client.http

    def _body(
        self,
        path: str | Path,
        overrides: list[str] | tuple[str, ...],
        all_traffic: bool,
        say: Callable[[str], None],
        progress: Progress | None,
    ) -> tuple[str, str, dict[str, Any]]:
        from shipyard.specs.deployment import load_deployment

        loaded = load_deployment(Path(path), overrides)
        body = deployment_body(self._client, loaded, say, progress)
        body["all_traffic"] = all_traffic
        return loaded.spec.endpoint_name, loaded.spec.name, body

    def create(
        self,
        path: str | Path,
        overrides: list[str] | tuple[str, ...] = (),
        *,
        all_traffic: bool = False,
        step: Callable[[str], None] | None = None,
        progress: Progress | None = None,
    ) -> OnlineDeployment:
        """Read the deployment file, upload its local model and code (only what the server
        lacks), create it. It is ``Creating`` until its workers are ready: see :meth:`wait`."""
        say = step or (lambda _line: None)
        endpoint, _, body = self._body(path, overrides, all_traffic, say, progress)
        return _deployment(self._http.request("POST", f"{_BASE}/{q(endpoint)}/deployments", json=body))

    def update(
        self,
        path: str | Path,
        overrides: list[str] | tuple[str, ...] = (),
        *,
        all_traffic: bool = False,
        step: Callable[[str], None] | None = None,
        progress: Progress | None = None,
    ) -> OnlineDeployment:
        """Roll out a new revision of an existing deployment from its file."""
        say = step or (lambda _line: None)
        endpoint, name, body = self._body(path, overrides, all_traffic, say, progress)
        url = f"{_BASE}/{q(endpoint)}/deployments/{q(name)}"
        try:
            # the log's end now: what bringing this revision up says comes after it
            offset = self.progress(endpoint, name, -1).offset
        except NotFound:
            offset = 0  # the update is refused just below, with the reason
        updated = _deployment(self._http.request("PUT", url, json=body))
        return replace(updated, log_offset=offset)

    def get(self, endpoint_name: str, name: str) -> OnlineDeployment:
        return _deployment(self._http.request("GET", f"{_BASE}/{q(endpoint_name)}/deployments/{q(name)}"))

    def list(self, endpoint_name: str) -> builtins.list[OnlineDeployment]:
        data = self._http.request("GET", f"{_BASE}/{q(endpoint_name)}/deployments")
        return [_deployment(d) for d in data["deployments"]]

    def delete(self, endpoint_name: str, name: str) -> None:
        self._http.request("DELETE", f"{_BASE}/{q(endpoint_name)}/deployments/{q(name)}")

    def get_logs(self, endpoint_name: str, name: str, lines: int = 100) -> str:
        url = f"{_BASE}/{q(endpoint_name)}/deployments/{q(name)}/logs"
        text = self._http.request("GET", url, params={"lines": lines})
        return "" if text is None else str(text)

    def progress(self, endpoint_name: str, name: str, offset: int = 0) -> DeploymentProgress:
        """The deployment's state and its preparation log's lines since byte ``offset``
        (-1: none, only the offset of the end)."""
        url = f"{_BASE}/{q(endpoint_name)}/deployments/{q(name)}/progress"
        return decode(DeploymentProgress, self._http.request("GET", url, params={"offset": offset}))

    def system(self, endpoint_name: str, name: str, minutes: int = 60) -> DeploymentSystem:
        """Its requests, errors, latency p50/p99, CPU and memory per minute over the last
        ``minutes`` (1..1440), added up over every server; minutes no server wrote are absent."""
        url = f"{_BASE}/{q(endpoint_name)}/deployments/{q(name)}/system"
        return system_answer(self._http.request("GET", url, params={"minutes": minutes}))

    def follow(
        self,
        deployment: OnlineDeployment,
        on_text: Callable[[str], None],
        *,
        poll_s: float = 0.25,
        timeout_s: float | None = None,
        on_poll: Callable[[DeploymentProgress], None] | None = None,
    ) -> OnlineDeployment:
        """Until it is Succeeded or Failed (or the time is up), hand each piece of its
        preparation log to ``on_text`` as it is written (from ``deployment.log_offset``): the
        model download, the environment build with uv's output, workers starting, probes."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        offset = deployment.log_offset
        while True:
            now = self.progress(deployment.endpoint_name, deployment.name, offset)
            if now.text:
                on_text(now.text)
            offset = now.offset
            if on_poll is not None:
                on_poll(now)
            if now.done and not now.text:  # finished, and every line before it read
                return self.get(deployment.endpoint_name, deployment.name)
            if deadline is not None and time.monotonic() > deadline:
                return self.get(deployment.endpoint_name, deployment.name)
            if not now.done:
                time.sleep(poll_s)

    def wait(
        self,
        endpoint_name: str,
        name: str,
        *,
        poll_s: float = 0.5,
        timeout_s: float | None = None,
        on_poll: Callable[[OnlineDeployment], None] | None = None,
    ) -> OnlineDeployment:
        """Block until the deployment is Succeeded or Failed (or the time is up)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            found = self.get(endpoint_name, name)
            if on_poll is not None:
                on_poll(found)
            if found.done or (deadline is not None and time.monotonic() > deadline):
                return found
            time.sleep(poll_s)


def system_answer(data: dict[str, Any]) -> DeploymentSystem:
    """The ``/system`` answer with its minutes as :class:`SystemMinute` (``decode`` is shallow)."""
    minutes = [decode(SystemMinute, m) for m in data["minutes"]]
    return decode(DeploymentSystem, {**data, "minutes": minutes})
