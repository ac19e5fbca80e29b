"""Monitors over HTTP: ``client.operations(MonitorOperations)``.

A monitor is created with ``client.operations(ScheduleOperations).create("monitor.yml")``;
here it is run now and read back. Answers are plain JSON mappings (docs/monitoring.md shows
their shape): a monitor run's report is an open-ended document, like a job's."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from shipyard.client._paths import q

if TYPE_CHECKING:
    from shipyard.client.client import Client

__all__ = ["MonitorOperations"]

_PATH = "/api/v1/monitors"


class MonitorOperations:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._http = client.http

    def list(self) -> builtins.list[dict[str, Any]]:
        """The workspace's monitors: name, trigger, target, signals, enabled."""
        return list(self._http.request("GET", _PATH)["monitors"])

    def show(self, name: str, *, runs: int = 20, histograms: bool = False) -> dict[str, Any]:
        """``{"monitor": …, "runs": [newest first: job, status, window, signals with rows…]}``."""
        params = {"runs": runs, "histograms": "true" if histograms else "false"}
        answer: dict[str, Any] = self._http.request("GET", f"{_PATH}/{q(name)}", params=params)
        return answer

    def run(self, name: str) -> dict[str, Any]:
        """Submit the monitor's job now (as you): ``{"job", "run_id", "status"}``."""
        answer: dict[str, Any] = self._http.request("POST", f"{_PATH}/{q(name)}/run")
        return answer
