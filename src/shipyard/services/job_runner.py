"""The job runner: takes queued jobs to their compute targets and follows them to the end.

Any number of servers on one database run one each; they share the queue through leases
(see :mod:`shipyard.services.job_ports`). One thread ticks every ``poll_s``:

1. **Claim** — when woken (a job created, canceled or ended on any server: in-process, or
   PostgreSQL's NOTIFY) and every ``queue_poll_s`` otherwise, the oldest ``Queued`` jobs of
   each compute with room are moved to ``Preparing`` under this server's lease and handed
   to a worker thread. ``max_concurrent`` counts this server's jobs on a target whose
   processes run on the server's machine (``local``), and all servers' jobs on a shared
   one (Ray).
2. **Prepare** (worker) — materialise the code snapshot and the inputs into the job's folder,
   build or fetch the environment, render the command, record where it goes (the
   *placement*), submit it to the target (:mod:`shipyard.services.job_execution`).
3. **Watch** — append the target's new log bytes to the job's log (chunks in the artifact
   store: any server streams it); promote to ``Running``; on a terminal state hand the job
   to a worker to **finalize**: keep ``user_logs/std_log.txt`` and the named outputs with
   the run, then ``Completed``, ``Failed`` (with its cause) or ``Canceled``.
4. **Cancel** — a cancel is a database state; the holder of the job stops it.

A heartbeat thread renews this server's leases every quarter of ``lease_s``. A server that
stops renewing (killed, cut off) loses its jobs to whoever notices the lapsed lease first
(**adopt**, every ``adopt_every_s``): ``Preparing`` jobs that were never submitted go back
to ``Queued``; submitted ones are re-attached where the new holder can reach the process (a
Ray cluster from anywhere; a local process from the same machine, through the folder its
target keeps) and otherwise failed as ``lost`` — or queued again for another attempt when
the job file says ``retries: N``. A restarted server takes back its own jobs at once (they
carry its node id), as a single server always did.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.domain.jobs import TERMINAL, Compute, FailureCause, Job, JobFailure, JobStatus, check_transition
from shipyard.domain.tracking import RunStatus
from shipyard.errors import NotFound, ShipyardError
from shipyard.services._clock import now_ms
from shipyard.services.access.process_credentials import ProcessCredentials
from shipyard.services.compute import REMOTE, ComputeTarget, TargetState, TargetStatus
from shipyard.services.job_assets import ComputeService
from shipyard.services.job_execution import Execution, Held, LeaseLost, target_id
from shipyard.services.job_ports import JobControl, WakeUps
from shipyard.services.jobs import job_dir
from shipyard.services.log_streams import LogStreams, LogWriter, job_log_stream
from shipyard.services.ports import Database, UnitOfWork

__all__ = ["JobRunner", "RunnerNode", "TargetFactory"]

log = logging.getLogger("shipyard.jobs")

TargetFactory = Callable[[Compute, Path], ComputeTarget]
"""Opens the target of a compute (``shipyard.compute.registry.open_target``), given its state folder."""

_SYSTEM = "[shipyard]"


@dataclass(frozen=True, slots=True)
class RunnerNode:
    """Who this runner is to the other servers: ``id`` holds the leases (one per server
    home, kept across restarts), ``host`` is the machine, ``label`` is said in job events."""

    id: str
    host: str
    label: str


class JobRunner(JobControl):
    def __init__(
        self,
        db: Database,
        computes: ComputeService,
        execution: Execution,
        logs: LogStreams,
        open_target: TargetFactory,
        *,
        node: RunnerNode,
        jobs_dir: Path,
        state_dir: Path,
        credentials: ProcessCredentials,
        wakeups: WakeUps | None = None,
        lease_s: float = 10.0,
        queue_poll_s: float = 1.0,
        poll_s: float = 0.05,
        workers: int = 4,
    ) -> None:
        self.db = db
        self.computes = computes
        self.execution = execution
        self.logs = logs
        self.open_target = open_target
        self.node = node
        self.jobs_dir = jobs_dir
        self.state_dir = state_dir
        self.credentials = credentials
        self.wakeups = wakeups
        self.lease_ms = int(lease_s * 1000)
        self.queue_poll_s = queue_poll_s
        self.adopt_every_s = min(1.0, lease_s / 4)
        self.poll_s = poll_s
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shipyard-job")
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], Held] = {}
        self._targets: dict[tuple[str, str, Path], ComputeTarget] = {}
        self._wake = threading.Event()
        self._queue_changed = True
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.on_job_end: Callable[[], None] | None = None
        """Told when a job this runner holds ends (a composite parent may move on)."""
        execution.bind(self)

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        self.recover()
        for name, target in (("runner", self._loop), ("lease", self._heartbeat)):
            thread = threading.Thread(target=target, name=f"shipyard-job-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        if self.wakeups is not None:
            self.wakeups.start(self.wake)

    def stop(self) -> None:
        """Stop scheduling. Running processes keep running, and the leases stay: a restart of
        this server takes them back at once, another server once they lapse."""
        self._stop.set()
        self._wake.set()
        if self.wakeups is not None:
            self.wakeups.stop()
        for thread in self._threads:
            thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=False)
        for held in self._snapshot():
            try:
                held.log.flush()  # so whoever adopts the job continues after it
            except Exception:
                log.exception("keeping the log of job %s failed", held.job.name)
        for target in self._targets.values():
            target.close()

    def wake(self) -> None:
        """Something may have changed the queue (a job created, canceled or ended)."""
        self._queue_changed = True
        self._wake.set()

    def _target_changed(self) -> None:
        """A job of a target started or ended: its watch runs now; the queue is not read."""
        self._wake.set()

    # -- the loop ------------------------------------------------------------------

    def _loop(self) -> None:
        # The queue is read when something may have changed it (each change wakes every
        # runner) and otherwise every queue_poll_s: an idle server should not query its
        # database twenty times a second. Lapsed leases are looked for every adopt_every_s.
        last_queue, last_adopt = 0.0, time.monotonic()
        self._queue_changed = True
        while not self._stop.is_set():
            try:
                now = time.monotonic()
                # Jobs that ended first: their finalizing starts before the queue is read.
                self._watch()
                if self._queue_changed or now - last_queue >= self.queue_poll_s:
                    self._queue_changed = False  # before the read: a wake during it reads again
                    last_queue = now
                    self._cancels()
                    self._schedule()
                if now - last_adopt >= self.adopt_every_s:
                    last_adopt = now
                    self._adopt(own=False)
                for held in self._snapshot():
                    held.log.flush_if_due()
            except Exception:
                log.exception("job runner tick failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.lease_ms / 4000):
            try:
                with self.db.write() as uow:
                    mine = uow.jobs.renew(self.node.id, now_ms(), self.lease_ms)
                for held in self._snapshot():
                    key = (held.job.workspace, held.job.name)
                    if key not in mine and not held.finishing:
                        self._check_still_mine(held)
            except Exception:
                log.exception("renewing the job leases failed; retrying")

    def _check_still_mine(self, held: Held) -> None:
        with self.db.read() as uow:
            current = uow.jobs.get(held.job.workspace, held.job.name)
        if current is None or current.done:
            return  # it just ended here; its worker thread lets go of it
        if current.lease_owner not in (None, self.node.id):
            log.warning("job %s was adopted by another server; this one lets go of it", held.job.name)
            self._drop(held)

    def _snapshot(self) -> list[Held]:
        with self._lock:
            return list(self._held.values())

    def _drop(self, held: Held) -> None:
        with self._lock:
            if self._held.get((held.job.workspace, held.job.name)) is held:
                del self._held[(held.job.workspace, held.job.name)]
        self.wake()

    def release_slot(self, held: Held) -> None:
        """A job this runner held has ended or been handed on: its slot is free."""
        self._drop(held)

    # -- claim ---------------------------------------------------------------------

    def _busy(self, workspace: str, compute: str) -> int:
        with self._lock:
            return sum(1 for (ws, _), h in self._held.items() if ws == workspace and h.compute == compute)

    def _preparing(self) -> int:
        with self._lock:
            return sum(1 for h in self._held.values() if h.target is None)

    def _schedule(self) -> None:
        with self.db.read() as uow:
            queued = uow.jobs.queued_computes()
        for workspace, name in queued:
            # A server takes no more than its worker threads can prepare at once: the rest
            # stay queued for the other servers.
            free = self.workers - self._preparing()
            if free <= 0:
                return
            try:
                self._claim(workspace, name, free)
            except Exception:
                log.exception("claiming jobs of compute %s/%s failed", workspace, name)

    def _claim(self, workspace: str, name: str, free: int) -> None:
        try:
            compute = self.computes.get_in(workspace, name)
        except NotFound as exc:
            with self.db.write() as uow:
                jobs = uow.jobs.claim(
                    workspace, name, self.node.id, now_ms(), self.lease_ms,
                    room=free, shared_limit=None, message="its compute target is gone",
                )  # fmt: skip
            for job in jobs:
                self.fail(job, JobFailure(FailureCause.SUBMIT, exc.message))
            return
        target = self.target(workspace, compute)
        if REMOTE in target.capabilities:
            room, shared = free, compute.max_concurrent
        else:
            room, shared = min(free, compute.max_concurrent - self._busy(workspace, name)), None
        if room <= 0:
            return
        with self.db.write() as uow:
            jobs = uow.jobs.claim(
                workspace, name, self.node.id, now_ms(), self.lease_ms, room=room, shared_limit=shared,
                message=f"materialising code, inputs and environment (server {self.node.label})",
            )  # fmt: skip
        for job in jobs:
            held = Held(job, self.logs.writer(job_log_stream(job.workspace, job.name)), compute.name)
            held.folder = job_dir(self.jobs_dir, job.workspace, job.name)
            with self._lock:
                self._held[(job.workspace, job.name)] = held
            self._pool.submit(self.execution.prepare_safely, held, compute)

    # -- cancels -------------------------------------------------------------------

    def _cancels(self) -> None:
        with self._lock:
            if not self._held:
                return
        with self.db.read() as uow:
            asked = uow.jobs.cancel_requests(self.node.id)
        for workspace, name, who in asked:
            with self._lock:
                held = self._held.get((workspace, name))
            if held is None or held.cancel_by is not None:
                continue
            held.cancel_by = who
            if held.target is not None:
                try:
                    held.target.cancel(held.target_id, f"by {who}")
                except ShipyardError as exc:
                    log.warning("canceling job %s failed: %s; trying again", name, exc.message)
                    held.cancel_by = None

    # -- watch ---------------------------------------------------------------------

    def _watch(self) -> None:
        for held in self._snapshot():
            if held.target is None or held.finishing:
                continue
            try:
                self._watch_one(held)
            except LeaseLost:
                self._drop(held)
            except ShipyardError as exc:  # a cluster unreachable for now: next tick
                log.warning("watching job %s: %s", held.job.name, exc.message)

    def _watch_one(self, held: Held) -> None:
        assert held.target is not None
        self.copy_logs(held)
        try:
            status = held.target.status(held.target_id)
        except NotFound:
            status = TargetStatus(TargetState.LOST, message="the compute target no longer knows this job")
        started = status.state == TargetState.RUNNING or status.started_at is not None
        if started and not held.running:
            # Stamped with the target's own start time when it has one: a short job may
            # already have ended when the watch first looks, and still ran.
            held.running = True
            said = "the process started"
            self.transition(held.job, JobStatus.RUNNING, said, at=status.started_at, run=RunStatus.RUNNING)
        if status.state.terminal:
            while self.copy_logs(held):
                pass  # all of it: nothing more will come
            held.finishing = True
            self._pool.submit(self.execution.finalize_safely, held, status)

    def copy_logs(self, held: Held) -> bool:
        """Append what the target's log has new; whether there was anything."""
        assert held.target is not None
        chunk = held.target.logs(held.target_id, held.offset)
        if chunk.data:
            held.log.append(chunk.data)
            held.offset = chunk.next_offset
        return bool(chunk.data)

    # -- adopt ---------------------------------------------------------------------

    def recover(self) -> None:
        """Take back this server's own active jobs (a restart), and any whose lease lapsed."""
        self._adopt(own=True)

    def _adopt(self, *, own: bool) -> None:
        with self.db.write() as uow:
            adopted = uow.jobs.adopt(self.node.id, now_ms(), self.lease_ms, own=own)
        for job in adopted:
            with self._lock:
                if (job.workspace, job.name) in self._held:
                    continue  # ours already (a lease renewed late)
            try:
                self._adopt_one(job)
            except LeaseLost:
                continue
            except Exception as exc:
                log.exception("adopting job %s failed", job.name)
                self.fail(job, JobFailure(FailureCause.LOST, f"could not be adopted: {exc}"))

    def _adopt_one(self, job: Job) -> None:
        previous = job.lease_owner
        whose = "this server's" if previous == self.node.id else "its server's"
        placement = job.placement or {}
        if job.status == JobStatus.PREPARING and not placement:
            self.requeue(job, f"{whose} preparation stopped before the process started; queued again")
            return
        compute = self.computes.get_in(job.workspace, job.compute)
        target = self._reachable_target(job, compute)
        if target is None:
            self.lost_or_retry(
                job,
                f"its process ran on {placement.get('host', 'another machine')}, whose server stopped"
                f" renewing its lease; this server ({self.node.label}) cannot reach it there",
            )
            return
        tid = placement.get("target_id") or target_id(job)
        try:
            status = target.status(tid)
        except NotFound:
            status = TargetStatus(TargetState.LOST, message="the compute target no longer knows this job")
        if (
            status.state == TargetState.LOST
            and status.started_at is None
            and job.status == JobStatus.PREPARING
        ):
            self.requeue(job, f"{whose} process never started; queued again")
            return
        if status.state == TargetState.LOST:
            self.lost_or_retry(job, status.message or "the process was lost")
            return
        held = Held(job, self.logs.writer(job_log_stream(job.workspace, job.name)), job.compute)
        held.folder = Path(placement.get("folder") or job_dir(self.jobs_dir, job.workspace, job.name))
        held.target, held.target_id = target, tid
        held.offset = max(0, held.log.size - int(placement.get("log_start", held.log.size)))
        held.running = job.status != JobStatus.PREPARING
        held.cancel_by = None
        with self._lock:
            self._held[(job.workspace, job.name)] = held
        if previous != self.node.id:
            self.note(job, f"adopted by server {self.node.label}: the lease of the server holding it lapsed")
        log.info("job %s adopted (%s)", job.name, status.state.value)

    def _reachable_target(self, job: Job, compute: Compute) -> ComputeTarget | None:
        """The target that can report on the job's process, if this server has one."""
        own = self.target(job.workspace, compute)
        placement = job.placement or {}
        if REMOTE in own.capabilities or placement.get("node") in (None, self.node.id):
            return own
        state = Path(str(placement.get("state_dir", "")))
        if placement.get("host") == self.node.host and state.is_dir():
            return self.target(job.workspace, compute, state)  # the other server's, same machine
        return None

    # -- transitions (written only while this server holds the job) ------------------

    def target(self, workspace: str, compute: Compute, state: Path | None = None) -> ComputeTarget:
        state = state or self.state_dir / workspace / compute.name
        key = (workspace, compute.name, state)
        with self._lock:
            target = self._targets.get(key)
            if target is None:
                state.mkdir(parents=True, exist_ok=True)
                target = self.open_target(compute, state)
                target.listen(self._target_changed)  # a job that ends is finalized now, not at the next poll
                self._targets[key] = target
            return target

    def _held_log(self, job: Job) -> LogWriter | None:
        with self._lock:
            held = self._held.get((job.workspace, job.name))
        return held.log if held is not None else None

    def system_line(self, job: Job, line: str) -> None:
        writer = self._held_log(job)
        data = f"{_SYSTEM} {line}\n".encode()
        if writer is not None:
            writer.append(data)
            return
        writer = self.logs.writer(job_log_stream(job.workspace, job.name))
        writer.append(data)
        writer.flush()

    def _flush(self, job: Job) -> None:
        writer = self._held_log(job)
        if writer is not None:
            writer.flush()

    def transition(
        self,
        job: Job,
        status: JobStatus,
        message: str,
        *,
        at: int | None = None,
        run: RunStatus | None = None,
        **extra: Any,
    ) -> None:
        """Record the job's new status (while this server holds it) and, with ``run``, its
        run's in the same transaction (ended when ``status`` is terminal)."""
        if status in TERMINAL:
            self._flush(job)  # a follower stops once the job has ended: the log first
        with self.db.write() as uow:
            current = uow.jobs.lock(job.workspace, job.name)
            if current is None:
                return
            if current.lease_owner != self.node.id:
                raise LeaseLost(job.name)
            check_transition(current.status, status)
            when = now_ms()
            if at is not None:
                # Never before the previous event: the target's clock is read in another process.
                prior = uow.jobs.get(job.workspace, job.name)
                when = max([at, *(e.at for e in (prior.events if prior else []))])
            uow.jobs.set_status(job.workspace, job.name, status, when, message, **extra)
            if run is not None:
                _update_run(uow, job, run, end=status in TERMINAL)
        if status in TERMINAL:
            self.credentials.release(job.workspace, job.name)
            self._ended()

    def note(self, job: Job, message: str) -> None:
        """An event in the job's timeline that does not change its status."""
        with self.db.write() as uow:
            current = uow.jobs.lock(job.workspace, job.name)
            if current is None or current.lease_owner != self.node.id:
                return
            uow.jobs.set_status(job.workspace, job.name, current.status, now_ms(), message)

    def fail(self, job: Job, failure: JobFailure) -> None:
        self._flush(job)
        with self.db.write() as uow:
            current = uow.jobs.lock(job.workspace, job.name)
            if current is None or current.done:
                return
            if current.lease_owner not in (None, self.node.id):
                raise LeaseLost(job.name)
            uow.jobs.set_status(
                job.workspace, job.name, JobStatus.FAILED, now_ms(), failure.message, failure=failure
            )
            _update_run(uow, job, RunStatus.FAILED, end=True)
        self.credentials.release(job.workspace, job.name)
        self._ended()

    def _ended(self) -> None:
        if self.on_job_end is not None:
            self.on_job_end()

    def requeue(self, job: Job, message: str, *, next_attempt: bool = False) -> None:
        with self.db.write() as uow:
            current = uow.jobs.lock(job.workspace, job.name)
            if current is None or current.done or current.lease_owner != self.node.id:
                return
            uow.jobs.requeue(job.workspace, job.name, now_ms(), message, next_attempt=next_attempt)
        with self._lock:
            self._held.pop((job.workspace, job.name), None)
        self.wake()

    def lost_or_retry(self, job: Job, why: str) -> None:
        """The job's process is out of reach: another attempt if the file allows one, else
        Failed with cause ``lost``."""
        if job.attempt <= job.retries:
            # The lost attempt's token stops working: if its process lives on somewhere cut
            # off, it can no longer write into the run.
            self.credentials.release(job.workspace, job.name)
            message = f"attempt {job.attempt} lost ({why}); retry {job.attempt} of {job.retries}"
            self.system_line(job, message)
            self.requeue(job, message, next_attempt=True)
            return
        self.system_line(job, f"lost: {why}")
        self.fail(job, JobFailure(FailureCause.LOST, why))

    def set_run(self, job: Job, status: RunStatus, *, end: bool) -> None:
        with self.db.write() as uow:
            _update_run(uow, job, status, end=end)

    def placement_recorded(self, held: Held, placement: dict[str, Any]) -> None:
        with self.db.write() as uow:
            current = uow.jobs.lock(held.job.workspace, held.job.name)
            if current is None or current.lease_owner != self.node.id:
                raise LeaseLost(held.job.name)
            uow.jobs.set_placement(held.job.workspace, held.job.name, placement)


def _update_run(uow: UnitOfWork, job: Job, status: RunStatus, *, end: bool) -> None:
    """The job's run follows the job (gone if the run was deleted under it)."""
    ref = uow.runs.ref(job.run_id)
    if ref is not None:
        now = now_ms()
        uow.runs.update(ref, actor=job.created_by, now=now, status=str(status), end_time=now if end else None)
