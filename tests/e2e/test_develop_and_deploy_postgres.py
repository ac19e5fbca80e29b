"""Jobs, environments, compute targets, data assets and online endpoints on a server whose
metadata store is PostgreSQL (a fresh database per test, dropped afterwards): the same user
path as on SQLite, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from shipyard.client.client import Client
from shipyard.domain.jobs import JobStatus
from tests.conftest import ADMIN_TOKEN

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

TRAIN = textwrap.dedent(
    """
    import sys
    import mlflow
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(sys.argv[1])
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["a", "b", "c", "d"]
    with mlflow.start_run():
        model = LogisticRegression(max_iter=300).fit(X, y)
        mlflow.log_metric("train_accuracy", float(model.score(X, y)))
        mlflow.sklearn.log_model(model, name="model", input_example=X.head(2), registered_model_name="pg-iris")
    """
)


def cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPYARD_", "MLFLOW_"))}
    env["SHIPYARD_URL"] = url
    env["SHIPYARD_TOKEN"] = ADMIN_TOKEN
    return subprocess.run(
        [sys.executable, "-m", "shipyard", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_jobs_and_endpoints_on_postgresql(server_factory, pg_database_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(args=["--database-url", pg_database_url])
    url = server.url
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "train.py").write_text(TRAIN)
    (project / "rows.csv").write_text("a,b\n1,2\n")
    (project / "job.yml").write_text(
        textwrap.dedent(
            """
            code: src
            command: python train.py $MLFLOW_TRACKING_URI && cat ${{inputs.rows}}
            inputs:
              rows: {type: uri_file, path: azureml:rows@latest}
            compute: azureml:two
            experiment_name: on-postgres
            """
        )
    )
    assert (
        cli(
            "data",
            "create",
            "--name",
            "rows",
            "--type",
            "uri_file",
            "--path",
            str(project / "rows.csv"),
            url=url,
        ).returncode
        == 0
    )
    assert (
        cli(
            "compute", "create", "--name", "two", "--type", "local", "--max-concurrent", "2", url=url
        ).returncode
        == 0
    )
    done = cli("job", "create", "-f", str(project / "job.yml"), "--stream", url=url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "a,b" in done.stdout
    with Client(url) as client:
        [job] = client.jobs.list()
        assert job.status is JobStatus.COMPLETED
        assert [e.status for e in client.jobs.get(job.name).events][-1] is JobStatus.COMPLETED
        assert client.get_run(job.run_id).metrics["train_accuracy"].value > 0.9
        assert client.get_model_version("pg-iris", 1).run_id == job.run_id

    (tmp_path / "ep.yml").write_text("name: pg-ep\nauth_mode: key\n")
    (tmp_path / "dep.yml").write_text(
        "name: blue\nendpoint_name: pg-ep\nmodel: azureml:pg-iris:1\nreadiness_probe: {initial_delay: 0, period: 1}\n"
    )
    assert cli("online-endpoint", "create", "-f", str(tmp_path / "ep.yml"), url=url).returncode == 0
    done = cli("online-deployment", "create", "-f", str(tmp_path / "dep.yml"), "--all-traffic", url=url)
    assert done.returncode == 0, done.stdout + done.stderr
    keys = json.loads(cli("online-endpoint", "get-credentials", "-n", "pg-ep", "-o", "json", url=url).stdout)
    body = {"input_data": {"columns": ["a", "b", "c", "d"], "data": [[5.1, 3.5, 1.4, 0.2]]}}
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['primaryKey']}"}) as http:
        while True:
            r = http.post("/endpoints/pg-ep/score", json=body)
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert r.status_code == 200 and r.json() == [0], r.text
    assert r.headers["azureml-model-deployment"] == "blue"
