"""AutoML as a user runs it: a real server with auth, a breast-cancer table registered as a
data asset, ``shipyard automl run`` with three trials of the real engine — the job completes,
``job show`` prints the leaderboard, and the best model is registered with its signature; then
that model deployed with no code (an online deployment naming only ``model:``) and scored, and
used by a batch endpoint over the same table."""

from __future__ import annotations

import csv
import json
import os
import warnings
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, ServerProcess
from tests.e2e.test_endpoints_control import write
from tests.e2e.test_jobs import run_cli

pytestmark = pytest.mark.slow


def _cancer_csv(folder: Path) -> Path:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.rename(columns={"target": "diagnosis"})
    path = folder / "cancer.csv"
    frame.to_csv(path, index=False)
    frame.drop(columns=["diagnosis"]).to_csv(folder / "cancer-features.csv", index=False)
    return path


# Azure ML's shapes, nothing else: no scoring script, no environment — the registered MLflow
# model is enough (Azure's "no-code deployment" of an AutoML model).
ONLINE_ENDPOINT = "name: cancer\nauth_mode: key\n"
ONLINE_DEPLOYMENT = "name: automl\nendpoint_name: cancer\nmodel: azureml:cancer-automl:1\ninstance_count: 1\n"
BATCH_ENDPOINT = "name: cancer-batch\n"
BATCH_DEPLOYMENT = """\
name: automl
endpoint_name: cancer-batch
type: model
model: azureml:cancer-automl:1
compute: azureml:local
settings:
  mini_batch_size: 200
  output_action: append_row
  output_file_name: predictions.csv
"""


def test_automl_run_registers_the_best_model_and_shows_its_leaderboard(
    server: ServerProcess, tmp_path: Path
) -> None:
    table = _cancer_csv(tmp_path)
    made = run_cli("data", "create", "-n", "cancer", "-p", str(table), "-t", "uri_file", url=server.url)
    assert made.returncode == 0, made.stderr

    ran = run_cli(
        "automl", "run", "--data", "azureml:cancer@latest", "--target", "diagnosis", "--task", "classification",
        "--max-trials", "3", "--max-concurrent-trials", "3", "--timeout", "10m", "--experiment-name", "cancer",
        "--model-name", "cancer-automl", "--name", "cancer-automl-1", "--stream",
        url=server.url, timeout=600,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-4000:]

    shown = run_cli("job", "show", "-n", "cancer-automl-1", url=server.url)
    assert shown.returncode == 0, shown.stderr
    assert "leaderboard" in shown.stdout and "featurization" in shown.stdout
    assert "LogisticRegression" in shown.stdout and "★ 1" in shown.stdout
    assert "model registered: cancer-automl:1" in shown.stdout
    assert "final model:" in shown.stdout and "permutation importance" in shown.stdout
    assert "featurization chosen (per column)" in shown.stdout and "mean radius" in shown.stdout

    import mlflow

    os.environ["MLFLOW_TRACKING_TOKEN"] = ADMIN_TOKEN
    mlflow.set_tracking_uri(server.url)
    info = mlflow.models.get_model_info("models:/cancer-automl/1")
    assert info.signature is not None
    assert "diagnosis" not in [c.name for c in info.signature.inputs.inputs]
    assert "mean radius" in [c.name for c in info.signature.inputs.inputs]

    # The studio's job page draws the same leaderboard, with the registered model and its card.
    page = httpx.get(
        f"{server.url}/studio/jobs/cancer-automl-1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert page.status_code == 200
    assert 'id="automl-h"' in page.text and "★ best" in page.text
    assert 'href="/studio/models/cancer-automl/versions/1"' in page.text
    assert 'id="automl-importance"' in page.text
    assert 'id="automl-featurization"' in page.text and "<td>mean radius</td><td>numeric</td>" in page.text

    # No code: the deployment file names the model and nothing else.
    endpoint = write(tmp_path / "endpoint.yml", ONLINE_ENDPOINT)
    deployment = write(tmp_path / "automl.yml", ONLINE_DEPLOYMENT)
    made = run_cli("online-endpoint", "create", "-f", str(endpoint), url=server.url)
    assert made.returncode == 0, made.stderr
    made = run_cli(
        "online-deployment", "create", "-f", str(deployment), "--all-traffic", url=server.url, timeout=300
    )
    assert made.returncode == 0, made.stdout + made.stderr

    import pandas as pd

    features = pd.read_csv(tmp_path / "cancer-features.csv")
    labels = pd.read_csv(table)["diagnosis"].tolist()
    rows = features.iloc[:20]
    request = write(
        tmp_path / "request.json",
        json.dumps(
            {
                "input_data": {
                    "columns": list(rows.columns),
                    "index": list(range(20)),
                    "data": rows.values.tolist(),
                }
            }
        ),
    )
    scored = run_cli("online-endpoint", "invoke", "-n", "cancer", "-r", str(request), url=server.url)
    assert scored.returncode == 0, scored.stderr
    predictions = json.loads(scored.stdout)
    assert len(predictions) == 20 and set(predictions) <= {0, 1}
    assert (
        sum(int(p) == labels[i] for i, p in enumerate(predictions)) >= 18
    )  # the fitted model, not a constant

    # The same version behind a batch endpoint, over the whole feature table.
    made = run_cli(
        "data",
        "create",
        "-n",
        "cancer-rows",
        "-p",
        str(tmp_path / "cancer-features.csv"),
        "-t",
        "uri_file",
        url=server.url,
    )
    assert made.returncode == 0, made.stderr
    batch = write(tmp_path / "batch-endpoint.yml", BATCH_ENDPOINT)
    batch_deployment = write(tmp_path / "batch-automl.yml", BATCH_DEPLOYMENT)
    for done in (
        run_cli("batch-endpoint", "create", "-f", str(batch), url=server.url),
        run_cli("batch-deployment", "create", "-f", str(batch_deployment), url=server.url),
    ):
        assert done.returncode == 0, done.stdout + done.stderr
    done = run_cli(
        "batch-endpoint", "invoke", "-n", "cancer-batch", "--input", "azureml:cancer-rows@latest", "--stream",
        url=server.url, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert f"{len(labels)} rows" in done.stdout

    from shipyard.client.client import Client

    client = Client(server.url, token=ADMIN_TOKEN)
    try:
        (job,) = client.batch_endpoints.list_jobs("cancer-batch")
        path = client.download_artifact(
            job.run_id, "outputs/predictions.csv", tmp_path / "dl" / "predictions.csv"
        )
    finally:
        client.close()
    with path.open() as handle:
        written = list(csv.DictReader(handle))
    assert [int(r["row"]) for r in written] == list(range(len(labels)))
    correct = sum(int(float(r["prediction"])) == labels[int(r["row"])] for r in written)
    assert correct >= 0.95 * len(labels), correct


FORECAST_JOB = """\
$schema: https://azuremlsdk2.blob.core.windows.net/preview/0.0.1/autoMLJob.schema.json
type: automl
experiment_name: sales-forecast
task: forecasting
primary_metric: normalized_root_mean_squared_error
target_column_name: sales
training_data:
  type: mltable
  path: ./train
test_data:
  type: mltable
  path: ./test
forecasting:
  time_column_name: date
  time_series_id_column_names: [store]
  forecast_horizon: 7
  frequency: D
limits:
  timeout_minutes: 10
  max_trials: 4
  max_concurrent_trials: 2
training:
  allowed_training_algorithms: [elastic_net, light_gbm]
"""  # 4 trials: with 2, a clean-clone run once drew two weak settings (a week's mean error 1.70)


def _mltable(folder: Path, frame: object) -> None:
    folder.mkdir(parents=True)
    (folder / "MLTable").write_text(
        "paths:\n  - file: ./rows.csv\ntransformations:\n  - read_delimited:\n      delimiter: ','\n"
    )
    frame.to_csv(folder / "rows.csv", index=False)  # type: ignore[attr-defined]


def test_a_forecasting_file_runs_registers_a_forecaster_and_fills_the_gaps(
    server: ServerProcess, tmp_path: Path
) -> None:
    """Azure's forecasting shape through ``job create -f``: three daily series, one with days
    missing; the registered model forecasts the next week of every series from future rows."""
    import math

    import pandas as pd

    days = pd.date_range("2024-01-01", periods=112, freq="D")
    frame = pd.DataFrame(
        [
            {"store": f"s{s}", "date": day.strftime("%Y-%m-%d"),
             "sales": 10 + 5 * s + 0.1 * t + 3 * math.sin(2 * math.pi * t / 7)}
            for s in range(3) for t, day in enumerate(days)
        ]
    )  # fmt: skip
    last_week = frame["date"] >= days[-7].strftime("%Y-%m-%d")
    train = frame[~last_week]
    missing = (train["store"] == "s0") & train["date"].isin(["2024-01-21", "2024-01-22", "2024-02-05"])
    _mltable(tmp_path / "train", train[~missing])
    _mltable(tmp_path / "test", frame[last_week])
    job = write(tmp_path / "forecast.yml", FORECAST_JOB)

    ran = run_cli(
        "job", "create", "-f", str(job), "-n", "sales-forecast-1", "--stream", url=server.url, timeout=600
    )
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-4000:]
    shown = run_cli("job", "show", "-n", "sales-forecast-1", "-o", "json", url=server.url)
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)["report"]
    assert {row["algorithm"] for row in report["leaderboard"]} <= {"ElasticNet", "LightGBM"}
    assert all(row["status"] == "Completed" for row in report["leaderboard"]), report["leaderboard"]
    model = report["model"]
    assert model["name"] == "sales-forecast-model"
    tested = report["final"]["test_metrics"]
    assert tested["normalized_root_mean_squared_error"] < 0.1, (
        tested
    )  # a tenth of the range: learnt, not flat
    chosen = {c["name"]: c for c in report["final"]["featurization"]}
    assert chosen["store"]["kind"] == "categorical"

    import mlflow

    os.environ["MLFLOW_TRACKING_TOKEN"] = ADMIN_TOKEN
    mlflow.set_tracking_uri(server.url)
    finish = mlflow.get_run(report["model"]["run_id"])
    assert finish.data.params["frequency"] == "D" and finish.data.params["gaps_filled"] == "3"
    assert finish.data.params["target_lags"] == "1,2,3,7"  # a week back: the season of daily data
    with warnings.catch_warnings():
        # mlflow.pyfunc's own import warns about a type hint of mlflow's (types/responses.py).
        warnings.simplefilter("ignore", UserWarning)
        import mlflow.pyfunc
    forecaster = mlflow.pyfunc.load_model(f"models:/{model['name']}/{model['version']}")
    future = frame[last_week].drop(columns=["sales"])
    predicted = forecaster.predict(future)["forecast"].to_numpy()  # one "forecast" per future row
    truth = frame[last_week]["sales"].to_numpy()
    assert len(predicted) == len(future) == 21
    assert float(abs(predicted - truth).mean()) < 1.5  # the series' weekly swing is ±3
