"""A scoring replica: what ``shipyard serve`` runs — the data plane without the control plane.

The control plane (``shipyard up``: endpoint and deployment services) decides what should
run and records it in the database. A replica reads that record every ``poll_s`` seconds
and makes its own workers match it: every Succeeded deployment's current revision is
prepared (model, code, environment materialised under the replica's own folder) and applied
to the replica's runtime; a deployment that is gone or no longer Succeeded is removed. The
routing tables are re-read on each poll, so traffic shifts reach the replica within one
poll. A replica never writes to the database.
"""

from __future__ import annotations

import logging
import threading

from shipyard.domain.endpoints import DeploymentState
from shipyard.services.endpoint_deployments import DeploymentService
from shipyard.services.endpoints import EndpointService
from shipyard.services.ports import Database
from shipyard.services.serving_ports import DeploymentKey, DeploymentRuntime

__all__ = ["ScoringReplica"]

log = logging.getLogger("shipyard.replica")


class ScoringReplica:
    def __init__(
        self,
        db: Database,
        endpoints: EndpointService,
        deployments: DeploymentService,
        runtime: DeploymentRuntime,
        *,
        poll_s: float = 2.0,
    ) -> None:
        self.db = db
        self.endpoints = endpoints
        self.deployments = deployments
        self.runtime = runtime
        self.poll_s = poll_s
        self.applied: dict[DeploymentKey, str] = {}  # key → revision running here
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.sync()
        self._thread = threading.Thread(target=self._run, name="shipyard-replica", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.runtime.close()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.sync()
            except Exception:
                log.exception("scoring replica: sync with the database failed")

    def sync(self) -> None:
        """Make this replica's workers match the Succeeded deployments in the database."""
        with self.db.read() as uow:
            wanted = {
                DeploymentKey(d.workspace, d.endpoint, d.name): d
                for d in uow.deployments.in_states([DeploymentState.SUCCEEDED])
            }
        for key, deployment in wanted.items():
            if self.applied.get(key) == deployment.revision:
                continue
            try:
                plan = self.deployments.prepare(key, deployment.revision, deployment.spec)
                self.runtime.apply(plan)
            except Exception:
                log.exception("scoring replica: applying %s revision %s failed", key, deployment.revision)
                continue
            self.applied[key] = deployment.revision
            log.info("scoring replica: %s revision %s applied", key, deployment.revision)
        for key in [k for k in self.applied if k not in wanted]:
            self.runtime.remove(key)
            del self.applied[key]
            log.info("scoring replica: %s removed", key)
        self.endpoints.invalidate_all()
