"""The serving port: what the endpoint services need from a deployment runtime.

An online endpoint holds deployments; a deployment is ``instance_count`` worker processes,
each with the model loaded once, each answering the worker protocol on its own address:

    POST /score    the client's body and Content-Type, passed through unchanged →
                   200 JSON predictions | 400 {"error": …} (input does not fit the model) |
                   500 {"error": …} (the scoring script raised; traceback in the worker's log)
    GET  /live     200 while the process serves (liveness probe)
    GET  /ready    200 once the model is loaded and init() returned (readiness probe)

The scoring router (``/endpoints/<name>/score``) picks a deployment by traffic weight,
a ready instance of it, and forwards the request to the instance's ``address`` (an HTTP
URL, ``http+unix://<percent-encoded socket path>`` for local workers). The runtime starts,
watches (probes; restarts a crashed worker and writes why into the deployment's log) and
stops workers. The local runtime runs processes on the server's host; a Ray Serve or
Kubernetes runtime implements the same interface.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = [
    "DeploymentKey",
    "DeploymentPlan",
    "DeploymentRuntime",
    "Instance",
    "InstanceState",
    "Probe",
]


@dataclass(frozen=True, slots=True)
class DeploymentKey:
    workspace: str
    endpoint: str
    deployment: str

    def __str__(self) -> str:
        return f"{self.workspace}/{self.endpoint}/{self.deployment}"


@dataclass(frozen=True, slots=True)
class Probe:
    """Azure ML's probe settings (seconds), with its defaults."""

    initial_delay: float = 10.0
    period: float = 10.0
    timeout: float = 2.0
    success_threshold: int = 1
    failure_threshold: int = 30


@dataclass(frozen=True, slots=True)
class DeploymentPlan:
    """Everything a runtime needs to run one deployment's workers, already materialised.

    ``model_dir`` is the model's files (``AZUREML_MODEL_DIR`` for a scoring script; the
    MLflow model folder for a no-code deployment). ``scoring_script`` is a path inside
    ``code_dir`` with ``init()`` and ``run(raw_data)``; None means a no-code MLflow
    deployment served through the model's pyfunc and signature. ``python_bin_dir`` is a
    built environment's ``bin`` (None: the server's interpreter). ``revision`` changes
    whenever anything here changes: applying a plan with a new revision replaces the
    workers (new ones ready before old ones stop).
    """

    key: DeploymentKey
    revision: str
    model_kind: Literal["mlflow", "custom"]
    model_dir: Path | None
    code_dir: Path | None = None
    scoring_script: str | None = None
    python_bin_dir: Path | None = None
    instance_count: int = 1
    env: Mapping[str, str] = field(default_factory=dict)
    # Revealed ${{secrets.…}}: the workers' environment only, never the plan file.
    secret_env: Mapping[str, str] = field(default_factory=dict, repr=False)
    request_timeout_ms: int = 5000
    max_concurrent_requests_per_instance: int = 1
    max_batch_size: int = 1  # requests one model call may score together (batchable scorers)
    liveness: Probe = field(default_factory=Probe)
    readiness: Probe = field(default_factory=Probe)


class InstanceState(enum.Enum):
    STARTING = "Starting"  # process started, model loading
    READY = "Ready"  # readiness probe passes: receives traffic
    UNHEALTHY = "Unhealthy"  # a probe is failing; no traffic
    CRASHED = "Crashed"  # exited; being restarted (with back-off)
    FAILED = "Failed"  # could not start (init() raised, probe never passed): see message
    STOPPED = "Stopped"


@dataclass(frozen=True, slots=True)
class Instance:
    index: int
    state: InstanceState
    address: str  # where the worker protocol answers
    pid: int | None = None
    restarts: int = 0
    message: str = ""  # why it is not Ready, in words: "init() raised KeyError: 'x'", …
    revision: str = ""


class DeploymentRuntime(ABC):
    """Runs deployments' workers. Thread-safe; every method returns promptly."""

    @abstractmethod
    def apply(self, plan: DeploymentPlan) -> None:
        """Start the deployment, or move it to ``plan`` (scale, new revision) without a gap:
        new workers are ready before old ones are drained and stopped. Idempotent."""

    @abstractmethod
    def instances(self, key: DeploymentKey) -> list[Instance]:
        """The deployment's workers now ([] when unknown)."""

    @abstractmethod
    def wait_ready(self, key: DeploymentKey, timeout_s: float) -> list[Instance]:
        """Block until every instance of the current revision is Ready; raise
        :class:`~shipyard.errors.Unavailable` naming the reason (the instance's message and
        the end of its log) when one Failed or the time is up."""

    @abstractmethod
    def remove(self, key: DeploymentKey, drain_s: float = 5.0) -> None:
        """Stop the deployment's workers after in-flight requests finish (up to ``drain_s``)."""

    @abstractmethod
    def logs(self, key: DeploymentKey, lines: int = 100) -> str:
        """The last ``lines`` of the deployment's log: every worker's output, restarts and why."""

    @abstractmethod
    def close(self) -> None:
        """Stop every worker (server shutdown); the endpoint service re-applies plans on start."""
