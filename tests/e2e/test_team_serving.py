"""Online deployments on a team server: three real servers on one PostgreSQL database, one
artifact folder and one secret key — ``front`` with ``--roles api`` only, ``a`` and ``b``
with ``api,serving`` — as in docs/team-server.md.

Every change goes through the API-only server, which runs no workers: one serving server
claims each rollout (its lease, 4 s here), the other follows what succeeded. The server
bringing a deployment up is SIGKILLed mid-way (its ``init()`` sleeps): the other takes the
rollout over when the lease lapses. Then both answer ``/endpoints/<name>/score``, a traffic
change made through one is followed by the other, a worker's print() is read through the
API-only server, a model that fails to load ends Failed once, and a delete stops the
workers on both.
"""

from __future__ import annotations

import base64
import json
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from shipyard.client.client import Client
from tests.conftest import ADMIN_TOKEN, ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LEASE_S = 4
SCORE = (
    "import json, os, pathlib, time\n\n"
    "def init():\n"
    "    global weights\n"
    "    time.sleep(float(os.environ.get('SLOW_INIT', '0')))\n"
    "    weights = pathlib.Path(os.environ['AZUREML_MODEL_DIR'], 'weights.txt').read_text()\n"
    "    print('loaded', weights, flush=True)\n\n"
    "def run(raw_data):\n"
    "    return {'weights': weights}\n"
)
BAD_SCORE = "def init():\n    raise ValueError('no weights here')\n\ndef run(raw_data):\n    return 1\n"
DEPLOYMENT = """\
name: {name}
endpoint_name: team
model:
  path: {name}/model
code_configuration:
  code: {name}/code
  scoring_script: score.py
environment_variables:
  SLOW_INIT: "{slow}"
readiness_probe:
  initial_delay: 0
  period: 1
  failure_threshold: 20
"""


def _deployment(folder: Path, name: str, score: str, weights: str, slow: float = 0) -> Path:
    (folder / name / "model").mkdir(parents=True)
    (folder / name / "code").mkdir(parents=True)
    (folder / name / "model" / "weights.txt").write_text(weights)
    (folder / name / "code" / "score.py").write_text(score)
    path = folder / f"{name}.yml"
    path.write_text(DEPLOYMENT.format(name=name, slow=slow))
    return path


def _wait(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _score(url: str, key: str, deployment: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    if deployment is not None:
        headers["azureml-model-deployment"] = deployment
    return httpx.post(f"{url}/endpoints/team/score", json={"x": 1}, headers=headers, timeout=30)


def _answers(url: str, key: str, deployment: str | None = None) -> str | None:
    """The weights the deployment that answered loaded, or None (no answer yet)."""
    r = _score(url, key, deployment)
    return r.json()["weights"] if r.status_code == 200 else None


def _workers(server: ServerProcess) -> list[psutil.Process]:
    assert server.proc is not None
    return [p for p in psutil.Process(server.proc.pid).children(recursive=True) if p.is_running()]


@pytest.fixture
def team(tmp_path: Path, pg_database_url: str) -> Iterator[dict[str, ServerProcess]]:
    env = {
        "SHIPYARD_SECRET_KEY": base64.urlsafe_b64encode(b"t" * 32).decode(),
        "SHIPYARD_JOB_LEASE_SECONDS": str(LEASE_S),
    }
    args = ["--database-url", pg_database_url, "--artifacts", str(tmp_path / "artifacts")]
    # The first applies the migrations; the other two start side by side.
    started = {"front": ServerProcess(tmp_path / "front", [*args, "--roles", "api"], env)}
    try:
        started["front"].start()
        for name in ("a", "b"):
            started[name] = ServerProcess(tmp_path / name, [*args, "--roles", "api,serving"], env)
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda s: s.start(), [started["a"], started["b"]]))
        yield started
    finally:
        for server in started.values():
            server.stop()


def test_every_serving_server_serves_every_deployment_whoever_took_the_change(
    team: dict[str, ServerProcess], tmp_path: Path
) -> None:
    front, a, b = team["front"], team["a"], team["b"]
    client = Client(front.url, token=ADMIN_TOKEN)
    try:
        (tmp_path / "ep.yml").write_text("name: team\nauth_mode: key\n")
        client.online_endpoints.create(tmp_path / "ep.yml")
        key = client.online_endpoints.get_keys("team")["primaryKey"]

        # blue comes up slowly; the server that claimed it is killed meanwhile.
        client.online_deployments.create(
            _deployment(tmp_path, "blue", SCORE, "w=1", slow=4), all_traffic=True
        )
        ids = {name: json.loads((tmp_path / name / "node.json").read_text())["id"][:8] for name in ("a", "b")}
        claimed = _wait(
            lambda: [
                n
                for n in ids
                if f"server {ids[n]}" in client.online_deployments.get_logs("team", "blue", 1000)
            ],
            30,
            "a serving server to claim blue",
        )
        assert len(claimed) == 1, claimed
        holder, other = (a, b) if claimed == ["a"] else (b, a)
        _wait(lambda: _workers(holder), 20, "blue's worker to start")
        holder.stop(signal.SIGKILL)
        killed = time.monotonic()
        _wait(
            lambda: client.online_deployments.get("team", "blue").provisioning_state == "Succeeded",
            LEASE_S + 30,
            "blue to be taken over and come up",
        )
        logs = client.online_deployments.get_logs("team", "blue", 1000)
        assert "takes over revision" in logs and "stopped renewing its lease" in logs, logs
        took_over = time.monotonic() - killed
        assert took_over < LEASE_S + 15
        assert client.online_endpoints.get("team").traffic == {"blue": 100}  # --all-traffic, by the adopter
        assert _answers(other.url, key) == "w=1"
        # The worker's print() on the other server, read through the API-only one (which runs
        # no workers) from the shared log stream, prefixed by the server that ran it.
        other_id = ids["b" if holder is a else "a"]
        _wait(
            lambda: (
                f"[{other_id} on " in client.online_deployments.get_logs("team", "blue", 1000)
                and "[worker 0] loaded w=1" in client.online_deployments.get_logs("team", "blue", 1000)
            ),
            10,
            "the worker's print() through the API-only server",
        )

        # The killed server comes back and serves blue too (it follows what succeeded).
        restarted = ServerProcess(holder.home, holder.args, holder.env).start()
        team["restarted"] = restarted
        assert _wait(lambda: _answers(restarted.url, key), 30, "the restarted server to serve blue") == "w=1"

        # green, created through the API-only server, reaches both; a traffic change made
        # through one is followed by the other.
        green = _deployment(tmp_path, "green", SCORE, "w=2")
        client.online_deployments.create(green)
        client.online_deployments.wait("team", "green", timeout_s=60)
        for url in (restarted.url, other.url):
            assert _wait(lambda u=url: _answers(u, key, "green"), 15, f"{url} to serve green") == "w=2"
        through_other = Client(other.url, token=ADMIN_TOKEN)
        try:
            through_other.online_endpoints.update("team", traffic={"green": 100})
        finally:
            through_other.close()
        began = time.monotonic()
        _wait(
            lambda: _answers(restarted.url, key) == "w=2", 10, "the other server to follow the traffic change"
        )
        followed = time.monotonic() - began
        assert followed < 5
        print(
            f"blue Succeeded {took_over:.1f} s after its server was killed; traffic followed in {followed:.2f} s"
        )

        # A model that fails to load ends Failed with its error, said once.
        bad = _deployment(tmp_path, "bad", BAD_SCORE, "w=0")
        client.online_deployments.create(bad)
        _wait(
            lambda: client.online_deployments.get("team", "bad").provisioning_state == "Failed",
            60,
            "bad to fail",
        )
        shown = client.online_deployments.get("team", "bad")
        assert "no weights here" in shown.reason, shown
        said = client.online_deployments.get_logs("team", "bad", 1000).splitlines()
        assert [line for line in said if line.startswith("failed: ")] == [
            f"failed: {shown.reason.splitlines()[0]}"
        ], said

        # Deleting blue stops its workers on both serving servers; deleting the endpoint, all.
        client.online_deployments.delete("team", "blue")
        for url in (restarted.url, other.url):
            _wait(lambda u=url: _score(u, key, "blue").status_code == 404, 10, f"{url} to forget blue")
        client.online_endpoints.delete("team")
        for server in (restarted, other):
            _wait(lambda s=server: not _workers(s), 20, f"{server.url}'s workers to stop")
        assert not _workers(front)
    finally:
        client.close()
        if "restarted" in team:
            team.pop("restarted").stop()
