"""A scoring replica: makes the workers of one process match the deployments in the database.

What ``shipyard serve`` runs (the data plane without the control plane), and what every
server with the ``serving`` role runs beside its share of the control plane
(:mod:`~shipyard.services.endpoint_rollouts`). Every ``poll_s`` seconds, or at once when woken
(a PostgreSQL NOTIFY from the server that changed something), it reads every deployment and:
a ``Succeeded`` revision not running here is prepared (model, code, environment materialised
under this process's own folder) and applied to its runtime
(:meth:`~shipyard.services.endpoint_deployments.DeploymentService.follow`); a deployment that
is gone has its workers stopped; one that is Creating/Updating/Failed keeps whatever revision
runs here (an update in progress, or one that failed, leaves the previous revision serving).
The routing tables are re-read on each look, so traffic shifts reach every process within
one. A replica itself never writes to the database.
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
        owns_runtime: bool = True,
    ) -> None:
        self.db = db
        self.endpoints = endpoints
        self.deployments = deployments
        self.runtime = runtime
        self.poll_s = poll_s
        self._owns_runtime = owns_runtime  # False: the server that built it closes it
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def applied(self) -> dict[DeploymentKey, str]:
        """key → revision running here."""
        return self.deployments.running

    def start(self) -> None:
        """Follow the database in the background, from a first look at once."""
        self._thread = threading.Thread(target=self._run, name="shipyard-replica", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._owns_runtime:
            self.runtime.close()

    def _run(self) -> None:
        starting = True
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.sync(starting=starting)
                starting = False
            except Exception:
                log.exception("scoring replica: sync with the database failed")
            self._wake.wait(self.poll_s)

    def sync(self, *, starting: bool = False) -> None:
        """Make this process's workers match the deployments in the database (``starting``:
        the first look since the process started)."""
        # Traffic and keys first: following a deployment below may take a while (its environment).
        self.endpoints.invalidate_all()
        with self.db.read() as uow:
            present = {
                DeploymentKey(d.workspace, d.endpoint, d.name): d
                for d in uow.deployments.in_states(list(DeploymentState))
            }
        for key, deployment in present.items():
            if self._stop.is_set():
                return
            if deployment.state is not DeploymentState.SUCCEEDED:
                continue
            try:
                if self.deployments.follow(key, deployment, starting=starting):
                    log.info("scoring replica: %s revision %s applied", key, deployment.revision)
            except Exception:
                log.exception("scoring replica: applying %s revision %s failed", key, deployment.revision)
        for key in [k for k in list(self.deployments.running) if k not in present]:
            self.deployments.unfollow(key)
            log.info("scoring replica: %s removed", key)
        self.endpoints.invalidate_all()
