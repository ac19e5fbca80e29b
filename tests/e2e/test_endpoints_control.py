"""Online endpoints as a user drives them: a real server, Azure ML endpoint and deployment
files, the CLI as a subprocess, real worker processes — keys, traffic rules, refusals,
an MLflow no-code deployment, a custom scoring script, a failing init() and a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shipyard.client.client import Client
from tests.conftest import ADMIN_TOKEN, ServerProcess

pytestmark = pytest.mark.slow

TRAIN = textwrap.dedent(
    """
    import sys
    import mlflow
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(sys.argv[1])
    X, y = load_iris(return_X_y=True, as_frame=True)
    with mlflow.start_run():
        model = LogisticRegression(max_iter=200).fit(X, y)
        mlflow.sklearn.log_model(
            model, name="model", input_example=X.head(2), registered_model_name=sys.argv[2]
        )
    """
)

ENDPOINT = """\
$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json
name: {name}
auth_mode: key
description: iris classifier
tags:
  team: e2e
"""

DEPLOYMENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
name: {name}
endpoint_name: {endpoint}
model: {model}
instance_type: Standard_DS3_v2
instance_count: 1
readiness_probe:
  initial_delay: 0
  period: 1
liveness_probe:
  initial_delay: 1
  period: 2
"""

SCORE = textwrap.dedent(
    """
    import json, os, pathlib

    def init():
        global weights
        weights = pathlib.Path(os.environ["AZUREML_MODEL_DIR"], "weights.txt").read_text()
        print("loaded", weights, flush=True)

    def run(raw_data):
        return {"weights": weights, "got": json.loads(raw_data)}
    """
)

BAD_SCORE = "def init():\n    raise ValueError('no weights here')\n\ndef run(raw_data):\n    return 1\n"

CUSTOM = """\
name: {name}
endpoint_name: {endpoint}
model:
  path: model
code_configuration:
  code: code
  scoring_script: {script}
readiness_probe:
  initial_delay: 0
  period: 1
  failure_threshold: 5
"""


@pytest.fixture
def clients() -> Iterator[Callable[[str], Client]]:
    made: list[Client] = []

    def make(url: str) -> Client:
        made.append(Client(url))
        return made[-1]

    yield make
    for client in made:
        client.close()


def cli(
    *args: str, url: str, cwd: Path | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env["SHIPYARD_TOKEN"] = ADMIN_TOKEN
    env["SHIPYARD_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "shipyard", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def register_iris(url: str, name: str, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPYARD_", "MLFLOW_"))}
    env["MLFLOW_TRACKING_TOKEN"] = ADMIN_TOKEN
    done = subprocess.run(
        [sys.executable, str(script), url, name],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_keys_traffic_rules_and_mlflow_deployments(
    server: ServerProcess, tmp_path: Path, clients: Callable[[str], Client]
) -> None:
    url = server.url
    register_iris(url, "iris-clf", tmp_path)
    client = clients(url)
    client.set_model_alias("iris-clf", "champion", 1)

    ok(
        cli(
            "online-endpoint",
            "create",
            "-f",
            str(write(tmp_path / "endpoint.yml", ENDPOINT.format(name="iris"))),
            url=url,
        )
    )
    keys = json.loads(ok(cli("online-endpoint", "get-credentials", "-n", "iris", "-o", "json", url=url)))
    assert set(keys) == {"primaryKey", "secondaryKey"}
    assert len(keys["primaryKey"]) == 43 and keys["primaryKey"] != keys["secondaryKey"]
    ok(cli("online-endpoint", "regenerate-keys", "-n", "iris", "--key-type", "secondary", url=url))
    again = client.online_endpoints.get_keys("iris")
    assert again["primaryKey"] == keys["primaryKey"] and again["secondaryKey"] != keys["secondaryKey"]

    blue = write(
        tmp_path / "blue.yml", DEPLOYMENT.format(name="blue", endpoint="iris", model="azureml:iris-clf:1")
    )
    done = cli("online-deployment", "create", "-f", str(blue), "--all-traffic", url=url)
    assert done.returncode == 0, done.stderr
    assert "instance_type: workers are processes" in done.stderr  # accepted, ignored, said so
    assert "iris/blue: Succeeded" in done.stderr
    shown = json.loads(
        ok(cli("online-deployment", "show", "-n", "blue", "-e", "iris", "-o", "json", url=url))
    )
    assert shown["provisioning_state"] == "Succeeded"
    assert shown["model"]["kind"] == "mlflow" and shown["model"]["name"] == "iris-clf"
    assert client.online_endpoints.get("iris").traffic == {"blue": 100}

    green = write(
        tmp_path / "green.yml",
        DEPLOYMENT.format(name="green", endpoint="iris", model="azureml:iris-clf@champion"),
    )
    done = cli("online-deployment", "create", "-f", str(green), "--no-wait", url=url)
    assert done.returncode == 0 and "iris/green: Creating" in done.stderr, done.stderr
    final = client.online_deployments.wait("iris", "green", timeout_s=180)
    assert final.provisioning_state == "Succeeded", final.reason
    assert final.model["version"] == 1

    for traffic, words in (
        ("blue=90 green=20", "sum to 100"),
        ("blue=90 red=10", "'red', which does not exist"),
        ("blue=90 green", "not <deployment>=<percent>"),
    ):
        done = cli("online-endpoint", "update", "-n", "iris", "--traffic", traffic, url=url)
        assert done.returncode == 1 and words in done.stderr, done.stderr
    ok(cli("online-endpoint", "update", "-n", "iris", "--traffic", "blue=90 green=10", url=url))
    done = cli("online-endpoint", "update", "-n", "iris", "--mirror-traffic", "green=10", url=url)
    assert done.returncode == 1 and "0% live traffic" in done.stderr
    ok(
        cli(
            "online-endpoint",
            "update",
            "-n",
            "iris",
            "--traffic",
            "blue=100",
            "--mirror-traffic",
            "green=10",
            url=url,
        )
    )
    done = cli("online-endpoint", "update", "-n", "iris", "--mirror-traffic", "green=60", url=url)
    assert done.returncode == 1 and "at most 50%" in done.stderr
    endpoint = client.online_endpoints.get("iris")
    assert (endpoint.traffic, endpoint.mirror_traffic) == ({"blue": 100, "green": 0}, {"green": 10})

    done = cli("online-deployment", "delete", "-n", "blue", "-e", "iris", url=url)
    assert done.returncode == 1 and "still receives 100% of live traffic" in done.stderr, done.stderr
    assert "(CONFLICT)" in done.stderr
    done = cli("online-deployment", "delete", "-n", "green", "-e", "iris", url=url)
    assert done.returncode == 1 and "mirrored traffic" in done.stderr
    ok(cli("online-endpoint", "update", "-n", "iris", "--mirror-traffic", "green=0", url=url))
    ok(cli("online-deployment", "delete", "-n", "green", "-e", "iris", url=url))
    listed = ok(cli("online-deployment", "list", "-e", "iris", url=url))
    assert "blue" in listed and "green" not in listed
    logs = ok(cli("online-deployment", "get-logs", "-n", "blue", "-e", "iris", "--lines", "50", url=url))
    assert "every worker is ready" in logs

    ok(cli("online-endpoint", "delete", "-n", "iris", url=url))
    assert client.online_endpoints.list() == []
    done = cli("online-deployment", "show", "-n", "blue", "-e", "iris", url=url)
    assert done.returncode == 1 and "no online endpoint named 'iris'" in done.stderr


def test_custom_scoring_script_and_a_failing_init(
    server: ServerProcess, tmp_path: Path, clients: Callable[[str], Client]
) -> None:
    url = server.url
    write(tmp_path / "model" / "weights.txt", "w=1")
    write(tmp_path / "code" / "score.py", SCORE)
    write(tmp_path / "code" / "bad.py", BAD_SCORE)
    ok(
        cli(
            "online-endpoint",
            "create",
            "-f",
            str(write(tmp_path / "ep.yml", ENDPOINT.format(name="custom"))),
            url=url,
        )
    )

    good = write(tmp_path / "good.yml", CUSTOM.format(name="good", endpoint="custom", script="score.py"))
    done = cli("online-deployment", "create", "-f", str(good), url=url)
    assert done.returncode == 0, done.stderr
    assert "model: 1 files" in done.stderr and "code: 2 files" in done.stderr
    client = clients(url)
    assert client.online_deployments.get("custom", "good").model["kind"] == "custom"
    assert "loaded w=1" in client.online_deployments.get_logs("custom", "good")
    before = client.online_deployments.get("custom", "good").revision
    # run() raising: the API's error shape, the script's own words, where the traceback is.
    not_json = write(tmp_path / "not-json.txt", "{oops")
    done = cli("online-endpoint", "invoke", "-n", "custom", "-d", "good", "-r", str(not_json), url=url)
    assert done.returncode == 1
    assert done.stderr.startswith(
        "error: deployment 'good' could not score the request: run() raised JSONDecodeError:"
    ), done.stderr
    assert done.stderr.rstrip().endswith(
        "the traceback is in its log: shipyard online-deployment get-logs -n good -e custom (SCORING_FAILED)"
    ), done.stderr
    assert "Traceback" not in done.stderr

    # An update is a new revision rolled out behind the old one; new model files included.
    write(tmp_path / "model" / "weights.txt", "w=3")
    done = cli("online-deployment", "update", "-f", str(good), "--set", "instance_count=2", url=url)
    assert done.returncode == 0 and "custom/good: Succeeded" in done.stderr, done.stderr
    # The update's own progress, from where the log stood when it was sent: not the create's.
    assert done.stderr.count("every worker is ready") == 1, done.stderr
    assert "workers: starting 2 of revision" in done.stderr and "workers: 1 (pid " in done.stderr
    updated = client.online_deployments.get("custom", "good")
    assert updated.revision != before and updated.instance_count == 2
    assert "loaded w=3" in client.online_deployments.get_logs("custom", "good", lines=1000)

    bad = write(tmp_path / "bad.yml", CUSTOM.format(name="bad", endpoint="custom", script="bad.py"))
    done = cli("online-deployment", "create", "-f", str(bad), url=url)
    assert done.returncode == 1
    assert "custom/bad: Failed" in done.stderr and "no weights here" in done.stderr, done.stderr
    shown = client.online_deployments.get("custom", "bad")
    assert shown.provisioning_state == "Failed" and "no weights here" in shown.reason
    logs = ok(cli("online-deployment", "get-logs", "-n", "bad", "-e", "custom", url=url))
    assert "ValueError: no weights here" in logs

    # A model that is not MLflow's needs a scoring script: said before anything is recorded.
    bare = write(tmp_path / "bare.yml", "name: bare\nendpoint_name: custom\nmodel: model\n")
    done = cli("online-deployment", "create", "-f", str(bare), url=url)
    assert done.returncode == 1 and "a scoring script is needed" in done.stderr, done.stderr
    assert [d.name for d in client.online_deployments.list("custom")] == ["bad", "good"]
    # Unknown fields are named with their line, before anything is uploaded.
    typo = write(
        tmp_path / "typo.yml",
        CUSTOM.format(name="t", endpoint="custom", script="score.py") + "instance_cout: 2\n",
    )
    done = cli("online-deployment", "create", "-f", str(typo), url=url)
    assert done.returncode == 1 and "line 12: unknown field 'instance_cout'" in done.stderr, done.stderr


def test_a_restart_applies_succeeded_deployments_again(  # type: ignore[no-untyped-def]
    server_factory, tmp_path: Path, clients: Callable[[str], Client]
):
    home = tmp_path / "home"
    first: ServerProcess = server_factory(home=home)
    write(tmp_path / "model" / "weights.txt", "w=2")
    write(tmp_path / "code" / "score.py", SCORE)
    ok(
        cli(
            "online-endpoint",
            "create",
            "-f",
            str(write(tmp_path / "ep.yml", ENDPOINT.format(name="kept"))),
            url=first.url,
        )
    )
    spec = write(tmp_path / "d.yml", CUSTOM.format(name="blue", endpoint="kept", script="score.py"))
    ok(cli("online-deployment", "create", "-f", str(spec), "--all-traffic", url=first.url))
    keys = clients(first.url).online_endpoints.get_keys("kept")
    first.stop()

    second: ServerProcess = server_factory(home=home)
    client = clients(second.url)
    deadline = time.monotonic() + 120
    logs = ""
    while time.monotonic() < deadline:
        logs = client.online_deployments.get_logs("kept", "blue", lines=1000)
        if logs.count("every worker is ready") >= 2:
            break
        time.sleep(0.5)
    assert "server restarted: applying revision" in logs
    assert logs.count("every worker is ready") >= 2, logs
    assert logs.count("loaded w=2") >= 1
    assert client.online_deployments.get("kept", "blue").provisioning_state == "Succeeded"
    assert client.online_endpoints.get_keys("kept") == keys  # keys survive the restart
    assert client.online_endpoints.get("kept").traffic == {"blue": 100}


SLOW_SCORE = SCORE.replace("def init():\n", "def init():\n    import time; time.sleep(3)\n")


def test_all_traffic_asked_by_a_create_interrupted_by_a_restart_is_still_routed(  # type: ignore[no-untyped-def]
    server_factory, tmp_path: Path, clients: Callable[[str], Client]
):
    home = tmp_path / "home"
    first: ServerProcess = server_factory(home=home)
    write(tmp_path / "model" / "weights.txt", "w=3")
    write(tmp_path / "code" / "score.py", SLOW_SCORE)
    ep = write(tmp_path / "ep.yml", ENDPOINT.format(name="later"))
    ok(cli("online-endpoint", "create", "-f", str(ep), url=first.url))
    spec = write(tmp_path / "d.yml", CUSTOM.format(name="blue", endpoint="later", script="score.py"))
    ok(cli("online-deployment", "create", "-f", str(spec), "--all-traffic", "--no-wait", url=first.url))
    assert clients(first.url).online_deployments.get("later", "blue").provisioning_state == "Creating"
    first.stop()  # while init() sleeps

    second: ServerProcess = server_factory(home=home)
    client = clients(second.url)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if client.online_deployments.get("later", "blue").provisioning_state != "Creating":
            break
        time.sleep(0.3)
    assert client.online_deployments.get("later", "blue").provisioning_state == "Succeeded"
    deadline = time.monotonic() + 10  # the traffic is set right after the state
    while client.online_endpoints.get("later").traffic != {"blue": 100} and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.online_endpoints.get("later").traffic == {"blue": 100}
    logs = client.online_deployments.get_logs("later", "blue", lines=1000)
    assert "(then all live traffic to it, as its create asked)" in logs, logs
    assert "all live traffic now goes to it (--all-traffic)" in logs, logs
