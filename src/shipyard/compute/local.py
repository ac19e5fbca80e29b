"""``local``: jobs as processes on the server's host, first in first out, N at a time.

Each job owns ``state_dir/<job_id>/``::

    submission.json   the submission (mode 0600: its variables may hold tokens)
    output.log        stdout and stderr, interleaved as written
    process.json      the supervisor's pid and creation time, once started
    exit.json         how the command ended, written by the supervisor
    intent.json       "cancel" (with the reason) or "timeout", written before killing
    status.json       the final status, written once
    lock              locked (flock) by the one target that manages the job

Everything a restarted server needs is in these files: a new :class:`LocalTarget` on the same
``state_dir`` queues again what had not started, re-attaches to supervisors still running
(checked by pid *and* creation time) and reports ``LOST`` for the ones that vanished without
an exit file. A terminal job's folder may be removed once its log has been copied.

Two targets may be open on one ``state_dir`` — another server on the same machine adopting
the jobs of one that stopped. Each job is managed (launched, reaped, timed out) by the
target holding its ``lock``, which the kernel releases when that target's process dies; a
target asked about a job it does not manage takes it over if its lock is free, and otherwise
answers from the files.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from shipyard.compute import _tree
from shipyard.errors import InvalidArgument, NotFound, Unavailable
from shipyard.services._clock import now_ms
from shipyard.services.compute import (
    ComputeConfig,
    ComputeTarget,
    LogChunk,
    Submission,
    TargetState,
    TargetStatus,
    check_job_id,
    process_environment,
)

__all__ = ["LocalTarget"]

logger = logging.getLogger(__name__)
_SUPERVISOR = str(Path(__file__).with_name("_supervise.py"))
# -I -S: the supervisor is standard library only; skipping site saves its start-up.
_SUPERVISE = (sys.executable, "-I", "-S", _SUPERVISOR)
_REATTACHED_POLL_S = 0.5  # supervisors of a previous server are not our children: poll them
# The dispatcher wakes at least hourly: a far deadline (a job stored before limits.timeout had
# a ceiling) must not overflow Condition.wait, which would end the dispatcher thread.
_MAX_WAIT_S = 3600.0


@dataclass
class _Job:
    sub: Submission
    state: TargetState = TargetState.QUEUED
    started_at: int | None = None
    pid: int | None = None
    create_time: float = 0.0
    popen: subprocess.Popen[bytes] | None = None
    intent: dict[str, Any] | None = None
    lock: int | None = None  # the fd holding the job's lock while this target manages it
    queued_ns: int = 0

    @property
    def deadline_ms(self) -> float | None:
        if self.sub.timeout_s is None or self.started_at is None:
            return None
        return self.started_at + self.sub.timeout_s * 1000


class LocalTarget(ComputeTarget):
    """Runs submissions as local processes, at most ``max_concurrent`` at a time.

    ``kill_grace_s`` is how long a canceled or timed-out job gets between SIGTERM and
    SIGKILL. ``server_env`` is the environment variables pass through from (default:
    ``os.environ``, read once here).
    """

    kind = "local"
    capabilities = frozenset({"reattach", "python_bin_dir"})

    def __init__(
        self,
        state_dir: Path,
        max_concurrent: int = 1,
        *,
        kill_grace_s: float = 5.0,
        server_env: Mapping[str, str] | None = None,
    ) -> None:
        if max_concurrent < 1:
            raise InvalidArgument(f"max_concurrent must be at least 1, got {max_concurrent}")
        self._dir = Path(state_dir)
        self._dir.mkdir(parents=True, exist_ok=True)
        self._max = max_concurrent
        self._grace = kill_grace_s
        self._env = dict(os.environ if server_env is None else server_env)
        self._shell = shutil.which("bash", path=self._env.get("PATH")) or "/bin/sh"
        self._cond = threading.Condition()
        self._queue: deque[str] = deque()
        self._active: dict[str, _Job] = {}  # queued, starting and running jobs
        self._killers: list[threading.Thread] = []
        self._listeners: list[Callable[[], None]] = []
        self._spare: subprocess.Popen[bytes] | None = None
        self._closed = False
        with self._cond:
            self._reattach()
            self._start_spare()  # the first job need not wait for a Python to start either
        self._thread = threading.Thread(target=self._dispatch, name="shipyard-local-target", daemon=True)
        self._thread.start()

    @classmethod
    def from_config(cls, config: ComputeConfig, state_dir: Path) -> LocalTarget:
        """``options``: ``kill_grace_s`` (seconds between SIGTERM and SIGKILL, default 5)."""
        unknown = set(config.options) - {"kill_grace_s"}
        if unknown:
            raise InvalidArgument(f"unknown options for a local compute target: {sorted(unknown)}")
        grace = float(config.options.get("kill_grace_s", 5.0))
        return cls(state_dir, config.max_concurrent, kill_grace_s=grace)

    # -- the interface ---------------------------------------------------------------

    def submit(self, sub: Submission) -> None:
        if not sub.working_dir.is_dir():
            raise InvalidArgument(f"working directory {sub.working_dir} does not exist")
        with self._cond:
            if self._closed:
                raise Unavailable("the local compute target is closed")
            job_dir = self._dir / sub.job_id
            if sub.job_id in self._active or (job_dir / "submission.json").exists():
                return
            job_dir.mkdir(exist_ok=True)
            lock = _try_lock(job_dir)
            if lock is None:
                return  # another target is submitting the same id
            (job_dir / "output.log").touch()
            # queued_ns keeps the FIFO order of jobs submitted in the same millisecond after a restart
            queued = {"queued_at": now_ms(), "queued_ns": time.time_ns()}
            _write_json(job_dir / "submission.json", {**_to_json(sub), **queued}, mode=0o600)
            self._active[sub.job_id] = _Job(sub, lock=lock)
            self._queue.append(sub.job_id)
            self._cond.notify_all()

    def status(self, job_id: str) -> TargetStatus:
        check_job_id(job_id)
        with self._cond:
            job = self._active.get(job_id) or self._take_over(job_id)
            if job is not None:
                message = _intent_message(job.intent, ongoing=True) if job.intent else ""
                return TargetStatus(job.state, message=message, started_at=job.started_at)
        final = _read_json(self._dir / job_id / "status.json")
        if final is None:
            return self._status_from_files(job_id)
        return TargetStatus(
            TargetState(final["state"]),
            exit_code=final.get("exit_code"),
            message=final.get("message", ""),
            started_at=final.get("started_at"),
            ended_at=final.get("ended_at"),
        )

    def logs(self, job_id: str, offset: int = 0, limit: int = 1 << 20) -> LogChunk:
        if offset < 0 or limit < 0:
            raise InvalidArgument("offset and limit must not be negative")
        ended = self.status(job_id).state.terminal  # before reading: no bytes can follow
        with open(self._dir / job_id / "output.log", "rb") as f:
            f.seek(offset)
            data = f.read(limit)
            size = os.fstat(f.fileno()).st_size
        next_offset = offset + len(data)
        return LogChunk(data, next_offset, complete=ended and next_offset >= size)

    def cancel(self, job_id: str, reason: str) -> None:
        check_job_id(job_id)
        with self._cond:
            job = self._active.get(job_id) or self._take_over(job_id)
            if job is None:
                if not self.status(job_id).state.terminal:  # NotFound for an unknown id
                    self._cancel_managed_elsewhere(job_id, reason)
                return
            if job.intent is not None:
                return
            if job.state is TargetState.QUEUED:
                self._queue.remove(job_id)
                self._finish(job, TargetState.CANCELED, None, f"canceled: {reason}")
                return
            self._kill(job, {"kind": "cancel", "reason": reason})

    def close(self) -> None:
        """Stop dispatching. Running jobs go on (a new target re-attaches); queued ones wait
        in ``state_dir`` for the next target; cancels in progress finish first."""
        with self._cond:
            self._closed = True
            self._stop_spare()
            self._cond.notify_all()
        self._thread.join()
        for killer in list(self._killers):
            killer.join()
        with self._cond:
            for job in self._active.values():
                _unlock(job)

    # -- jobs another target on this state_dir managed -----------------------------------

    def _take_over(self, job_id: str) -> _Job | None:
        """The job of a target that is gone (its lock is free), now managed here; None when
        the job ended, is unknown, or another live target manages it. Call under _cond."""
        job_dir = self._dir / job_id
        if self._closed or (job_dir / "status.json").exists() or not (job_dir / "submission.json").exists():
            return None
        lock = _try_lock(job_dir)
        if lock is None:
            return None
        job = self._reattach_one(job_dir, lock)
        if job is not None and job.state is TargetState.QUEUED:
            self._queue.append(job_id)
            self._cond.notify_all()
        return job

    def _status_from_files(self, job_id: str) -> TargetStatus:
        """A job another live target manages, as its files say."""
        job_dir = self._dir / job_id
        if not (job_dir / "submission.json").exists():
            raise NotFound(f"no job {job_id!r} on this local target")
        process = _read_json(job_dir / "process.json")
        if process is None:
            return TargetStatus(TargetState.QUEUED)
        ended = _read_json(job_dir / "exit.json")
        if ended is None:
            return TargetStatus(TargetState.RUNNING, started_at=process["started_at"])
        state, code, message = _outcome(ended, _read_json(job_dir / "intent.json"))
        return TargetStatus(state, code, message, process["started_at"], ended.get("ended_at"))

    def _cancel_managed_elsewhere(self, job_id: str, reason: str) -> None:
        """Kill the process tree ourselves: the intent file tells the managing target why."""
        job_dir = self._dir / job_id
        process = _read_json(job_dir / "process.json")
        if process is None:
            return
        _write_json(job_dir / "intent.json", {"kind": "cancel", "reason": reason})
        _tree.kill_tree(process["pid"], process["create_time"], self._grace)

    # -- the dispatcher ----------------------------------------------------------------

    def _dispatch(self) -> None:
        with self._cond:
            while not self._closed:
                try:
                    self._reap()
                    while self._queue and self._running() < self._max:
                        self._launch(self._active[self._queue.popleft()])
                    wait = self._next_wakeup_s()
                except Exception:  # a full disk must not stop the queue for good
                    logger.exception("local compute target: dispatching failed; retrying in 1 s")
                    wait = 1.0
                self._cond.wait(wait)

    def _running(self) -> int:
        return sum(1 for job in self._active.values() if job.state is not TargetState.QUEUED)

    def _next_wakeup_s(self) -> float | None:
        waits: list[float] = []
        now = now_ms()
        for job in self._active.values():
            if job.state is TargetState.RUNNING and job.popen is None:
                waits.append(_REATTACHED_POLL_S)
            deadline = job.deadline_ms
            if deadline is not None and job.intent is None:
                waits.append(max(0.0, (deadline - now) / 1000))
        return min(*waits, _MAX_WAIT_S) if waits else None

    def _launch(self, job: _Job) -> None:
        sub, job_dir = job.sub, self._dir / job.sub.job_id
        job.state = TargetState.STARTING
        env = process_environment(
            {**sub.env, **sub.secret_env}, self._env, sub.python_bin_dir or Path(sys.executable).parent
        )
        args = [str(job_dir / "output.log"), str(job_dir / "exit.json"), str(sub.working_dir)]
        command = [self._shell, "-c", sub.command]
        job.started_at = now_ms()
        try:
            popen = self._take_spare()
            if popen is not None:
                # The job goes to a supervisor that started before it, through a pipe: its
                # secrets never touch the disk, and the job does not wait for a Python.
                fields = [*args, str(len(command)), *command, *(f"{k}={v}" for k, v in env.items())]
                try:
                    assert popen.stdin is not None
                    popen.stdin.write(b"".join(f.encode("utf-8", "surrogateescape") + b"\0" for f in fields))
                    popen.stdin.close()
                except OSError:  # it died waiting (killed from outside): start one for the job
                    threading.Thread(target=popen.wait, daemon=True).start()  # reaped, not a zombie
                    popen = None
            if popen is None:
                with open(job_dir / "output.log", "ab") as log:
                    popen = subprocess.Popen(
                        [*_SUPERVISE, *args, *command], env=env, stdin=subprocess.DEVNULL,
                        stdout=log, stderr=log, start_new_session=True,
                    )  # fmt: skip
            create_time = psutil.Process(popen.pid).create_time()
        except (OSError, psutil.Error) as exc:
            self._finish(job, TargetState.FAILED, None, f"could not start the process: {exc}")
            return
        job.popen, job.pid, job.create_time = popen, popen.pid, create_time
        _write_json(
            job_dir / "process.json",
            {"pid": popen.pid, "create_time": create_time, "started_at": job.started_at},
        )
        job.state = TargetState.RUNNING
        threading.Thread(target=self._wait_for, args=(popen,), daemon=True).start()
        self._tell()
        self._start_spare()  # for the next job, while this one runs

    def _start_spare(self) -> None:
        """A supervisor waiting for its job (``_supervise.py --wait``). Call under _cond."""
        if self._spare is not None or self._closed:
            return
        env = process_environment({}, self._env, Path(sys.executable).parent)
        try:
            self._spare = subprocess.Popen(
                [*_SUPERVISE, "--wait"], env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        except OSError:
            logger.exception("local compute target: starting a spare supervisor failed")

    def _take_spare(self) -> subprocess.Popen[bytes] | None:
        """The spare supervisor, if one is alive (else the job starts its own)."""
        spare, self._spare = self._spare, None
        if spare is not None and spare.poll() is not None:
            return None
        return spare

    def _stop_spare(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None and spare.stdin is not None:
            spare.stdin.close()  # closed empty: it exits, recording nothing
            threading.Thread(target=spare.wait, daemon=True).start()  # reaped, not a zombie

    def _wait_for(self, popen: subprocess.Popen[bytes]) -> None:
        popen.wait()
        with self._cond:
            self._cond.notify_all()

    def _reap(self) -> None:
        now = now_ms()
        for job in list(self._active.values()):
            if job.state is not TargetState.RUNNING or job.intent is not None:
                continue  # a killer thread finishes the jobs it kills
            if not self._alive(job):
                self._finish_from_exit_file(job)
            elif job.deadline_ms is not None and now >= job.deadline_ms:
                self._kill(job, {"kind": "timeout", "timeout_s": job.sub.timeout_s})

    def _alive(self, job: _Job) -> bool:
        if job.popen is not None:
            return job.popen.poll() is None
        assert job.pid is not None
        return _tree.same_process(job.pid, job.create_time) is not None

    def _finish_from_exit_file(self, job: _Job, lost: str = "") -> None:
        ended = _read_json(self._dir / job.sub.job_id / "exit.json")
        if ended is None:
            self._kill_orphans(job)
            why = lost or "the supervisor process died without recording how the command ended"
            self._finish(job, TargetState.LOST, None, f"process lost: {why}")
            return
        state, code, message = _outcome(ended, _read_json(self._dir / job.sub.job_id / "intent.json"))
        self._finish(job, state, code, message, ended)

    def _kill_orphans(self, job: _Job) -> None:
        if job.pid is not None:
            _tree.kill_tree(job.pid, job.create_time, grace_s=0.0)

    # -- cancels and timeouts ---------------------------------------------------------

    def _kill(self, job: _Job, intent: dict[str, Any]) -> None:
        job.intent = intent
        _write_json(self._dir / job.sub.job_id / "intent.json", intent)
        killer = threading.Thread(target=self._kill_and_finish, args=(job,), daemon=True)
        self._killers.append(killer)
        killer.start()

    def _kill_and_finish(self, job: _Job) -> None:
        assert job.pid is not None
        assert job.intent is not None
        _tree.kill_tree(job.pid, job.create_time, self._grace)
        with self._cond:
            ended = _read_json(self._dir / job.sub.job_id / "exit.json") or {}
            state = TargetState.CANCELED if job.intent["kind"] == "cancel" else TargetState.FAILED
            self._finish(job, state, None, _intent_message(job.intent), ended)
            self._killers.remove(threading.current_thread())

    def _finish(
        self,
        job: _Job,
        state: TargetState,
        exit_code: int | None,
        message: str,
        ended: Mapping[str, Any] | None = None,
    ) -> None:
        final = {
            "state": state.value,
            "exit_code": exit_code,
            "message": message,
            "started_at": job.started_at,
            "ended_at": (ended or {}).get("ended_at") or now_ms(),
        }
        _write_json(self._dir / job.sub.job_id / "status.json", final)
        job.state = state
        self._active.pop(job.sub.job_id, None)
        _unlock(job)
        self._cond.notify_all()
        self._tell()

    def listen(self, changed: Callable[[], None]) -> None:
        self._listeners.append(changed)

    def _tell(self) -> None:
        for changed in self._listeners:
            changed()  # sets an event: cheap, safe under the lock

    # -- after a restart ----------------------------------------------------------------

    def _reattach(self) -> None:
        queued: list[tuple[int, _Job]] = []
        for job_dir in sorted(p for p in self._dir.iterdir() if p.is_dir()):
            if (job_dir / "status.json").exists() or not (job_dir / "submission.json").exists():
                continue  # ended, or a submit that never returned: not acknowledged, not ours
            lock = _try_lock(job_dir)
            if lock is None:
                continue  # another live target on this state_dir manages it
            job = self._reattach_one(job_dir, lock)
            if job is not None and job.state is TargetState.QUEUED:
                queued.append((job.queued_ns, job))
        for _, job in sorted(queued, key=lambda pair: pair[0]):
            self._queue.append(job.sub.job_id)

    def _reattach_one(self, job_dir: Path, lock: int) -> _Job | None:
        """The job in ``job_dir`` (its lock held), managed here from now on; None if it ended."""
        saved = _read_json(job_dir / "submission.json")
        if saved is None or (job_dir / "status.json").exists():
            os.close(lock)
            return None
        job = _Job(_from_json(saved), lock=lock, queued_ns=saved["queued_ns"])
        self._active[job.sub.job_id] = job
        process = _read_json(job_dir / "process.json")
        if process is None:
            if saved.get("secret_env_keys"):
                # Its token and secrets lived in the previous server's memory only.
                self._finish(
                    job,
                    TargetState.LOST,
                    None,
                    "the server restarted before the job started, and its token and secrets"
                    " are never kept on disk: submit it again",
                )
            return job
        job.state = TargetState.RUNNING
        job.pid, job.create_time = process["pid"], process["create_time"]
        job.started_at = process["started_at"]
        job.intent = _read_json(job_dir / "intent.json")
        if job.intent is not None:
            self._kill(job, job.intent)  # the previous server was killing it: finish that
        elif not self._alive(job):
            self._finish_from_exit_file(job, lost="the server restarted and the process is gone")
        return job


def _to_json(sub: Submission) -> dict[str, Any]:
    return {
        "job_id": sub.job_id,
        "command": sub.command,
        "working_dir": str(sub.working_dir),
        "env": dict(sub.env),
        "python_bin_dir": None if sub.python_bin_dir is None else str(sub.python_bin_dir),
        "pip": list(sub.pip),
        "timeout_s": sub.timeout_s,
        "secret_env_keys": sorted(sub.secret_env),  # names only: values stay in memory
    }


def _from_json(data: Mapping[str, Any]) -> Submission:
    return Submission(
        job_id=data["job_id"],
        command=data["command"],
        working_dir=Path(data["working_dir"]),
        env=data["env"],
        python_bin_dir=None if data["python_bin_dir"] is None else Path(data["python_bin_dir"]),
        pip=tuple(data["pip"]),
        timeout_s=data["timeout_s"],
    )


def _write_json(path: Path, payload: Mapping[str, Any], mode: int = 0o644) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(payload, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    return data if isinstance(data, dict) else None


def _try_lock(job_dir: Path) -> int | None:
    """An fd holding ``job_dir``'s lock, or None when another target holds it. flock locks
    belong to the open file: two targets in one process exclude each other too."""
    fd = os.open(job_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _unlock(job: _Job) -> None:
    if job.lock is not None:
        os.close(job.lock)
        job.lock = None


def _outcome(
    ended: Mapping[str, Any], intent: Mapping[str, Any] | None
) -> tuple[TargetState, int | None, str]:
    """How a command ended, from the supervisor's exit file and why it was killed, if it was
    (an intent a target on this state_dir that did not manage the job wrote before killing)."""
    if intent is not None:
        state = TargetState.CANCELED if intent["kind"] == "cancel" else TargetState.FAILED
        return state, None, _intent_message(intent)
    if "signal" in ended:
        return TargetState.FAILED, None, f"killed by signal {_signal_name(ended['signal'])}"
    code = ended["exit_code"]
    if code == 0:
        return TargetState.SUCCEEDED, 0, ""
    return TargetState.FAILED, code, f"exit code {code}"


def _intent_message(intent: Mapping[str, Any], *, ongoing: bool = False) -> str:
    if intent["kind"] == "cancel":
        return f"{'canceling' if ongoing else 'canceled'}: {intent['reason']}"
    return f"{'timing out' if ongoing else 'timed out'} after {intent['timeout_s']:g} s"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
