"""``LocalProcessRuntime``: a deployment's instances as worker processes on this host.

Each deployment owns a folder under ``state_dir/deployments/``::

    deployment.log    every worker's output (prefixed by its index) and the runtime's events:
                      started, ready after N s, crashed (exit code or signal), restarting in
                      N s, probe failures, drained/stopped
    plan-<gen>.json   the plan each generation of workers was started with (mode 0600)

``state_dir/owners/<nonce>/`` holds the locks that tell a live runtime and its workers from
dead ones (``_owners.py``), and each worker process a UNIX socket of its own in
``state_dir/sockets/`` (a private folder:
mode 0700) — or in a fresh ``/tmp/shipyard-sock-*`` folder when ``state_dir`` is too deep for
the 107-byte socket path limit. A restarted worker has a new socket, so a new address; the
old socket is removed once its process is gone. A worker's address is
``http+unix://<percent-encoded socket path>``; a client connects with
``httpx.AsyncHTTPTransport(uds=unquote(address[len("http+unix://"):]))`` and any URL on it
(``http://worker/score``).

Applying a plan with a new revision starts the new workers beside the old ones; the old
ones keep serving until every new one is Ready, then drain: they leave ``instances()``
(state Stopped, "draining") at once, get SIGTERM ``handoff_s`` later — so a router that
read ``instances()`` just before still reaches them — and SIGKILL after ``drain_s``.
A plan that changes nothing but ``instance_count`` scales in place (the new revision label
is adopted); scaling down drains the highest indexes. Crashed workers are restarted with
exponential back-off (1 s doubling to 30 s; the count resets once a worker has been Ready
for ``backoff_reset_s``). Nothing here outlives the server: :meth:`close` stops every
worker and the endpoint service applies the plans again on start. A server that dies
without :meth:`close` (SIGKILL, OOM) takes its workers with it: they watch a pipe this
process holds and stop within 2 s of its end; and a runtime kills whatever a dead one on
the same ``state_dir`` left running before it starts a worker (``_owners.py``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from shipyard.errors import InvalidArgument, NotFound, Unavailable
from shipyard.services.compute import process_environment
from shipyard.services.serving_ports import (
    DeploymentKey,
    DeploymentPlan,
    DeploymentRuntime,
    Instance,
    InstanceState,
)
from shipyard.serving._deploylog import DeploymentLog
from shipyard.serving._instance import InstanceSupervisor
from shipyard.serving._owners import RuntimeOwner, reap_dead_owners
from shipyard.serving._planfile import write_plan

__all__ = ["LocalProcessRuntime"]

logger = logging.getLogger(__name__)
_SOCKET_DIR_MAX = 70  # + "/<12 hex>-<6 hex>-<up to 11 digits>.sock" stays under the 107-byte limit


@dataclasses.dataclass
class _Deployment:
    key: DeploymentKey
    folder: Path
    log: DeploymentLog
    plan: DeploymentPlan
    generation: int = 0
    current: dict[int, InstanceSupervisor] = dataclasses.field(default_factory=dict)
    retiring: list[InstanceSupervisor] = dataclasses.field(default_factory=list)  # older revisions
    stopping: list[InstanceSupervisor] = dataclasses.field(default_factory=list)

    def all(self) -> list[InstanceSupervisor]:
        return [*self.current.values(), *self.retiring, *(w for w in self.stopping if not w.finished)]


class LocalProcessRuntime(DeploymentRuntime):
    """Runs deployments as local worker processes (see the module docstring).

    ``drain_s`` is how long a scaled-down or replaced worker gets to finish its requests;
    ``handoff_s`` how long it keeps answering after it left ``instances()``;
    ``kill_grace_s`` what :meth:`close` gives each worker between SIGTERM and SIGKILL.
    ``server_env`` is where passed-through variables come from (default ``os.environ``).
    ``log_mirror`` gives, for a deployment, where its log's lines go besides the file (a
    server's shared log stream; None: the file only, as on a ``shipyard serve`` replica).
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        drain_s: float = 5.0,
        handoff_s: float = 0.5,
        kill_grace_s: float = 5.0,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 30.0,
        backoff_reset_s: float = 60.0,
        server_env: Mapping[str, str] | None = None,
        log_mirror: Callable[[DeploymentKey], Callable[[str], None]] | None = None,
    ) -> None:
        self._mirror = log_mirror
        self._dir = Path(state_dir)
        (self._dir / "deployments").mkdir(parents=True, exist_ok=True)
        sockets = self._dir / "sockets"
        self._own_socket_dir = len(str(sockets.resolve())) > _SOCKET_DIR_MAX
        if self._own_socket_dir:
            sockets = Path(tempfile.mkdtemp(prefix="shipyard-sock-"))
        sockets.mkdir(mode=0o700, exist_ok=True)
        sockets.chmod(0o700)  # a worker socket is unauthenticated: only this user may connect
        self._sockets = sockets
        # Workers a killed server left behind are gone before any of ours starts: never two
        # workers for one instance (_owners.py). The nonce is also in our socket names.
        owners = self._dir / "owners"
        self._owner = RuntimeOwner(owners, sockets)
        self._nonce = self._owner.nonce
        reap_dead_owners(owners, self._nonce)
        # Our workers read this pipe; the kernel closes our end when this process ends, even
        # by SIGKILL, and they stop (worker.py).
        self._parent_r, self._parent_w = os.pipe()
        # Every worker process gets a socket path never used before: a restarted or re-added
        # worker must not rebind (and so steal) the path a draining one still answers on.
        self._socket_numbers = itertools.count(1)
        self._drain_s, self._handoff_s, self._grace = drain_s, handoff_s, kill_grace_s
        self._backoff = (backoff_base_s, backoff_cap_s, backoff_reset_s)
        self._env = dict(os.environ if server_env is None else server_env)
        self._cond = threading.Condition()
        self._deployments: dict[DeploymentKey, _Deployment] = {}
        self._closed = False

    # -- the interface -------------------------------------------------------------------

    def apply(self, plan: DeploymentPlan) -> None:
        if plan.instance_count < 0:
            raise InvalidArgument(f"instance_count must not be negative, got {plan.instance_count}")
        with self._cond:
            if self._closed:
                raise Unavailable("the local deployment runtime is closed")
            dep = self._deployments.get(plan.key)
            if dep is None:
                dep = self._new_deployment(plan)
                self._new_generation(dep, plan)
            elif plan.revision == dep.plan.revision or _only_the_count_differs(dep.plan, plan):
                self._scale(dep, plan)
            else:
                self._new_generation(dep, plan)
            self._settle(dep)
            self._cond.notify_all()

    def instances(self, key: DeploymentKey) -> list[Instance]:
        with self._cond:
            dep = self._deployments.get(key)
            return [] if dep is None else [w.snapshot() for w in dep.all()]

    def wait_ready(self, key: DeploymentKey, timeout_s: float) -> list[Instance]:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                dep = self._deployments.get(key)
                if dep is None:
                    raise NotFound(f"no deployment {key} in the local runtime")
                current = sorted(dep.current.values(), key=lambda w: w.index)
                failed = next((w for w in current if w.state is InstanceState.FAILED), None)
                if failed is not None:
                    why = f"instance {failed.index} failed: {failed.message}"
                    break
                if all(w.state is InstanceState.READY for w in current):
                    return [w.snapshot() for w in dep.all()]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    states = ", ".join(
                        f"instance {w.index} {w.state.value}" + (f" ({w.message})" if w.message else "")
                        for w in current
                        if w.state is not InstanceState.READY
                    )
                    why = f"not ready after {timeout_s:g} s: {states}"
                    break
                self._cond.wait(remaining)
        tail = dep.log.tail(30)
        raise Unavailable(
            f"deployment {key} (revision {dep.plan.revision}) is unavailable: {why}\n"
            f"The end of its log:\n{tail}",
            deployment=str(key),
        )

    def remove(self, key: DeploymentKey, drain_s: float = 5.0) -> None:
        with self._cond:
            dep = self._deployments.pop(key, None)
            if dep is None:
                return
            workers = dep.all()
            for worker in workers:
                self._stop(dep, worker, drain_s)
            dep.log.event(f"removing the deployment: draining {len(workers)} worker(s) (up to {drain_s:g} s)")
            self._cond.notify_all()
        for worker in workers:
            worker.join()  # each removes its socket once its process is gone
        dep.log.event("removed")

    def logs(self, key: DeploymentKey, lines: int = 100) -> str:
        with self._cond:
            dep = self._deployments.get(key)
        log = dep.log if dep is not None else DeploymentLog.existing(self._folder(key) / "deployment.log")
        if log is None:
            raise NotFound(f"no deployment {key} in the local runtime")
        return log.tail(lines)

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            deps = list(self._deployments.values())
            self._deployments.clear()
            workers = []
            for dep in deps:
                dep.log.event("the server is stopping: stopping every worker")
                for worker in dep.all():
                    worker.stop(self._grace, 0.0)
                    workers.append(worker)
            self._cond.notify_all()
        for worker in workers:
            worker.join()
        if self._own_socket_dir:
            shutil.rmtree(self._sockets, ignore_errors=True)
        self._owner.release()
        os.close(self._parent_w)
        os.close(self._parent_r)

    # -- inside --------------------------------------------------------------------------

    def _folder(self, key: DeploymentKey) -> Path:
        return self._dir / "deployments" / _slug(key)

    def _new_deployment(self, plan: DeploymentPlan) -> _Deployment:
        folder = self._folder(plan.key)
        folder.mkdir(parents=True, exist_ok=True)
        mirror = None if self._mirror is None else self._mirror(plan.key)
        dep = _Deployment(plan.key, folder, DeploymentLog(folder / "deployment.log", mirror=mirror), plan)
        self._deployments[plan.key] = dep
        return dep

    def _new_generation(self, dep: _Deployment, plan: DeploymentPlan) -> None:
        """Start ``plan``'s workers; what runs now keeps serving until they are all Ready."""
        old = [*dep.current.values(), *dep.retiring]
        dep.plan, dep.generation = plan, dep.generation + 1
        dep.current, dep.retiring = {}, []
        for worker in old:
            if worker.state is InstanceState.READY:
                dep.retiring.append(worker)
            else:  # serves nothing: no reason to wait for it
                self._stop(dep, worker, 0.0)
        dep.log.event(
            f"applying revision {plan.revision}: starting {plan.instance_count} worker(s)"
            + (
                f"; {len(dep.retiring)} worker(s) of the previous revision serve until they are ready"
                if old
                else ""
            )
        )
        write_plan(plan, dep.folder / f"plan-{dep.generation}.json")
        for index in range(plan.instance_count):
            self._start(dep, index)

    def _scale(self, dep: _Deployment, plan: DeploymentPlan) -> None:
        before = dep.plan.instance_count
        dep.plan = plan
        for worker in dep.current.values():
            worker.plan = dataclasses.replace(worker.plan, revision=plan.revision)
        if plan.instance_count == before:
            return
        dep.log.event(f"scaling from {before} to {plan.instance_count} worker(s)")
        for index in range(plan.instance_count, before):
            if index in dep.current:
                self._stop(dep, dep.current[index], self._drain_s)
        for index in range(before, plan.instance_count):
            self._start(dep, index)

    def _start(self, dep: _Deployment, index: int) -> None:
        plan = dep.plan
        bin_dir = plan.python_bin_dir or Path(sys.executable).parent
        env = process_environment({**plan.env, **plan.secret_env}, self._env, bin_dir)
        if plan.model_dir is not None:
            env.setdefault("AZUREML_MODEL_DIR", str(plan.model_dir))
        worker = InstanceSupervisor(
            plan=plan,
            plan_file=dep.folder / f"plan-{dep.generation}.json",
            index=index,
            socket_paths=lambda: self._socket_path(dep.key),
            log=dep.log,
            cond=self._cond,
            env=env,
            cwd=plan.code_dir or dep.folder,
            backoff=self._backoff,
            on_change=lambda: self._settle(dep),
            parent_fd=self._parent_r,
            owner_dir=self._owner.folder,
        )
        dep.current[index] = worker
        worker.start()

    def _socket_path(self, key: DeploymentKey) -> Path:
        with self._cond:  # supervisors ask from their own threads (the condition's lock is an RLock)
            number = next(self._socket_numbers)
        return self._sockets / f"{_digest(key)}-{self._nonce}-{number}.sock"

    def _stop(self, dep: _Deployment, worker: InstanceSupervisor, drain_s: float) -> None:
        if worker.stopping:
            return
        worker.stop(drain_s, self._handoff_s if worker.state is InstanceState.READY else 0.0)
        if worker in dep.retiring:
            dep.retiring.remove(worker)
        dep.current = {i: w for i, w in dep.current.items() if w is not worker}
        dep.stopping.append(worker)

    def _settle(self, dep: _Deployment) -> None:
        """Under the condition, after any change: drain the previous revision once the
        current one is all Ready; forget workers that have stopped."""
        dep.stopping = [w for w in dep.stopping if not w.finished]
        if not dep.retiring:
            return
        current = list(dep.current.values())
        if len(current) < dep.plan.instance_count or not all(w.state is InstanceState.READY for w in current):
            return
        old = dep.retiring[:]
        dep.log.event(
            f"revision {dep.plan.revision} is ready on {len(current)} worker(s): "
            f"draining {len(old)} worker(s) of the previous revision"
        )
        for worker in old:
            self._stop(dep, worker, self._drain_s)


def _only_the_count_differs(old: DeploymentPlan, new: DeploymentPlan) -> bool:
    if new.instance_count == old.instance_count:
        return False
    return dataclasses.replace(new, revision=old.revision, instance_count=old.instance_count) == old


def _digest(key: DeploymentKey) -> str:
    return hashlib.sha256(str(key).encode()).hexdigest()[:12]


def _slug(key: DeploymentKey) -> str:
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{key.endpoint}.{key.deployment}")[:80]
    return f"{readable}-{_digest(key)}"
