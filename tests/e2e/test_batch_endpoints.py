"""Batch endpoints as a user drives them: a real server, Azure ML batch endpoint and
deployment files, the CLI as a subprocess, real jobs — an MLflow model scoring a data asset
into a predictions file, a SQLite table and a PostgreSQL database; a scoring script whose
mini-batch fails once and is retried without duplicating rows; an error threshold that
fails the job with the reason; and bad input refused before anything is created."""

from __future__ import annotations

import csv
import json
import sqlite3
import textwrap
from pathlib import Path

import pytest

from shipyard.client.client import Client
from tests.conftest import ServerProcess
from tests.e2e.test_endpoints_control import cli, ok, register_iris, write

pytestmark = pytest.mark.slow

ENDPOINT = """\
$schema: https://azuremlschemas.azureedge.net/latest/batchEndpoint.schema.json
name: {name}
description: scores iris flowers in bulk
auth_mode: aad_token
tags:
  team: e2e
"""

MLFLOW_DEPLOYMENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/modelBatchDeployment.schema.json
name: {name}
endpoint_name: {endpoint}
type: model
model: azureml:iris-clf@latest
compute: azureml:local
resources:
  instance_count: 1
settings:
  max_concurrency_per_instance: 2
  mini_batch_size: 40
  output_action: append_row
  output_file_name: predictions.csv
  retry_settings:
    max_retries: 2
    timeout: 120
  error_threshold: -1
  logging_level: info
output:
  sql_url: {sql_url}
  table: iris_predictions
"""

SCRIPT_DEPLOYMENT = """\
name: {name}
endpoint_name: {endpoint}
model:
  path: model
code_configuration:
  code: code
  scoring_script: score.py
mini_batch_size: 10
max_concurrency_per_instance: 3
retry_settings:
  max_retries: {retries}
  timeout: 60
error_threshold: {threshold}
environment_variables:
  MARKER_DIR: {marker_dir}
  MODE: {mode}
output:
  sql_url: sqlite:///{db}
  table: scores
"""

SCORE = textwrap.dedent(
    """
    import os, pathlib

    def init():
        global offset
        offset = float(pathlib.Path(os.environ["AZUREML_MODEL_DIR"], "offset.txt").read_text())

    def run(mini_batch):
        ids = mini_batch["id"].tolist()
        if os.environ["MODE"] == "flaky" and 20 in ids:
            marker = pathlib.Path(os.environ["MARKER_DIR"], "failed-once")
            if not marker.exists():
                marker.write_text("x")
                raise RuntimeError("flaky storage, try again")
        if os.environ["MODE"] == "broken" and 0 in ids:
            raise ValueError("row 0 is poisoned")
        return [{"id": i, "score": i * 2 + offset} for i in ids]
    """
)


def iris_csv(path: Path) -> list[int]:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.to_csv(path, index=False)
    return [int(v) for v in y]


def test_mlflow_model_scores_a_data_asset_into_a_file_sqlite_and_postgresql(
    server: ServerProcess, tmp_path: Path, pg_database_url: str
) -> None:
    url = server.url
    register_iris(url, "iris-clf", tmp_path)
    labels = iris_csv(tmp_path / "iris.csv")
    ok(
        cli(
            "data",
            "create",
            "-n",
            "iris-features",
            "-t",
            "uri_file",
            "-p",
            str(tmp_path / "iris.csv"),
            url=url,
        )
    )
    ok(
        cli(
            "batch-endpoint",
            "create",
            "-f",
            str(write(tmp_path / "ep.yml", ENDPOINT.format(name="iris-batch"))),
            url=url,
        )
    )

    db = tmp_path / "preds.db"
    lite = write(
        tmp_path / "lite.yml",
        MLFLOW_DEPLOYMENT.format(name="lite", endpoint="iris-batch", sql_url=f"sqlite:///{db}"),
    )
    ok(cli("batch-deployment", "create", "-f", str(lite), url=url))
    pg = write(
        tmp_path / "pg.yml",
        MLFLOW_DEPLOYMENT.format(name="pgsql", endpoint="iris-batch", sql_url=pg_database_url),
    )
    ok(cli("batch-deployment", "create", "-f", str(pg), url=url))
    shown = json.loads(ok(cli("batch-endpoint", "show", "-n", "iris-batch", "-o", "json", url=url)))
    assert shown["default_deployment"] == "lite"  # the first deployment; pgsql was not --set-default
    dep = json.loads(
        ok(cli("batch-deployment", "show", "-n", "pgsql", "-e", "iris-batch", "-o", "json", url=url))
    )
    assert dep["model"]["name"] == "iris-clf" and dep["model"]["kind"] == "mlflow"
    assert dep["settings"]["mini_batch_size"] == 40 and dep["output"]["table"] == "iris_predictions"

    done = cli(
        "batch-endpoint",
        "invoke",
        "-n",
        "iris-batch",
        "--input",
        "azureml:iris-features@latest",
        "--stream",
        url=url,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "[batch] 4/4 mini-batches, 150 rows" in done.stdout  # progress in the job's log
    assert "rows/s" in done.stdout

    client = Client(url)
    try:
        jobs = client.batch_endpoints.list_jobs("iris-batch")
        assert len(jobs) == 1 and str(jobs[0].status) == "Completed"
        job = jobs[0]
        path = client.download_artifact(
            job.run_id, "outputs/predictions.csv", tmp_path / "dl" / "predictions.csv"
        )
        with path.open() as handle:
            rows = list(csv.DictReader(handle))
        assert [int(r["row"]) for r in rows] == list(range(150))
        correct = sum(int(r["prediction"]) == labels[int(r["row"])] for r in rows)
        assert correct >= 140, correct  # the registered classifier, not a constant
        summary = client.download_artifact(
            job.run_id, "outputs/batch_summary.json", tmp_path / "dl" / "s.json"
        )
        assert json.loads(summary.read_text())["rows"] == 150

        with sqlite3.connect(db) as conn:
            count, batches, names = conn.execute(
                "SELECT count(*), count(DISTINCT mini_batch), group_concat(DISTINCT job_id) FROM iris_predictions"
            ).fetchone()
        assert (count, batches, names) == (150, 4, job.name)

        pg_job = client.batch_endpoints.invoke(
            "iris-batch", "azureml:iris-features@latest", deployment_name="pgsql"
        )
        final = client.jobs.wait(pg_job.name, timeout_s=240)
        assert str(final.status) == "Completed", final.failure
        from sqlalchemy import create_engine, text

        engine = create_engine(pg_database_url)
        try:
            with engine.connect() as conn:
                got = conn.execute(
                    text("SELECT count(*), count(DISTINCT row), min(job_id) FROM iris_predictions")
                ).one()
        finally:
            engine.dispose()
        assert tuple(got) == (150, 150, pg_job.name)
        listed = ok(cli("batch-endpoint", "list-jobs", "-n", "iris-batch", "-o", "json", url=url))
        assert [j["name"] for j in json.loads(listed)] == [pg_job.name, job.name]  # newest first
    finally:
        client.close()


def _script_deployment(tmp_path: Path, name: str, *, mode: str, retries: int, threshold: int) -> Path:
    write(tmp_path / "model" / "offset.txt", "0.5")
    write(tmp_path / "code" / "score.py", SCORE)
    (tmp_path / "markers").mkdir(exist_ok=True)
    return write(
        tmp_path / f"{name}.yml",
        SCRIPT_DEPLOYMENT.format(
            name=name, endpoint="scores", retries=retries, threshold=threshold,
            marker_dir=tmp_path / "markers", mode=mode, db=tmp_path / "scores.db",
        ),
    )  # fmt: skip


def test_a_retried_mini_batch_leaves_no_duplicates_and_a_threshold_fails_the_job(
    server: ServerProcess, tmp_path: Path
) -> None:
    url = server.url
    with (tmp_path / "rows.csv").open("w") as handle:
        handle.write("id,x\n" + "".join(f"{i},{i * 0.1}\n" for i in range(95)))
    ok(cli("data", "create", "-n", "rows", "-t", "uri_file", "-p", str(tmp_path / "rows.csv"), url=url))
    ok(
        cli(
            "batch-endpoint",
            "create",
            "-f",
            str(write(tmp_path / "ep.yml", ENDPOINT.format(name="scores"))),
            url=url,
        )
    )
    flaky = _script_deployment(tmp_path, "flaky", mode="flaky", retries=2, threshold=-1)
    done = cli("batch-deployment", "create", "-f", str(flaky), url=url)
    assert done.returncode == 0, done.stderr

    done = cli("batch-endpoint", "invoke", "-n", "scores", "--input", "azureml:rows:1", "--stream", url=url)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "mini-batch 2 attempt 1 failed: RuntimeError: flaky storage, try again; retrying" in done.stdout
    assert "10/10 mini-batches, 95 rows" in done.stdout and "1 retried" in done.stdout
    with sqlite3.connect(tmp_path / "scores.db") as conn:
        count, distinct = conn.execute("SELECT count(*), count(DISTINCT id) FROM scores").fetchone()
        assert conn.execute("SELECT score FROM scores WHERE id = 20").fetchall() == [(40.5,)]
    assert (count, distinct) == (95, 95)

    broken = _script_deployment(tmp_path, "broken", mode="broken", retries=1, threshold=5)
    ok(cli("batch-deployment", "create", "-f", str(broken), url=url))
    done = cli(
        "batch-endpoint", "invoke", "-n", "scores", "--input", "azureml:rows@latest",
        "--deployment-name", "broken", "--stream", url=url,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout[-3000:]
    assert "mini-batch 0 failed after 2 attempt(s): ValueError: row 0 is poisoned" in done.stdout
    assert "error_threshold exceeded: 10 failed items (rows or files) > 5" in done.stderr  # the job's cause
    jobs = json.loads(ok(cli("batch-endpoint", "list-jobs", "-n", "scores", "-o", "json", url=url)))
    assert [j["status"] for j in jobs] == ["Failed", "Completed"]
    # The table says which deployment scored which input (the list once dropped both).
    table = ok(cli("batch-endpoint", "list-jobs", "-n", "scores", url=url)).splitlines()
    assert table[0].split() == ["job", "status", "deployment", "input", "created"]
    assert [row.split()[1:4] for row in table[2:4]] == [
        ["Failed", "broken", "azureml:rows@latest"],
        ["Completed", "flaky", "azureml:rows:1"],
    ]
    assert table[-1] == "2 jobs"


def test_bad_input_is_refused_with_the_reason_and_creates_nothing(
    server: ServerProcess, tmp_path: Path
) -> None:
    url = server.url
    ok(
        cli(
            "batch-endpoint",
            "create",
            "-f",
            str(write(tmp_path / "ep.yml", ENDPOINT.format(name="scores"))),
            url=url,
        )
    )
    good = _script_deployment(tmp_path, "good", mode="ok", retries=0, threshold=-1)
    text = good.read_text()

    cases = [
        (text + "max_retries_typo: 3\n", "line 20: unknown field 'max_retries_typo'"),
        (
            text.replace(f"sqlite:///{tmp_path / 'scores.db'}", "mysql://db/x"),
            "is not a SQLite or PostgreSQL URL",
        ),
        (
            text.replace(f"sqlite:///{tmp_path / 'scores.db'}", "sqlite:///relative.db"),
            "needs an absolute file path",
        ),
        (text.replace("table: scores", "table: drop table;"), "is not a table name"),
        (
            text.replace("endpoint_name: scores", "endpoint_name: nowhere"),
            "no batch endpoint named 'nowhere'",
        ),
        (text.replace("error_threshold: -1", "error_threshold: -2"), "error_threshold"),
        (
            text.replace("code_configuration:\n  code: code\n  scoring_script: score.py\n", ""),
            "not an MLflow model",
        ),
        (text + "output_action: summary_only\n", "summary_only, which writes no rows"),
    ]
    for body, words in cases:
        done = cli("batch-deployment", "create", "-f", str(write(tmp_path / "bad.yml", body)), url=url)
        assert done.returncode == 1 and words in done.stderr, (words, done.stderr)
    assert json.loads(ok(cli("batch-deployment", "list", "-e", "scores", "-o", "json", url=url))) == []

    ok(cli("batch-deployment", "create", "-f", str(good), url=url))
    for args, words in (
        (("-n", "nowhere", "--input", "azureml:rows@latest"), "no batch endpoint named 'nowhere'"),
        (("-n", "scores", "--input", "azureml:rows@latest"), "no data asset 'rows@latest'"),
        (("-n", "scores", "--input", "rows.csv"), "is not a data asset"),
        (("-n", "scores", "--input", "azureml:rows@latest", "-d", "nope"), "has no deployment named 'nope'"),
    ):
        done = cli("batch-endpoint", "invoke", *args, url=url)
        assert done.returncode == 1 and words in done.stderr, (words, done.stderr)
    assert json.loads(ok(cli("batch-endpoint", "list-jobs", "-n", "scores", "-o", "json", url=url))) == []
    assert json.loads(ok(cli("job", "list", "-o", "json", url=url))) == []
