"""A :class:`~shipyard.services.serving_ports.DeploymentPlan` as the JSON file a worker reads."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from shipyard.services.serving_ports import DeploymentKey, DeploymentPlan, Probe

_PATHS = ("model_dir", "code_dir", "python_bin_dir")


def write_plan(plan: DeploymentPlan, path: Path) -> None:
    data: dict[str, Any] = asdict(plan)
    for name in _PATHS:
        data[name] = None if data[name] is None else str(data[name])
    data["env"] = dict(plan.env)
    del data["secret_env"]  # memory only: the worker gets them in its environment
    tmp = path.with_name(path.name + ".tmp")
    # mode 0600: the deployment's variables may hold secrets
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def read_plan(path: Path) -> DeploymentPlan:
    data = json.loads(path.read_text(encoding="utf-8"))
    for name in _PATHS:
        data[name] = None if data[name] is None else Path(data[name])
    data["key"] = DeploymentKey(**data["key"])
    data["liveness"] = Probe(**data["liveness"])
    data["readiness"] = Probe(**data["readiness"])
    return DeploymentPlan(**data)
