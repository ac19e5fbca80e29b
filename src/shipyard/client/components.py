"""Components over HTTP: ``client.operations(ComponentOperations)``."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.api import components as api
from shipyard.client._convert import decode
from shipyard.client._deploy_files import add_environment, say_notes, upload
from shipyard.client._paths import q

if TYPE_CHECKING:
    from shipyard.client.client import Client, Progress

__all__ = ["ComponentOperations"]

_PATH = "/api/v1/components"


class ComponentOperations:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._http = client.http

    def create(
        self,
        path: str | Path,
        overrides: Sequence[str] = (),
        *,
        step: Callable[[str], None] | None = None,
        progress: Progress | None = None,
    ) -> api.Component:
        """Read a command component file, upload its code folder (only what the server lacks),
        register it. Problems with the file are :class:`~shipyard.errors.InvalidSpec` naming
        its line, raised before anything is uploaded."""
        from shipyard.specs.pipeline_files import load_component
        from shipyard.specs.snapshot import DEFAULT_SIZE_LIMIT

        say = step or (lambda _line: None)
        spec, raw, files = load_component(Path(path), overrides)
        body: dict[str, Any] = {"spec": raw, "source": Path(path).name}
        add_environment(body, files.environment)
        if files.code is not None:
            body["code_snapshot"] = upload(
                self._client, files.code, "code", say, progress, max_bytes=DEFAULT_SIZE_LIMIT
            )
        say_notes([*spec.notes(), *files.notes], say)
        return decode(api.Component, self._http.request("POST", _PATH, json=body))

    def get(self, name: str, version: str = "latest") -> api.Component:
        return decode(api.Component, self._http.request("GET", f"{_PATH}/{q(name)}/versions/{q(version)}"))

    def list(self) -> builtins.list[api.Component]:
        return [decode(api.Component, c) for c in self._http.request("GET", _PATH)["components"]]

    def versions(self, name: str) -> builtins.list[api.Component]:
        data = self._http.request("GET", f"{_PATH}/{q(name)}/versions")
        return [decode(api.Component, c) for c in data["components"]]
