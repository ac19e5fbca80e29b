"""The project ``shipyard init`` scaffolds runs against a real server (sign-in on), with its
files as written: the data asset, the train → evaluate → register pipeline, the registered
version traced to the run that trained it (what ``ci compare --baseline model:…`` reads), the
endpoint and its blue deployment, and the sample request scored — one wine of each cultivar.

One substitution: the steps run in a workspace environment asking for no package (the
server's own interpreter, which has what the scripts import), where the project's
environment.yml would have uv download and byte-compile scikit-learn, pandas and mlflow — a
test must not download, and the build alone took ~40 s here. The integration test
tests/integration/test_init_template.py loads that environment.yml with the job loader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ServerProcess

pytestmark = pytest.mark.slow

STEPS = ("train", "evaluate", "register")


def _shipyard(*args: str, url: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPYARD_URL", "SHIPYARD_WORKSPACE"))}
    return subprocess.run(
        [sys.executable, "-m", "shipyard", *args],
        capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd,
        env={**env, "SHIPYARD_URL": url},
    )  # fmt: skip


def _ok(*args: str, url: str, cwd: Path, timeout: float = 120) -> str:
    done = _shipyard(*args, url=url, cwd=cwd, timeout=timeout)
    assert done.returncode == 0, f"shipyard {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_scaffolded_project_trains_registers_deploys_and_scores(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "home").start()
    try:
        url = server.url
        _ok("init", str(tmp_path / "vineyard"), url=url, cwd=tmp_path)
        project = tmp_path / "vineyard"
        _ok("data", "create", "-f", "data/data.yml", url=url, cwd=project)
        interpreter = tmp_path / "server-python.yml"
        interpreter.write_text(
            "name: server-python\nimage: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04\n"
        )
        _ok("environment", "create", "-f", str(interpreter), url=url, cwd=project)
        own = [f"--set=jobs.{step}.environment=azureml:server-python@latest" for step in STEPS]
        streamed = _ok(
            "job", "create", "-f", "pipelines/train-evaluate-register.yml", "--name", "main-1", "--stream", *own,
            url=url, cwd=project, timeout=600,
        )  # fmt: skip
        assert "completed: 3 steps, 0 reused" in streamed

        versions = json.loads(_ok("model", "version", "list", "vineyard", "-o", "json", url=url, cwd=project))
        assert [str(v["version"]) for v in versions] == ["1"]
        train_run = versions[0]["run_id"]
        train_job = json.loads(_ok("job", "show", "-n", "main-1-train", "-o", "json", url=url, cwd=project))
        assert train_job["run_id"] == train_run  # registered from the train step's run, with its metrics
        gate = _shipyard(
            "ci", "compare", "--candidate", train_run, "--baseline", "model:vineyard:1",
            "--policy", "policy.yml", "--format", "json", url=url, cwd=project,
        )  # fmt: skip
        assert gate.returncode == 0, gate.stdout + gate.stderr
        assert json.loads(gate.stdout)["policy"]["passed"] is True

        _ok("online-endpoint", "create", "-f", "endpoints/endpoint.yml", url=url, cwd=project)
        _ok("online-deployment", "create", "-f", "endpoints/blue.yml", "--all-traffic", url=url, cwd=project)
        scored = _ok(
            "online-endpoint", "invoke", "-n", "vineyard-ep", "--request-file", "endpoints/sample-request.json",
            url=url, cwd=project,
        )  # fmt: skip
        assert json.loads(scored) == [0, 1, 2]
    finally:
        server.stop()
