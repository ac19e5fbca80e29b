"""``ray``: jobs on a Ray cluster through the Ray Jobs API (``shipyard[ray]``).

The job id is Ray's ``submission_id``, so Ray itself remembers every job: a new
:class:`RayTarget` (after a server restart, or on another server adopting the job) reports
on and cancels what an earlier one submitted. A job's timeout travels with it in Ray's job
metadata; why it was stopped is kept in ``state_dir/<job_id>.json`` (a target that finds no
record there reads the timeout from the metadata). Ray is imported only when a target is
opened.
"""

from __future__ import annotations

import json
import os
import shlex
import threading
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidArgument, NotFound, ShipyardError, Unavailable
from shipyard.services._clock import now_ms
from shipyard.services.compute import (
    ComputeConfig,
    ComputeTarget,
    LogChunk,
    Submission,
    TargetState,
    TargetStatus,
    check_job_id,
)

__all__ = ["RayTarget"]

_STATES = {
    "PENDING": TargetState.STARTING,  # waiting for resources or building its runtime_env
    "RUNNING": TargetState.RUNNING,
    "SUCCEEDED": TargetState.SUCCEEDED,
    "FAILED": TargetState.FAILED,
    "STOPPED": TargetState.CANCELED,
}
_TIMEOUT_POLL_S = 1.0
_TIMEOUT_KEY = "shipyard_timeout_s"


class RayTarget(ComputeTarget):
    """Submits to the Ray cluster whose dashboard listens at ``address``
    (``http://127.0.0.1:8265``). ``entrypoint_num_cpus`` reserves CPUs for each job's
    command (Ray's default is 0: every job starts at once)."""

    kind = "ray"
    # remote: the cluster is reached from any server, so any server can adopt its jobs.
    capabilities = frozenset({"reattach", "pip", "remote"})

    def __init__(self, address: str, state_dir: Path, *, entrypoint_num_cpus: float | None = None) -> None:
        try:
            from ray.job_submission import JobSubmissionClient
        except ImportError as exc:
            raise InvalidArgument(
                f"the 'ray' compute target needs Ray ({exc}): pip install 'shipyard[ray]'"
            ) from exc
        try:
            self._client = JobSubmissionClient(address)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise Unavailable(f"cannot reach the Ray Jobs API at {address}: {exc}") from exc
        self._dir = Path(state_dir)
        self._dir.mkdir(parents=True, exist_ok=True)
        self._cpus = entrypoint_num_cpus
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._timed = {
            p.stem for p in self._dir.glob("*.json") if (self._record(p.stem) or {}).get("timeout_s")
        }
        self._watcher = threading.Thread(
            target=self._watch_timeouts, name="shipyard-ray-timeouts", daemon=True
        )
        self._watcher.start()

    @classmethod
    def from_config(cls, config: ComputeConfig, state_dir: Path) -> RayTarget:
        """``address``: the dashboard URL; ``options``: ``entrypoint_num_cpus``."""
        if not config.address:
            raise InvalidArgument("a ray compute target needs an address, e.g. http://127.0.0.1:8265")
        unknown = set(config.options) - {"entrypoint_num_cpus"}
        if unknown:
            raise InvalidArgument(f"unknown options for a ray compute target: {sorted(unknown)}")
        cpus = config.options.get("entrypoint_num_cpus")
        return cls(config.address, state_dir, entrypoint_num_cpus=None if cpus is None else float(cpus))

    def submit(self, sub: Submission) -> None:
        if not sub.working_dir.is_dir():
            raise InvalidArgument(f"working directory {sub.working_dir} does not exist")
        if self._info(sub.job_id) is not None:
            return
        self._save(sub.job_id, {"timeout_s": sub.timeout_s, "intent": None})
        runtime_env: dict[str, Any] = {
            "working_dir": str(sub.working_dir),
            "env_vars": {"PYTHONUNBUFFERED": "1", **sub.env, **sub.secret_env},
        }
        if sub.pip:
            runtime_env["pip"] = list(sub.pip)
        try:
            self._client.submit_job(
                entrypoint=_entrypoint(sub.command),
                submission_id=sub.job_id,
                runtime_env=runtime_env,
                entrypoint_num_cpus=self._cpus,
                metadata={} if sub.timeout_s is None else {_TIMEOUT_KEY: str(sub.timeout_s)},
            )
        except (RuntimeError, OSError) as exc:  # requests' errors are OSErrors
            if "already" not in str(exc):  # a concurrent submit of the same id won the race
                raise Unavailable(f"Ray refused job {sub.job_id}: {exc}") from exc
        if sub.timeout_s is not None:
            with self._lock:
                self._timed.add(sub.job_id)

    def status(self, job_id: str) -> TargetStatus:
        info = self._info(job_id)
        if info is None:
            raise NotFound(f"no job {job_id!r} on the Ray cluster")
        record = self._record(job_id) or self._adopt_record(job_id, info)
        state = _STATES.get(str(info.status), TargetState.LOST)
        started, ended = info.start_time, info.end_time
        intent = record.get("intent")
        if state is TargetState.RUNNING and intent is None and record.get("timeout_s"):
            intent = self._enforce_timeout(job_id, record)
        if not state.terminal:
            return TargetStatus(state, message=_ongoing(intent), started_at=started)
        exit_code = info.driver_exit_code
        if intent is not None and state is not TargetState.SUCCEEDED:
            state = TargetState.CANCELED if intent["kind"] == "cancel" else TargetState.FAILED
            message = _ended(intent)
        elif state is TargetState.CANCELED:
            message = "canceled: stopped in Ray"
        elif state is TargetState.FAILED:
            message = f"exit code {exit_code}" if exit_code else (info.message or "failed")
        else:
            message = ""
        return TargetStatus(state, exit_code=exit_code, message=message, started_at=started, ended_at=ended)

    def logs(self, job_id: str, offset: int = 0, limit: int = 1 << 20) -> LogChunk:
        """The whole log is fetched and sliced: Ray's HTTP API has no offsets (its
        ``tail_job_logs`` websocket follows from the start only)."""
        if offset < 0 or limit < 0:
            raise InvalidArgument("offset and limit must not be negative")
        ended = self.status(job_id).state.terminal
        try:
            text = self._client.get_job_logs(job_id).encode()
        except (RuntimeError, OSError) as exc:
            raise Unavailable(f"the Ray Jobs API failed: {exc}") from exc
        data = text[offset : offset + limit]
        next_offset = offset + len(data)
        return LogChunk(data, next_offset, complete=ended and next_offset >= len(text))

    def cancel(self, job_id: str, reason: str) -> None:
        status = self.status(job_id)
        record = self._record(job_id) or {"timeout_s": None}
        if status.state.terminal or record.get("intent") is not None:
            return
        self._stop_job(job_id, {**record, "intent": {"kind": "cancel", "reason": reason}})

    def close(self) -> None:
        self._stop.set()
        self._watcher.join()

    # -- helpers -------------------------------------------------------------------------

    def _info(self, job_id: str) -> Any:
        check_job_id(job_id)
        try:
            return self._client.get_job_info(job_id)
        except (RuntimeError, OSError) as exc:
            if "404" in str(exc):
                return None
            raise Unavailable(f"the Ray Jobs API failed: {exc}") from exc

    def _enforce_timeout(self, job_id: str, record: dict[str, Any]) -> dict[str, Any] | None:
        """Stop a job running past its timeout, counted from when it was first seen running
        (Ray's ``start_time`` is the submission; building a runtime env is not running)."""
        if record.get("running_since") is None:
            self._save(job_id, {**record, "running_since": now_ms()})
            return None
        if now_ms() < record["running_since"] + record["timeout_s"] * 1000:
            return None
        intent = {"kind": "timeout", "timeout_s": record["timeout_s"]}
        self._stop_job(job_id, {**record, "intent": intent})
        return intent

    def _stop_job(self, job_id: str, record: dict[str, Any]) -> None:
        self._save(job_id, record)
        try:
            self._client.stop_job(job_id)
        except (RuntimeError, OSError) as exc:
            raise Unavailable(f"Ray could not stop job {job_id}: {exc}") from exc

    def _watch_timeouts(self) -> None:
        while not self._stop.wait(_TIMEOUT_POLL_S):
            with self._lock:
                timed = list(self._timed)
            for job_id in timed:
                try:
                    ended = self.status(job_id).state.terminal  # status() enforces the timeout
                except ShipyardError:  # Ray unreachable for now: try again next round
                    ended = False
                if ended:
                    with self._lock:
                        self._timed.discard(job_id)

    def _adopt_record(self, job_id: str, info: Any) -> dict[str, Any]:
        """The record of a job another server submitted: its timeout from Ray's metadata."""
        timeout = (getattr(info, "metadata", None) or {}).get(_TIMEOUT_KEY)
        if timeout is None:
            return {}
        record: dict[str, Any] = {"timeout_s": float(timeout), "intent": None}
        self._save(job_id, record)
        with self._lock:
            self._timed.add(job_id)
        return record

    def _record(self, job_id: str) -> dict[str, Any] | None:
        try:
            with open(self._dir / f"{job_id}.json", encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return None
        return data if isinstance(data, dict) else None

    def _save(self, job_id: str, record: dict[str, Any]) -> None:
        path = self._dir / f"{job_id}.json"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, path)


def _entrypoint(command: str) -> str:
    """``command`` under a shell that passes a stop on to its whole process group.

    Ray starts the entrypoint in a session of its own but signals only the processes it
    sees at that moment, so a child forked a moment later would outlive a cancel; this shell
    leads the group and forwards the signal to all of it. bash runs the command, as on
    ``local``, where the node has it."""
    inner = shlex.quote(command)
    return (
        f"trap 'trap - TERM INT; kill -TERM 0' TERM INT; $(command -v bash || echo sh) -c {inner} & wait $!"
    )


def _ongoing(intent: dict[str, Any] | None) -> str:
    if intent is None:
        return ""
    if intent["kind"] == "cancel":
        return f"canceling: {intent['reason']}"
    return f"timing out after {intent['timeout_s']:g} s"


def _ended(intent: dict[str, Any]) -> str:
    if intent["kind"] == "cancel":
        return f"canceled: {intent['reason']}"
    return f"timed out after {intent['timeout_s']:g} s"
