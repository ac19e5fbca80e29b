"""Schedules over HTTP: ``client.operations(ScheduleOperations)`` (``client.schedules`` once the
first resources' table names it)."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.api import schedules as api
from shipyard.client._convert import decode
from shipyard.client._paths import q

if TYPE_CHECKING:
    from shipyard.client.client import Client, Progress

__all__ = ["ScheduleOperations"]

_PATH = "/api/v1/schedules"


class ScheduleOperations:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._http = client.http

    def create(
        self,
        path: str | Path,
        overrides: builtins.list[str] | tuple[str, ...] = (),
        *,
        step: Callable[[str], None] | None = None,
        progress: Progress | None = None,
    ) -> api.Schedule:
        """Read a schedule file and the job it fires (a file beside it, or inline), upload the
        job's code and local inputs as ``job create`` does, and create the schedule. Every
        problem with either file is an :class:`~shipyard.errors.InvalidSpec` naming its line,
        raised before anything is uploaded."""
        from shipyard.specs.monitor import is_monitor_file
        from shipyard.specs.schedule import load_schedule

        say = step or (lambda _line: None)
        if is_monitor_file(Path(path)):
            return self._create_monitor(Path(path), overrides, say, progress)
        loaded = load_schedule(Path(path), overrides)
        body = {"spec": dict(loaded.fields), "job": self._job_body(loaded.job, say, progress),
                "source": loaded.source.name}  # fmt: skip
        return decode(api.Schedule, self._http.request("POST", _PATH, json=body))

    def _create_monitor(
        self,
        path: Path,
        overrides: builtins.list[str] | tuple[str, ...],
        say: Callable[[str], None],
        progress: Progress | None,
    ) -> api.Schedule:
        """A monitor file (Azure ML's ``trigger`` + ``create_monitor``): a schedule of a
        ``monitor`` job, which carries the file and the retraining jobs its actions name
        (their code uploaded now, as ``job create`` does)."""
        from shipyard.specs.monitor import load_monitor, monitor_body

        loaded = load_monitor(path, overrides)
        for note in loaded.spec.notes():
            say(note)
        actions = {name: self._job_body(job, say, progress) for name, job in loaded.actions.items()}
        job = monitor_body(loaded.fields, actions, loaded.source.name)
        job["spec"] = _plain(job["spec"])
        body = {"spec": dict(loaded.schedule), "job": job, "source": loaded.source.name}
        return decode(api.Schedule, self._http.request("POST", _PATH, json=body))

    def _job_body(self, loaded: Any, say: Callable[[str], None], progress: Progress | None) -> dict[str, Any]:
        """What ``POST /api/v1/jobs`` would be sent for this job file (the one way
        ``job create`` builds it); the server checks the job when it takes the schedule."""
        from shipyard.client.jobs import JobOperations

        body = JobOperations(self._client).prepare_body(loaded, step=say, progress=progress, check=False)
        body["spec"] = _plain(body["spec"])
        return body

    def get(self, name: str, *, firings: int = 20) -> api.ScheduleDetails:
        """The schedule with its next ticks and its newest firings (missed ticks among them)."""
        data = self._http.request("GET", f"{_PATH}/{q(name)}", params={"firings": firings})
        return api.ScheduleDetails(
            schedule=decode(api.Schedule, data["schedule"]),
            next_ticks=list(data.get("next_ticks") or []),
            firings=[decode(api.Firing, f) for f in data.get("firings") or []],
        )

    def list(self) -> builtins.list[api.Schedule]:
        return [decode(api.Schedule, s) for s in self._http.request("GET", _PATH)["schedules"]]

    def enable(self, name: str) -> api.Schedule:
        return decode(api.Schedule, self._http.request("POST", f"{_PATH}/{q(name)}/enable"))

    def disable(self, name: str) -> api.Schedule:
        return decode(api.Schedule, self._http.request("POST", f"{_PATH}/{q(name)}/disable"))

    def delete(self, name: str) -> None:
        self._http.request("DELETE", f"{_PATH}/{q(name)}")


def _plain(value: Any) -> Any:
    from shipyard.specs.schedule import plain

    return plain(value)
