"""Wire the "develop" stage: environment builder, compute targets, job services and runner.

Kept apart from ``app.py`` because it is the one place that picks concrete backends (the uv
builder, the compute registry, PostgreSQL's wake-ups) for the job services, as
``stores.registry`` does for stores.

A server with the ``jobs`` role is a *node* of the shared queue: its leases carry the id kept
in ``<home>/node.json`` (so a restart takes its own jobs back at once), and it holds
``<home>/jobs.lock`` while it runs (:meth:`JobsRuntime.hold_home`, before it listens),
because two runners on one home would share the folder where the local target keeps its
processes.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from shipyard.domain.jobs import Compute
from shipyard.errors import Conflict
from shipyard.services.access.process_credentials import ProcessCredentials
from shipyard.services.artifacts import ArtifactService
from shipyard.services.compute import ComputeConfig, ComputeTarget
from shipyard.services.data_assets import DataAssetService
from shipyard.services.job_assets import ComputeService, EnvironmentService
from shipyard.services.job_execution import Execution
from shipyard.services.job_inputs import InputResolver
from shipyard.services.job_orchestrator import Orchestrator
from shipyard.services.job_outputs import OutputRegistrar
from shipyard.services.job_ports import JobControl
from shipyard.services.job_runner import JobRunner, RunnerNode
from shipyard.services.jobs import JobService
from shipyard.services.log_streams import LogStreams
from shipyard.services.ports import ArtifactStore, Database
from shipyard.services.registry import RegistryService
from shipyard.services.snapshots import SnapshotService
from shipyard.services.tracking import TrackingService
from shipyard.settings import Settings
from shipyard.stores.sql.wakeups import open_wakeups

__all__ = ["JobsRuntime", "build_jobs", "lock_home", "node_of"]

_NODE_FILE = "node.json"
_LOCK_FILE = "jobs.lock"
# PostgreSQL wakes every runner by NOTIFY; the poll only covers a listener reconnecting.
# SQLite has no NOTIFY: servers sharing one file see a job another created within this.
_QUEUE_POLL_S = {"postgresql": 2.0, "sqlite": 0.5}


@dataclass
class JobsRuntime:
    jobs: JobService
    environments: EnvironmentService
    computes: ComputeService
    logs: LogStreams
    runner: JobRunner | None
    home: Path
    orchestrator: Orchestrator | None = None
    _lock: IO[str] | None = field(default=None, repr=False)

    def hold_home(self) -> None:
        """Take the home's job-runner lock (Conflict when another server holds it)."""
        if self.runner is not None and self._lock is None:
            self._lock = lock_home(self.home)

    def start(self) -> None:
        if self.runner is not None:
            self.hold_home()
            self.runner.start()
        if self.orchestrator is not None:
            self.orchestrator.start()

    def stop(self) -> None:
        if self.orchestrator is not None:
            self.orchestrator.stop()
        if self.runner is not None:
            self.runner.stop()
        if self._lock is not None:
            self._lock.close()  # lets another server run jobs from this home
            self._lock = None


def _open_target(compute: Compute, state_dir: Path) -> ComputeTarget:
    from shipyard.compute.registry import open_target

    config = ComputeConfig(
        kind=compute.kind, name=compute.name, max_concurrent=compute.max_concurrent, address=compute.address
    )
    return open_target(config, state_dir)


def lock_home(home: Path) -> IO[str]:
    """The lock that keeps a second job runner off ``home``; Conflict when one holds it."""
    home.mkdir(parents=True, exist_ok=True)
    lock = (home / _LOCK_FILE).open("a+")
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "another process"
        lock.close()
        raise Conflict(
            f"another Shipyard server ({holder}) runs jobs from {home}: give each server with the"
            " jobs role a --home of its own (they share the database and the artifact store), or"
            " start this one with --roles api,serving"
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()}\n")
    lock.flush()
    return lock


def node_of(home: Path) -> RunnerNode:
    """This home's node id: new on a fresh home, or on a home copied to another machine."""
    home.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    path = home / _NODE_FILE
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        saved = {}
    if not isinstance(saved, dict) or saved.get("host") != host or not saved.get("id"):
        saved = {"id": uuid.uuid4().hex, "host": host}
        path.write_text(json.dumps(saved))
    node_id = str(saved["id"])
    return RunnerNode(id=node_id, host=host, label=f"{node_id[:8]} on {host}")


def build_jobs(
    settings: Settings,
    database: Database,
    store: ArtifactStore,
    artifacts: ArtifactService,
    snapshots: SnapshotService,
    data_assets: DataAssetService,
    registry: RegistryService,
    tracking_uri: Callable[[], str],
    credentials: ProcessCredentials,
) -> JobsRuntime:
    environments = EnvironmentService(database)
    computes = ComputeService(database, settings.local_max_concurrent)
    logs = LogStreams(database, store)
    runner = None
    orchestrator: Orchestrator | None = None
    control: JobControl | None = None
    if settings.has_role("jobs"):
        from shipyard.environments.uv_builder import UvEnvironmentBuilder

        node = node_of(settings.home)
        execution = Execution(
            artifacts,
            environments,
            UvEnvironmentBuilder(settings.environments_dir),
            InputResolver(database, store, snapshots),
            tracking_uri=tracking_uri,
            credentials=credentials,
            outputs=OutputRegistrar(snapshots, data_assets, registry),
        )
        runner = JobRunner(
            database,
            computes,
            execution,
            logs,
            _open_target,
            node=node,
            jobs_dir=settings.jobs_dir,
            state_dir=settings.compute_state_dir,
            credentials=credentials,
            wakeups=open_wakeups(settings.resolved_database_url()),
            lease_s=settings.job_lease_seconds,
            queue_poll_s=_QUEUE_POLL_S.get(database.kind, 1.0),
        )
        control = runner
    jobs = JobService(
        database,
        environments,
        computes,
        settings.jobs_dir,
        logs,
        control,
        snapshots=snapshots,
        max_code_bytes=settings.max_code_bytes,
        secrets=credentials.secrets,
    )
    if runner is not None:
        orchestrator = Orchestrator(
            database,
            jobs,
            TrackingService(database),
            logs,
            credentials,
            node=runner.node,
            lease_s=settings.job_lease_seconds,
        )
        # The automl type reads back what its finish step logged (featurization.json).
        orchestrator.provide(artifacts)
        # A child that ends (or a job created) moves its parent on at once, not at the next poll.
        runner.on_job_end = orchestrator.child_ended
        jobs.control = _Both(runner, orchestrator)
    return JobsRuntime(jobs, environments, computes, logs, runner, settings.home, orchestrator)


class _Both(JobControl):
    """Wakes the runner (a command job to claim) and the orchestrator (a composite job)."""

    def __init__(self, runner: JobRunner, orchestrator: Orchestrator) -> None:
        self.runner = runner
        self.orchestrator = orchestrator

    def wake(self) -> None:
        self.runner.wake()
        self.orchestrator.wake()
