"""One instance of a deployment: a thread that starts its worker process, probes it, restarts
it when it dies, and stops it (drained) when told to.

The thread's life::

    start the worker ──► probe /ready every 0.1 s until it passes (Starting → Ready)
          ▲              then /ready and /live every ``period`` s (Ready ⇄ Unhealthy)
          │              liveness failing ``failure_threshold`` times → killed, as a crash
          │                              │
          └── back-off 1, 2, 4 … 30 s ◄──┴── the process exited (Crashed, or Failed when
                                             it could not load: the reason is in its failure file)

While an instance starts, ``/ready`` is asked every 0.1 s rather than every ``period`` — on a
UNIX socket a probe costs microseconds and a deployment is ready as soon as its model is;
``initial_delay + failure_threshold * period`` is still the time it gets before it is
reported Failed ("readiness probe failed N times"). State lives under the runtime's
condition; every change notifies it.

Each worker process gets a socket path of its own (``socket_paths()``), and the instance's
state, pid and address change together, under the condition: a snapshot never shows a
Ready instance whose process has already been found dead, nor a restarted worker's pid
beside the address of the worker before it. Once a process is reaped its socket file is
removed, so no path is ever left bound to nothing or shared by two processes (a scale down
and up again, or a restart, would otherwise rebind the path a draining worker still answers
on).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from shipyard.services.serving_ports import DeploymentPlan, Instance, InstanceState, Probe
from shipyard.serving._deploylog import DeploymentLog
from shipyard.serving._probe import probe

_STARTING_POLL_S = 0.1
_EXIT_LOAD_FAILED = 3  # shipyard.serving.worker.EXIT_LOAD_FAILED (not imported: uvicorn is heavy)
_WORKER_DRAIN_S = 300.0  # uvicorn's own limit; the runtime's drain_s decides when to SIGKILL


class StopRequested(Exception):
    pass


class InstanceSupervisor:
    def __init__(
        self,
        *,
        plan: DeploymentPlan,
        plan_file: Path,
        index: int,
        socket_paths: Callable[[], Path],
        log: DeploymentLog,
        cond: threading.Condition,
        env: dict[str, str],
        cwd: Path,
        backoff: tuple[float, float, float],
        on_change: Callable[[], None],
        parent_fd: int,
        owner_dir: Path,
    ) -> None:
        self.plan = plan
        self.index = index
        self._socket_paths = socket_paths
        # The current process's socket (the next one's until it starts); changed under the
        # condition, with ``pid``.
        self.socket_path = socket_paths()
        self.address = _address(self.socket_path)
        self.pid: int | None = None  # the current worker process while it is known to run
        self._plan_file = plan_file
        self._log = log
        self._cond = cond
        self._env = env
        self._cwd = cwd
        self._backoff_base, self._backoff_cap, self._backoff_reset = backoff
        self._on_change = on_change
        self._parent_fd, self._owner_dir = parent_fd, owner_dir
        self.state = InstanceState.STARTING
        self.message = "starting"
        self.restarts = 0
        self._crashes_in_row = 0
        self._ready_since: float | None = None
        self._ready_this_run = False
        self._liveness_kill = ""
        self._runs = 0  # worker processes started so far
        self.finished = False  # the thread is done: the process is gone
        self._popen: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._drain_s = 0.0
        self._handoff_s = 0.0
        self._thread = threading.Thread(target=self._run, name=f"instance-{plan.key}-{index}", daemon=True)

    # -- called by the runtime, under its condition ------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, drain_s: float, handoff_s: float) -> None:
        """Stop taking traffic now; after ``handoff_s`` SIGTERM, after ``drain_s`` more SIGKILL."""
        if self._stop.is_set():
            return
        self._drain_s, self._handoff_s = drain_s, handoff_s
        self._stop.set()
        if self.state is InstanceState.READY:
            self.message = "draining"
        self.state = InstanceState.STOPPED

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def snapshot(self) -> Instance:
        """Under the condition: state, pid and address as the thread last set them together
        (not ``Popen.returncode``, which turns before the state does)."""
        return Instance(
            index=self.index,
            state=self.state,
            address=self.address,
            pid=self.pid,
            restarts=self.restarts,
            message=self.message,
            revision=self.plan.revision,
        )

    # -- the thread --------------------------------------------------------------------

    def _set(self, state: InstanceState, message: str) -> None:
        with self._cond:
            self._set_locked(state, message)

    def _set_locked(self, state: InstanceState, message: str) -> None:
        """Under the condition, so that callers change pid, address or restarts in the same step."""
        if self._stop.is_set() and state is not InstanceState.STOPPED:
            return
        if state is InstanceState.READY and self.state is not InstanceState.READY:
            self._ready_since = time.monotonic()
        elif state is not InstanceState.READY:
            self._ready_since = None
        self.state, self.message = state, message
        self._on_change()
        self._cond.notify_all()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                why = self._run_once()
                if self._stop.is_set():
                    break
                self._after_crash(why)
        except StopRequested:
            pass
        finally:
            self._terminate()
            self._remove_files()
            with self._cond:
                self.finished, self.pid = True, None
                self._set_locked(InstanceState.STOPPED, "stopped")

    def _run_once(self) -> str:
        """Start the worker and watch it; return why it ended (it is dead by then)."""
        self._popen, self._ready_this_run = None, False
        # A fresh path for every process: the one before may still be draining on its own.
        path = self.socket_path if self._runs == 0 else self._socket_paths()
        self._runs += 1
        python = str(self.plan.python_bin_dir / "python") if self.plan.python_bin_dir else sys.executable
        argv = [python, "-m", "shipyard.serving.worker", "--plan", str(self._plan_file)]
        argv += ["--index", str(self.index), "--bind", f"unix:{path}"]
        argv += ["--failure-file", str(_failure_file(path)), "--drain-s", str(_WORKER_DRAIN_S)]
        argv += ["--parent-fd", str(self._parent_fd), "--owner-dir", str(self._owner_dir)]
        started = time.monotonic()
        try:
            popen = subprocess.Popen(
                argv,
                cwd=self._cwd,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(self._parent_fd,),  # the runtime's pipe: EOF when this process is gone
            )
        except OSError as exc:
            return f"could not start the worker ({python}): {exc}"
        assert popen.stdout is not None
        self._log.pump(f"worker {self.index}", popen.stdout)
        self._log.event(f"worker {self.index} started (pid {popen.pid}, revision {self.plan.revision})")
        self._started(popen, path)
        if self._wait_until_ready(popen, started):
            self._watch(popen)
        return self._exit_reason(popen)

    def _started(self, popen: subprocess.Popen[bytes], path: Path) -> None:
        with self._cond:
            self._popen, self.pid = popen, popen.pid
            self.socket_path, self.address = path, _address(path)
            if self.state is not InstanceState.FAILED:  # a Failed instance stays Failed until Ready
                self._set_locked(InstanceState.STARTING, "loading the model")

    def _wait_until_ready(self, popen: subprocess.Popen[bytes], started: float) -> bool:
        rp = self.plan.readiness
        give_up = started + rp.initial_delay + rp.failure_threshold * rp.period
        successes, reported = 0, False
        while popen.poll() is None:
            error = probe(str(self.socket_path), "/ready", rp.timeout)
            if self._stop.is_set():
                raise StopRequested
            successes = successes + 1 if error is None else 0
            if successes >= rp.success_threshold:
                self._ready_this_run = True
                self._log.event(f"worker {self.index} ready after {time.monotonic() - started:.2f} s")
                self._set(InstanceState.READY, "")
                return True
            if error is not None and not reported and time.monotonic() >= give_up:
                reported = True
                why = f"readiness probe failed {rp.failure_threshold} times: {error}"
                self._log.event(f"worker {self.index}: {why}")
                self._set(InstanceState.FAILED, why)
            if self._stop.wait(_STARTING_POLL_S):
                raise StopRequested
        return False

    def _watch(self, popen: subprocess.Popen[bytes]) -> None:
        """Probe a worker that has been ready, until it exits (or liveness kills it)."""
        live, ready = self.plan.liveness, self.plan.readiness
        now = time.monotonic()
        next_live, next_ready = now + live.period, now + ready.period
        live_failures = ready_failures = ready_successes = 0
        while popen.poll() is None:
            if self._stop.wait(
                min(_STARTING_POLL_S, max(0.0, min(next_live, next_ready) - time.monotonic()))
            ):
                raise StopRequested
            now = time.monotonic()
            if now >= next_ready:
                next_ready = now + ready.period
                ready_failures, ready_successes = self._readiness(ready, ready_failures, ready_successes)
            if now >= next_live:
                next_live = now + live.period
                error = probe(str(self.socket_path), "/live", live.timeout)
                live_failures = 0 if error is None else live_failures + 1
                if error is not None:
                    self._log.event(f"worker {self.index}: liveness probe failed ({live_failures}): {error}")
                if live_failures >= live.failure_threshold:
                    self._log.event(
                        f"worker {self.index}: liveness probe failed {live_failures} times; killing it"
                    )
                    self._kill(popen, signal.SIGKILL)
                    popen.wait()
                    self._liveness_kill = f"liveness probe failed {live_failures} times: {error}"

    def _readiness(self, rp: Probe, failures: int, successes: int) -> tuple[int, int]:
        error = probe(str(self.socket_path), "/ready", rp.timeout)
        if error is None:
            successes += 1
            if self.state is InstanceState.UNHEALTHY and successes >= rp.success_threshold:
                self._log.event(f"worker {self.index} ready again")
                self._set(InstanceState.READY, "")
            return 0, successes
        failures += 1
        self._log.event(f"worker {self.index}: readiness probe failed ({failures}): {error}")
        if failures >= rp.failure_threshold and self.state is InstanceState.READY:
            self._set(InstanceState.UNHEALTHY, f"readiness probe failed {failures} times: {error}")
        return failures, 0

    def _exit_reason(self, popen: subprocess.Popen[bytes]) -> str:
        code = popen.wait()
        # What it started in its process group could still hold its socket: gone with it.
        self._kill(popen, signal.SIGKILL)
        failure_file = _failure_file(self.socket_path)
        try:
            if self._liveness_kill:
                why, self._liveness_kill = self._liveness_kill, ""
                return why
            if code == _EXIT_LOAD_FAILED and failure_file.is_file():
                return failure_file.read_text(encoding="utf-8", errors="replace").strip()
            if code < 0:
                return f"killed by signal {_signal_name(-code)}"
            return f"exited with code {code}"
        finally:
            self._remove_files()

    def _remove_files(self) -> None:
        """The reaped process's socket (nothing listens on it any more) and failure file."""
        for path in (self.socket_path, _failure_file(self.socket_path)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _after_crash(self, why: str) -> None:
        popen = self._popen
        pid = f" (pid {popen.pid})" if popen is not None else ""
        loading = not self._ready_this_run  # it never served: Failed, with the reason, for wait_ready
        if self._ready_since is not None and time.monotonic() - self._ready_since >= self._backoff_reset:
            self._crashes_in_row = 0
        self._crashes_in_row += 1
        delay = min(self._backoff_cap, self._backoff_base * 2 ** (self._crashes_in_row - 1))
        state = InstanceState.FAILED if loading else InstanceState.CRASHED
        verb = "could not start" if loading else "crashed"
        self._log.event(f"worker {self.index}{pid} {verb}: {why}; restarting in {delay:g} s")
        with self._cond:  # one step: no snapshot shows it Ready without a process, or counted twice
            self.restarts += 1
            self.pid = None
            self._set_locked(state, f"{why} (restarting in {delay:g} s)")
        if self._stop.wait(delay):
            raise StopRequested

    def _terminate(self) -> None:
        popen = self._popen
        if popen is None or popen.poll() is not None:
            return
        if self._handoff_s > 0:
            time.sleep(self._handoff_s)  # routers that picked this instance a moment ago still reach it
        started = time.monotonic()
        self._kill(popen, signal.SIGTERM)
        try:
            popen.wait(self._drain_s)
            self._log.event(
                f"worker {self.index} (pid {popen.pid}) stopped after {time.monotonic() - started:.2f} s"
            )
        except subprocess.TimeoutExpired:
            self._log.event(
                f"worker {self.index} (pid {popen.pid}) still busy after {self._drain_s:g} s: killed"
            )
        self._kill(popen, signal.SIGKILL)  # and whatever it left in its process group
        popen.wait()

    def _kill(self, popen: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        # The worker leads its own process group (start_new_session): its children go too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, sig)


def _address(socket_path: Path) -> str:
    return "http+unix://" + quote(str(socket_path), safe="")


def _failure_file(socket_path: Path) -> Path:
    return socket_path.with_suffix(".failure")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
