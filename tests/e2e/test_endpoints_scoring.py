"""Scoring online endpoints end to end: a real server, a registered MLflow model, real
worker processes, requests over HTTP — and the safe rollout the issue asks for: green
created, traffic shifted 90/10 then 0/100, blue deleted, while a load generator runs,
with zero failed requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, AUTH, ServerProcess

pytestmark = pytest.mark.slow

TRAIN = textwrap.dedent(
    """
    import sys
    import mlflow
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(sys.argv[1])
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    for c in (1.0, 0.1):
        with mlflow.start_run():
            model = LogisticRegression(max_iter=300, C=c).fit(X, y)
            mlflow.sklearn.log_model(model, name="model", input_example=X.head(2), registered_model_name="iris")
    """
)

DEPLOYMENT = """\
name: {name}
endpoint_name: iris-ep
model: azureml:iris:{version}
instance_count: {instances}
request_settings:
  request_timeout_ms: 5000
  max_concurrent_requests_per_instance: 4
readiness_probe:
  initial_delay: 0
  period: 1
data_collector:
  sampling_rate: 1.0
  collections:
    model_inputs: {{enabled: 'True'}}
    model_outputs: {{enabled: 'True'}}
"""

ROWS = {
    "columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
    "data": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]],
}


def cli(*args: str, url: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env["SHIPYARD_TOKEN"] = ADMIN_TOKEN
    env["SHIPYARD_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "shipyard", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> ServerProcess:  # type: ignore[misc]
    home = tmp_path_factory.mktemp("scoring") / "home"
    server = ServerProcess(home).start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env["MLFLOW_TRACKING_TOKEN"] = ADMIN_TOKEN
        subprocess.run([sys.executable, "-c", TRAIN, server.url], check=True, env=env, timeout=300)
        yield server
    finally:
        server.stop()


def _files(tmp: Path, **texts: str) -> dict[str, Path]:
    out = {}
    for name, text in texts.items():
        out[name] = tmp / f"{name}.yml"
        out[name].write_text(text)
    return out


def _key(url: str) -> str:
    done = cli("online-endpoint", "get-credentials", "-n", "iris-ep", "--output", "json", url=url)
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["primaryKey"])


def test_score_every_payload_format_and_see_who_served(served: ServerProcess, tmp_path: Path) -> None:
    url = served.url
    files = _files(
        tmp_path,
        endpoint="name: iris-ep\nauth_mode: key\n",
        blue=DEPLOYMENT.format(name="blue", version=1, instances=1),
    )
    assert cli("online-endpoint", "create", "-f", str(files["endpoint"]), url=url).returncode == 0
    done = cli("online-deployment", "create", "-f", str(files["blue"]), "--all-traffic", url=url)
    assert done.returncode == 0, done.stdout + done.stderr
    key = _key(url)
    auth = {"Authorization": f"Bearer {key}"}
    bodies = [
        {"input_data": ROWS},
        {"dataframe_split": ROWS},
        {"dataframe_records": [dict(zip(ROWS["columns"], row, strict=True)) for row in ROWS["data"]]},
        {"inputs": {c: [r[i] for r in ROWS["data"]] for i, c in enumerate(ROWS["columns"])}},
    ]
    answers = []
    with httpx.Client(base_url=url, headers=auth, timeout=30) as http:
        for body in bodies:
            r = http.post("/endpoints/iris-ep/score", json=body)
            assert r.status_code == 200, r.text
            assert r.headers["azureml-model-deployment"] == "blue"
            assert len(r.headers["x-request-id"]) == 32
            data = r.json()
            answers.append(data if isinstance(data, list) else data["predictions"])
        assert all(a == answers[0] for a in answers) and answers[0] == [0, 2]
        # Input not matching the signature: a 400 that names the columns.
        r = http.post(
            "/endpoints/iris-ep/score", json={"input_data": {"columns": ["a", "b"], "data": [[1, 2]]}}
        )
        assert r.status_code == 400 and "sepal_length" in r.text
        # Malformed JSON: a 400 naming the problem, not a 500.
        r = http.post(
            "/endpoints/iris-ep/score", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 400
        assert (
            http.post(
                "/endpoints/iris-ep/score", json={"input_data": ROWS}, headers={"Authorization": "Bearer x"}
            ).status_code
            == 401
        )
        assert http.post("/endpoints/nope/score", json={"input_data": ROWS}).status_code == 404
        metrics = http.get("/metrics", headers=AUTH).text  # scraping needs server:metrics
    assert (
        'shipyard_endpoint_requests_total{deployment="blue",endpoint="iris-ep",mirror="false",status="200"}'
        in metrics
    )
    # Collected inputs and outputs land as Parquet in the artifact store within a flush (5 s).
    import pyarrow.parquet as pq

    collected = served.home / "artifacts" / "_collected" / "default" / "iris-ep" / "blue"
    deadline = time.monotonic() + 20
    while not list(collected.glob("model_outputs/*/*/*/*/*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.5)
    inputs = [
        r for f in collected.glob("model_inputs/*/*/*/*/*.parquet") for r in pq.read_table(f).to_pylist()
    ]
    outputs = [
        r for f in collected.glob("model_outputs/*/*/*/*/*.parquet") for r in pq.read_table(f).to_pylist()
    ]
    assert len(inputs) >= 4 and len(outputs) >= 4
    assert {r["request_id"] for r in inputs} == {r["request_id"] for r in outputs}
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"input_data": ROWS}))
    done = cli("online-endpoint", "invoke", "-n", "iris-ep", "--request-file", str(request), url=url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [0, 2]
    # A malformed body and a missing file: one line each, the right code, no traceback.
    request.write_text("{not json")
    done = cli("online-endpoint", "invoke", "-n", "iris-ep", "--request-file", str(request), url=url)
    assert done.returncode == 1
    assert done.stderr.startswith("error: the request body is not valid JSON: "), done.stderr
    assert done.stderr.rstrip().endswith("(INVALID_INPUT)") and done.stderr.count("\n") == 1, done.stderr
    missing = tmp_path / "nowhere.json"
    done = cli("online-endpoint", "invoke", "-n", "iris-ep", "--request-file", str(missing), url=url)
    assert done.returncode == 1
    assert done.stderr == f"error: the request file {str(missing)!r} does not exist (INVALID_ARGUMENT)\n"


def test_safe_rollout_under_load_loses_no_request(served: ServerProcess, tmp_path: Path) -> None:
    url = served.url
    files = _files(
        tmp_path,
        endpoint="name: iris-ep\nauth_mode: key\n",
        blue=DEPLOYMENT.format(name="blue", version=1, instances=2),
        green=DEPLOYMENT.format(name="green", version=2, instances=2),
    )
    existing = cli("online-endpoint", "show", "-n", "iris-ep", url=url)
    if existing.returncode != 0:
        assert cli("online-endpoint", "create", "-f", str(files["endpoint"]), url=url).returncode == 0
        assert (
            cli("online-deployment", "create", "-f", str(files["blue"]), "--all-traffic", url=url).returncode
            == 0
        )
    key = _key(url)
    stop = threading.Event()
    results: Counter[tuple[int, str]] = Counter()
    failures: list[str] = []

    def load() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
            while not stop.is_set():
                try:
                    r = http.post("/endpoints/iris-ep/score", json={"input_data": ROWS})
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                results[(r.status_code, r.headers.get("azureml-model-deployment", ""))] += 1
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1)
        done = cli("online-deployment", "create", "-f", str(files["green"]), url=url)
        assert done.returncode == 0, done.stdout + done.stderr
        done = cli("online-endpoint", "update", "-n", "iris-ep", "--traffic", "blue=90 green=10", url=url)
        assert done.returncode == 0, done.stderr
        time.sleep(2)
        done = cli("online-endpoint", "update", "-n", "iris-ep", "--traffic", "blue=0 green=100", url=url)
        assert done.returncode == 0, done.stderr
        time.sleep(1)
        done = cli("online-deployment", "delete", "-n", "blue", "-e", "iris-ep", url=url)
        assert done.returncode == 0, done.stdout + done.stderr
        time.sleep(1)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not failures, failures[:5]
    served_by = Counter(dep for (_status, dep), n in results.items() for _ in range(n))
    assert served_by["blue"] > 0 and served_by["green"] > 0, results
    assert sum(results.values()) > 100


def test_a_scoring_replica_serves_what_the_server_deployed_and_follows_changes(
    served: ServerProcess, tmp_path: Path
) -> None:
    url = served.url
    files = _files(
        tmp_path,
        endpoint="name: iris-ep\nauth_mode: key\n",
        blue=DEPLOYMENT.format(name="blue", version=1, instances=1),
        red=DEPLOYMENT.format(name="red", version=2, instances=1),
    )
    if cli("online-endpoint", "show", "-n", "iris-ep", url=url).returncode != 0:
        assert cli("online-endpoint", "create", "-f", str(files["endpoint"]), url=url).returncode == 0
        assert (
            cli("online-deployment", "create", "-f", str(files["blue"]), "--all-traffic", url=url).returncode
            == 0
        )
    key = _key(url)
    replica = ServerProcess(served.home, args=["--poll-seconds", "0.5"], command="serve").start()
    try:
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=replica.url, headers=auth, timeout=30) as http:
            deadline = time.monotonic() + 60
            while True:
                r = http.post("/endpoints/iris-ep/score", json={"input_data": ROWS})
                if r.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert r.status_code == 200, r.text
            assert r.json() == [0, 2]
            assert (
                http.get("/api/v1/online-endpoints", headers=AUTH).status_code == 404
            )  # no control plane here
            # A deployment made on the server reaches the replica within a poll and a start.
            done = cli("online-deployment", "create", "-f", str(files["red"]), url=url)
            assert done.returncode == 0, done.stdout + done.stderr
            deadline = time.monotonic() + 60
            while True:
                r = http.post(
                    "/endpoints/iris-ep/score",
                    json={"input_data": ROWS},
                    headers={"azureml-model-deployment": "red"},
                )
                if r.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert r.status_code == 200 and r.headers["azureml-model-deployment"] == "red", r.text
            assert "shipyard_endpoint_requests_total" in http.get("/metrics", headers=AUTH).text
    finally:
        replica.stop()


def test_a_deployment_with_its_own_environment_scores_in_it(served: ServerProcess, tmp_path: Path) -> None:
    url = served.url
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "w.txt").write_text("3")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "score.py").write_text(
        "import os, sys, pathlib, iniconfig\n"
        "def init():\n"
        "    global w\n"
        "    w = int(pathlib.Path(os.environ['AZUREML_MODEL_DIR'], 'w.txt').read_text())\n"
        "def run(raw_data):\n"
        "    return {'w': w, 'python': sys.prefix, 'iniconfig': iniconfig.__file__}\n"
    )
    files = _files(
        tmp_path,
        endpoint="name: env-ep\nauth_mode: aml_token\n",
        dep=textwrap.dedent(
            """
            name: own
            endpoint_name: env-ep
            model:
              path: model
            code_configuration:
              code: code
              scoring_script: score.py
            environment:
              conda_file:
                dependencies:
                  - pip:
                      - iniconfig
            readiness_probe:
              initial_delay: 0
              period: 1
            """
        ),
    )
    assert cli("online-endpoint", "create", "-f", str(files["endpoint"]), url=url).returncode == 0
    done = cli("online-deployment", "create", "-f", str(files["dep"]), "--all-traffic", url=url, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    with httpx.Client(base_url=url, timeout=30) as http:
        # auth_mode aml_token: a Shipyard token holding endpoints:score, not a key.
        assert http.post("/endpoints/env-ep/score", json={}).status_code == 401
        denied = http.get("/api/v1/audit", params={"action": "endpoints:score"}, headers=AUTH).json()
        assert denied["entries"][0]["target"] == "POST /endpoints/env-ep/score"  # audited
        assert denied["entries"][0]["status"] == 401
        r = http.post("/endpoints/env-ep/score", json={}, headers=AUTH)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["w"] == 3
    # The worker ran in the built environment, and found the package there, not the server's.
    assert str(served.home / "envs") in answer["python"]
    assert answer["iniconfig"].startswith(answer["python"])
