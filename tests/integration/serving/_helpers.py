"""Talking to workers over their UNIX sockets, as a router would."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import httpx

from shipyard.services.serving_ports import (
    DeploymentKey,
    DeploymentPlan,
    DeploymentRuntime,
    Instance,
    InstanceState,
    Probe,
)

# Short probes: a test should not wait Azure's 10 s initial delay.
FAST = Probe(initial_delay=0.5, period=0.2, timeout=2.0, success_threshold=1, failure_threshold=60)
# Readiness polled as often, but a model may take a minute to load on a loaded CI machine (the
# tests' own wait_ready(…, 60) decides how long is too long; 12 s failed workers there once).
PATIENT = Probe(initial_delay=0.5, period=0.2, timeout=2.0, success_threshold=1, failure_threshold=300)


def socket_path(address: str) -> str:
    assert address.startswith("http+unix://")
    return unquote(address.removeprefix("http+unix://"))


def client(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=socket_path(address)), base_url="http://worker")


def ready(runtime: DeploymentRuntime, key: DeploymentKey) -> list[Instance]:
    return [i for i in runtime.instances(key) if i.state is InstanceState.READY]


def mlflow_plan(key: DeploymentKey, model_dir: Path, revision: str = "r1", **kw: object) -> DeploymentPlan:
    return DeploymentPlan(
        key,
        revision,
        "mlflow",
        model_dir,
        liveness=FAST,
        readiness=PATIENT,
        **kw,  # type: ignore[arg-type]
    )


def script_plan(
    key: DeploymentKey, code_dir: Path, model_dir: Path, revision: str = "r1", **kw: object
) -> DeploymentPlan:
    return DeploymentPlan(
        key,
        revision,
        "custom",
        model_dir,
        code_dir=code_dir,
        scoring_script="score.py",
        liveness=FAST,
        readiness=PATIENT,
        **kw,  # type: ignore[arg-type]
    )
