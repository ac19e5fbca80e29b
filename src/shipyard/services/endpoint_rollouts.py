"""A serving server's share of the deployments: bring up what nobody brings up, follow the rest.

Deployment changes are desired state in the database, recorded by whichever server took the
call (an API-only one included), which then wakes the others (PostgreSQL NOTIFY on
``shipyard_deployments``; SQLite servers poll). On every server with the ``serving`` role:

- a claim loop takes the lease of each Creating/Updating deployment nobody holds (``SELECT …
  FOR UPDATE SKIP LOCKED``: one server gets each) and brings it up
  (:meth:`DeploymentService.claim`): prepare, start, probe, Succeeded or Failed, each step in
  the shared preparation log;
- a heartbeat renews those leases every quarter of the lease; a server that stops renewing
  (killed, cut off) loses them when they lapse, and the next claim of another server takes
  the deployment over and brings it up itself; a restarted server takes its own back at once;
- a :class:`~shipyard.services.scoring_replica.ScoringReplica` runs every Succeeded revision
  it did not bring up and stops a deleted deployment's workers, so every serving server
  answers ``/endpoints/<name>/score`` for every deployment.

Modelled on the job runner's leases (:mod:`shipyard.services.job_runner`).
"""

from __future__ import annotations

import logging
import threading

from shipyard.services.endpoint_deployments import DeploymentService
from shipyard.services.job_ports import WakeUps
from shipyard.services.scoring_replica import ScoringReplica

__all__ = ["DeploymentRollouts"]

log = logging.getLogger("shipyard.rollouts")


class DeploymentRollouts:
    def __init__(
        self,
        deployments: DeploymentService,
        follower: ScoringReplica,
        wakeups: WakeUps | None,
        *,
        poll_s: float = 1.0,
    ) -> None:
        self.deployments = deployments
        self.follower = follower
        self.wakeups = wakeups
        # How often lapsed leases (and, without NOTIFY, new changes) are looked for.
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.deployments.wake = self.wake
        for name, target in (("rollouts", self._loop), ("rollout-lease", self._heartbeat)):
            thread = threading.Thread(target=target, name=f"shipyard-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self.follower.start()
        if self.wakeups is not None:
            self.wakeups.start(self.wake)

    def wake(self) -> None:
        self._wake.set()
        self.follower.wake()

    def stop(self) -> None:
        """Stop claiming and following. Leases held stay until they lapse (or this server
        restarts and takes them back): what was interrupted is brought up again."""
        self._stop.set()
        self._wake.set()
        if self.wakeups is not None:
            self.wakeups.stop()
        self.follower.stop()
        for thread in self._threads:
            thread.join(timeout=5)

    def _loop(self) -> None:
        own = True  # the first look takes back what this server held before a restart
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.deployments.claim(own=own)
                own = False
            except Exception:
                log.exception("claiming deployments to bring up failed; retrying")
            self._wake.wait(self.poll_s)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.deployments.lease_ms / 4000):
            try:
                self.deployments.renew()
            except Exception:
                log.exception("renewing the deployment leases failed; retrying")
