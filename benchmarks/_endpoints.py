"""An online endpoint with a no-code MLflow deployment on a benchmark's Shipyard server, and a
client that scores it one request at a time. Shared by ``serving.py`` and ``auth.py``.

The model: ``StandardScaler`` + ``LogisticRegression`` on scikit-learn's breast-cancer data
(30 numeric features), logged with ``mlflow.sklearn.log_model`` and registered through the
``mlflow`` client; ~1 ms of ``predict`` for the 10 rows each request carries. Everything is
made as a user would: the ``mlflow`` client and the ``shipyard`` CLI, signed in with the
server's owner token.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from _servers import Server, client_env

MODEL_NAME = "bench-clf"
ROWS = 10

TRAIN = textwrap.dedent(
    """
    import json, sys
    import mlflow
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    url, out, name, rows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    mlflow.set_tracking_uri(url)
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [c.replace(" ", "_") for c in X.columns]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    with mlflow.start_run():
        mlflow.sklearn.log_model(model, name="model", input_example=X.head(2), registered_model_name=name)
    mlflow.artifacts.download_artifacts(f"models:/{name}/1", dst_path=out + "/model")
    sample = X.iloc[::50].head(rows)
    body = {"dataframe_split": {"columns": list(sample.columns), "data": sample.to_numpy().tolist()}}
    with open(out + "/body.json", "w") as f:
        json.dump(body, f)
    print(json.dumps(model.predict(sample).tolist()))
    """
)

DEFAULTS = """\
name: {name}
endpoint_name: {endpoint}
model: azureml:{model}:1
instance_count: 1
"""
"""A deployment file as a user writes one: one instance, ``request_settings`` left out."""

DEPLOYMENT = """\
name: {name}
endpoint_name: {endpoint}
model: azureml:{model}:1
instance_count: {instances}
request_settings:
  request_timeout_ms: 10000
  max_concurrent_requests_per_instance: {cap}
  max_queue_wait_ms: 5000
  max_batch_size: {batch}
"""


@dataclass(frozen=True)
class Capacity:
    """The deployment's ``instance_count`` and ``request_settings``."""

    instances: int
    max_concurrent: int
    max_batch: int

    @property
    def label(self) -> str:
        return (
            f"instance_count {self.instances}, max_concurrent_requests_per_instance {self.max_concurrent},"
            f" max_batch_size {self.max_batch}"
        )


def train(server: Server, work: Path) -> list[int]:
    """Log and register the model through the mlflow client (signed in with MLFLOW_TRACKING_TOKEN);
    the model folder and the request body land in ``work``. Returns the model's predictions for
    the body's rows."""
    done = subprocess.run(
        [sys.executable, "-c", TRAIN, server.url, str(work), MODEL_NAME, str(ROWS)],
        capture_output=True, text=True, env=client_env(server), timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"training failed:\n{done.stderr[-3000:]}")
    predictions: list[int] = json.loads(done.stdout.strip().splitlines()[-1])
    return predictions


def cli(server: Server, *args: str) -> str:
    """``shipyard <args>`` against ``server`` (SHIPYARD_URL, SHIPYARD_TOKEN); its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "shipyard", *args],
        capture_output=True, text=True, env=client_env(server), timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"shipyard {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def deploy_model(
    server: Server,
    work: Path,
    endpoint: str,
    capacity: Capacity | None,
    auth_mode: str = "key",
    *,
    name: str = "blue",
    all_traffic: bool = True,
) -> None:
    """A no-code deployment ``name`` of the registered model (all traffic unless told), on
    the endpoint (created first when it does not exist yet), with the CLI. ``capacity`` None:
    the file sets no ``request_settings`` (:data:`DEFAULTS`). Files go to ``work/<endpoint>-*.yml``."""
    endpoint_file, deployment_file = work / f"{endpoint}-endpoint.yml", work / f"{endpoint}-{name}.yml"
    if not endpoint_file.exists():
        endpoint_file.write_text(f"name: {endpoint}\nauth_mode: {auth_mode}\n")
        cli(server, "online-endpoint", "create", "-f", str(endpoint_file))
    if capacity is None:
        text = DEFAULTS.format(name=name, endpoint=endpoint, model=MODEL_NAME)
    else:
        text = DEPLOYMENT.format(
            name=name,
            endpoint=endpoint,
            model=MODEL_NAME,
            instances=capacity.instances,
            cap=capacity.max_concurrent,
            batch=capacity.max_batch,
        )
    deployment_file.write_text(text)
    cli(server, "online-deployment", "create", "-f", str(deployment_file), *(["--all-traffic"] * all_traffic))


def endpoint_key(server: Server, endpoint: str) -> str:
    """The endpoint's primary key (``auth_mode: key``), as ``get-credentials`` shows it."""
    credentials = json.loads(cli(server, "online-endpoint", "get-credentials", "-n", endpoint, "-o", "json"))
    key: str = credentials["primaryKey"]
    return key


async def _timed_post(session: aiohttp.ClientSession, url: str, body: bytes) -> float:
    started = time.perf_counter()
    async with session.post(url, data=body) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")
    return time.perf_counter() - started


async def sequential(
    url: str, body: bytes, headers: dict[str, str], socket: Path | None, n: int
) -> list[float]:
    """``n`` POSTs of ``body``, one at a time on one keep-alive connection (a UNIX ``socket``
    when given); seconds per request."""
    connector = aiohttp.UnixConnector(path=str(socket)) if socket else aiohttp.TCPConnector()
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        return [await _timed_post(session, url, body) for _ in range(n)]


async def interleaved(targets: list[tuple[str, dict[str, str]]], body: bytes, n: int) -> list[list[float]]:
    """``n`` POSTs of ``body`` to each ``(url, headers)``, one request in flight in all, the
    targets taking turns request by request (the order rotating, each on its own keep-alive
    connection), so a change of load hits every target alike; seconds per request, per target."""
    sessions = [aiohttp.ClientSession(headers=headers) for _, headers in targets]
    samples: list[list[float]] = [[] for _ in targets]
    try:
        for i in range(n):
            for k in range(len(targets)):
                t = (i + k) % len(targets)
                samples[t].append(await _timed_post(sessions[t], targets[t][0], body))
    finally:
        for session in sessions:
            await session.close()
    return samples
