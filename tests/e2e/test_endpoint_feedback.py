"""Ground truth for scored requests, end to end: a real server, a deployed MLflow model, real
requests, feedback posted with their x-request-id, read back from the artifact store with
production.py and scored with performance.py — what a model_performance signal does."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator

import httpx
import pyarrow as pa
import pytest

from shipyard.services.monitoring.performance import performance
from shipyard.services.monitoring.production import Collection, collected_batches, collected_table
from shipyard.stores.artifacts.local import LocalArtifactStore
from tests.conftest import ADMIN_TOKEN, ServerProcess
from tests.e2e.test_endpoints_scoring import DEPLOYMENT, ROWS, _files, _key, cli

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
    with mlflow.start_run():
        model = LogisticRegression(max_iter=300).fit(X, y)
        mlflow.sklearn.log_model(model, name="model", input_example=X.head(2), registered_model_name="iris")
    """
)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    tmp = tmp_path_factory.mktemp("feedback")
    server = ServerProcess(tmp / "home").start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env["MLFLOW_TRACKING_TOKEN"] = ADMIN_TOKEN
        subprocess.run([sys.executable, "-c", TRAIN, server.url], check=True, env=env, timeout=300)
        files = _files(
            tmp,
            endpoint="name: iris-ep\nauth_mode: key\n",
            blue=DEPLOYMENT.format(name="blue", version=1, instances=1),
        )
        assert cli("online-endpoint", "create", "-f", str(files["endpoint"]), url=server.url).returncode == 0
        done = cli("online-deployment", "create", "-f", str(files["blue"]), "--all-traffic", url=server.url)
        assert done.returncode == 0, done.stdout + done.stderr
        yield server, _key(server.url)
    finally:
        server.stop()


def _wait_for(read: Callable[[], pa.Table], rows: int, timeout: float = 20) -> int:
    """The collector writes every 5 s: poll until ``rows`` rows can be read back."""
    deadline = time.monotonic() + timeout
    while True:
        got = int(read().num_rows)
        if got >= rows or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def test_feedback_joins_the_scored_requests_into_model_performance(
    deployed: tuple[ServerProcess, str],
) -> None:
    server, key = deployed
    started = int(time.time() * 1000) - 1000
    feedback = []
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        for _ in range(3):
            r = http.post("/endpoints/iris-ep/score", json={"input_data": ROWS})
            assert r.status_code == 200, r.text
            assert r.json() == [0, 2]
            request_id = r.headers["x-request-id"]
            # row 0 is right (0), row 1 is said to be class 1 while the model answered 2
            feedback += [
                {"request_id": request_id, "ground_truth": 0},
                {"request_id": request_id, "row": 1, "ground_truth": 1},
            ]
        r = http.post("/endpoints/iris-ep/feedback", json={"feedback": feedback})
        assert r.status_code == 202, r.text
        assert r.json() == {"accepted": 6} and len(r.headers["x-request-id"]) == 32
        # One object without the list, for a request id the server never saw: accepted.
        r = http.post("/endpoints/iris-ep/feedback", json={"request_id": "never-scored", "ground_truth": 2})
        assert r.status_code == 202 and r.json() == {"accepted": 1}
    store = LocalArtifactStore(server.home / "artifacts")

    def window(collection: Collection) -> pa.Table:
        now = int(time.time() * 1000) + 1
        return collected_table(store, "default", "iris-ep", "blue", collection, started, now)

    assert _wait_for(lambda: window("feedback"), 7) == 7
    assert _wait_for(lambda: window("model_outputs"), 6) == 6
    inputs = window("model_inputs")
    assert inputs.num_rows == 6 and inputs["petal_width"].to_pylist()[:2] == [0.2, 2.3]
    served = {r["request_id"]: r["deployment"] for r in window("feedback").to_pylist()}
    assert served["never-scored"] == "" and set(served.values()) == {"blue", ""}
    end = int(time.time() * 1000) + 1
    result = performance(
        "classification",
        collected_batches(store, "default", "iris-ep", "blue", "model_outputs", started, end),
        collected_batches(store, "default", "iris-ep", "blue", "feedback", started, end),
    )
    assert result.joined == 6 and result.unknown_feedback == 1 and result.unmatched_predictions == 0
    assert result.metrics["accuracy"] == pytest.approx(0.5)
    # macro over labels {0, 1, 2}: precision (1 + 0 + 0) / 3, recall (1 + 0 + 0) / 3
    assert result.metrics["precision"] == pytest.approx(1 / 3)
    assert result.metrics["recall"] == pytest.approx(1 / 3)
    assert result.notes == ["1 feedback row(s) name request ids that were not collected in the window"]


def test_bad_feedback_is_refused_with_what_to_fix(deployed: tuple[ServerProcess, str]) -> None:
    server, key = deployed
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        cases = [
            ({"feedback": []}, '"feedback" must be a non-empty list'),
            ({"feedback": [{"ground_truth": 1}]}, 'feedback item 0 needs "request_id"'),
            ({"feedback": [{"request_id": "r"}]}, 'feedback item 0 needs "ground_truth"'),
            ({"feedback": [{"request_id": "r", "row": -1, "ground_truth": 1}]}, '"row" must be'),
            (
                {"feedback": [{"request_id": "r", "label": 1, "ground_truth": 1}]},
                "unknown field(s) ['label']",
            ),
            ([1, 2], "must be a JSON object"),
        ]
        for body, message in cases:
            r = http.post("/endpoints/iris-ep/feedback", json=body)
            assert r.status_code == 400, (body, r.text)
            error = r.json()["error"]
            assert error["code"] == "INVALID_ARGUMENT" and message in error["message"], (body, error)
        r = http.post(
            "/endpoints/iris-ep/feedback", content=b"{nope", headers={"content-type": "application/json"}
        )
        assert r.status_code == 400 and "not valid JSON" in r.text
        huge = b'{"feedback": [' + b'{"request_id": "r", "ground_truth": 1},' * 120_000 + b"]}"
        r = http.post(
            "/endpoints/iris-ep/feedback", content=huge, headers={"content-type": "application/json"}
        )
        assert r.status_code == 413 and r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        many = {"feedback": [{"request_id": "r", "ground_truth": 1}] * 10_001}
        r = http.post("/endpoints/iris-ep/feedback", json=many)
        assert r.status_code == 400 and "at most 10000" in r.text
        item = {"request_id": "r", "ground_truth": 1}
        r = http.post("/endpoints/iris-ep/feedback", json=item, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED"
        r = http.post("/endpoints/nope/feedback", json=item)
        assert r.status_code == 404 and "no online endpoint named 'nope'" in r.text
        assert http.get("/endpoints/iris-ep/feedback").status_code == 405
