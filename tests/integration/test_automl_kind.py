"""``type: automl`` submitted in-process (the SDK over ASGI, a server with no job runner): every
problem that can be known before a trial runs is a 4xx with a stable reason, and nothing is
created; a good file makes a queued parent with its settings, and no child yet."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from anyio.from_thread import start_blocking_portal

from shipyard.client.client import Client
from shipyard.errors import InvalidArgument, InvalidSpec
from shipyard.server.app import create_app
from shipyard.services.job_kinds._automl_data import (
    BUDGET_TOO_SMALL,
    NO_TARGET,
    NO_TIME_COLUMN,
    TASK_DOES_NOT_FIT,
)
from shipyard.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.integration.test_azure_job_files import AppTransport


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    app = create_app(Settings(home=tmp_path_factory.mktemp("automl"), roles="api"))
    with start_blocking_portal() as portal:
        made = Client("http://127.0.0.1", token=ADMIN_TOKEN, transport=AppTransport(app, portal))
        try:
            yield made
        finally:
            made.close()
            app.state.services.audit.stop()


def _project(
    tmp_path: Path,
    extra: str = "",
    task: str = "classification",
    target: str = "label",
    *,
    trials: int = 3,
    concurrency: int = 2,
) -> Path:
    table = tmp_path / "train"
    table.mkdir()
    (table / "MLTable").write_text(
        "paths:\n  - file: ./rows.csv\ntransformations:\n  - read_delimited:\n      delimiter: ','\n"
    )
    rows = ["day,store,size,colour,label,price"]
    rows += [f"2024-01-{d:02d},s{d % 2},{d},red,{d % 2},{d * 1.5}" for d in range(1, 21)]
    (table / "rows.csv").write_text("\n".join(rows) + "\n")
    job = tmp_path / "automl.yml"
    job.write_text(
        f"type: automl\nexperiment_name: automl-checks\ntask: {task}\ntarget_column_name: {target}\n"
        "training_data:\n  type: mltable\n  path: ./train\n"
        f"limits:\n  max_trials: {trials}\n  max_concurrent_trials: {concurrency}\n" + extra
    )
    return job


def _refused(client: Client, job: Path) -> InvalidArgument:
    before = len(client.jobs.list(max_results=1000))
    with pytest.raises(InvalidArgument) as caught:
        client.jobs.create(job)
    assert len(client.jobs.list(max_results=1000)) == before  # nothing was created
    return caught.value


def test_a_good_file_makes_a_queued_parent_with_no_child_yet(client: Client, tmp_path: Path) -> None:
    job = client.jobs.create(_project(tmp_path, "  timeout_minutes: 10\n"))
    assert job.type == "automl"
    assert job.status.value == "Queued"
    assert client.jobs.list(parent=job.name) == []
    shown = client.jobs.get(job.name)
    assert shown.spec["settings"]["target_column_name"] == "label"
    assert shown.spec["settings"]["primary_metric"] == "accuracy"
    assert shown.spec["model_name"] == "automl-checks-model"
    assert "LogisticRegression" in shown.spec["algorithms"]


def test_a_target_the_table_does_not_have_is_refused(client: Client, tmp_path: Path) -> None:
    error = _refused(client, _project(tmp_path, target="churned"))
    assert error.details["reason"] == NO_TARGET
    assert "'churned' is not a column" in error.message and "label" in error.message


def test_regression_of_a_text_column_is_refused(client: Client, tmp_path: Path) -> None:
    error = _refused(client, _project(tmp_path, task="regression", target="colour"))
    assert error.details["reason"] == TASK_DOES_NOT_FIT
    assert "use task: classification" in error.message


def test_classification_of_fractional_numbers_is_refused(client: Client, tmp_path: Path) -> None:
    error = _refused(client, _project(tmp_path, target="price"))
    assert error.details["reason"] == TASK_DOES_NOT_FIT
    assert "use task: regression" in error.message


def test_forecasting_without_its_time_column_is_refused(client: Client, tmp_path: Path) -> None:
    extra = "forecasting:\n  time_column_name: date\n  forecast_horizon: 3\n"
    error = _refused(client, _project(tmp_path, extra, task="forecasting", target="size"))
    assert error.details["reason"] == NO_TIME_COLUMN
    assert "'date'" in error.message and "day" in error.message


def test_forecasting_with_no_forecasting_block_is_refused_by_the_file(client: Client, tmp_path: Path) -> None:
    with pytest.raises(InvalidSpec, match="needs a 'forecasting' block with time_column_name"):
        client.jobs.create(_project(tmp_path, task="forecasting", target="size"))


def test_a_budget_that_cannot_hold_one_trial_is_refused(client: Client, tmp_path: Path) -> None:
    error = _refused(client, _project(tmp_path, "  timeout_minutes: 5\n  trial_timeout_minutes: 20\n"))
    assert error.details["reason"] == BUDGET_TOO_SMALL
    assert "cannot hold one trial" in error.message
    (tmp_path / "again").mkdir()
    error = _refused(
        client, _project(tmp_path / "again", "  timeout_minutes: 2\n  trial_timeout_minutes: 3\n")
    )
    assert error.details["reason"] == BUDGET_TOO_SMALL
    assert "3 minutes at least" in error.message


def test_a_data_asset_is_checked_against_its_registered_schema(client: Client, tmp_path: Path) -> None:
    table = tmp_path / "sales.csv"
    table.write_text("day,units,region\n2024-01-01,3,north\n2024-01-02,5,south\n")
    client.create_data_asset("sales", table, type="uri_file")
    job = tmp_path / "automl.yml"
    text = (
        "type: automl\ntask: regression\ntarget_column_name: {target}\n"
        "training_data: {{type: mltable, path: azureml:sales@latest}}\n"
    )
    job.write_text(text.format(target="revenue"))
    assert _refused(client, job).details["reason"] == NO_TARGET
    job.write_text(text.format(target="region"))
    assert _refused(client, job).details["reason"] == TASK_DOES_NOT_FIT
    job.write_text(text.format(target="units"))
    assert client.jobs.create(job).type == "automl"


# -- the search, with a stand-in engine ------------------------------------------------------

FAKE_ENGINE = """
import argparse, json, pathlib, sys
import mlflow
from mlflow.tracking import MlflowClient

parser = argparse.ArgumentParser()
parser.add_argument("verb")
parser.add_argument("--settings")
parser.add_argument("--training-data")
parser.add_argument("--validation-data")
parser.add_argument("--test-data")
parser.add_argument("--algorithm")
parser.add_argument("--params")
parser.add_argument("--trial")
parser.add_argument("--leaderboard")
parser.add_argument("--model-name")
args = parser.parse_args()
settings = json.loads(pathlib.Path(args.settings).read_text())
assert (pathlib.Path(args.training_data) / "MLTable").exists(), args.training_data
with mlflow.start_run() as run:
    if args.verb == "trial":
        if args.algorithm == "DecisionTree":
            sys.exit("DecisionTree: stand-in failure")
        if args.algorithm == "KNN":
            print("KNN needs a package this target lacks", file=sys.stderr)
            sys.exit(3)
        score = {"LogisticRegression": 0.9, "RandomForest": 0.8}.get(args.algorithm, 0.7)
        mlflow.log_metric(settings["primary_metric"], score)
    else:
        board = json.loads(pathlib.Path(args.leaderboard).read_text())
        keys = {"trial", "algorithm", "params", "score", "metrics", "status", "duration_s"}
        assert board and all(set(row) == keys for row in board), board
        assert board[0]["algorithm"] == "LogisticRegression", board
        pathlib.Path("seen.json").write_text(json.dumps(board))
        mlflow.log_artifact("seen.json")
        mlflow.log_text("flavors: {}", "model/MLmodel")
        mlflow.log_param("chosen_model", "VotingEnsemble")
        mlflow.log_dict({"mode": "auto", "columns": [
            {"name": "size", "kind": "numeric", "reason": "numbers", "imputer": "mean"},
            {"name": "store", "kind": "categorical", "reason": "2 values", "encoder": "OneHotEncoder"},
            {"name": "note", "kind": "dropped", "reason": "one value", "encoder": ""}]}, "featurization.json")
        mlflow.log_metrics({"test_accuracy": 0.88, "permutation_importance.size": 0.25,
                            "permutation_importance.store": 0.5})
        client = MlflowClient()
        try:
            client.create_registered_model(args.model_name)
        except Exception:
            pass
        client.create_model_version(args.model_name, f"runs:/{run.info.run_id}/model", run.info.run_id)
"""


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """A server on a real port (its jobs log to it with mlflow), in this process, whose
    automl trials run the stand-in engine."""
    from shipyard.services.job_kinds.automl import KIND

    home = tmp_path_factory.mktemp("automl-runs")
    engine = home / "fake_engine.py"
    engine.write_text(FAKE_ENGINE)
    patch = pytest.MonkeyPatch()
    patch.setattr(KIND, "engine", f"{sys.executable} {engine}")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    app = create_app(Settings(home=home / "home", admin_token=ADMIN_TOKEN, roles="api,jobs", public_url=url))
    app.state.jobs_runtime.orchestrator.poll_s = 0.1
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    client = Client(url, token=ADMIN_TOKEN)
    try:
        yield client
    finally:
        client.close()
        server.should_exit = True
        thread.join(timeout=20)
        patch.undo()


def test_trials_run_then_finish_registers_the_best(runner: Client, tmp_path: Path) -> None:
    extra = (
        "training:\n  allowed_training_algorithms: [random_forest, logistic_regression, decision_tree]\n"
        "model_name: fake-automl\n"
    )
    job = runner.jobs.create(_project(tmp_path, extra))
    done = runner.jobs.wait(job.name, timeout_s=120)
    assert done.status.value == "Completed", (done.failure, done.report.get("summary"))
    report = done.report
    board = report["leaderboard"]
    assert [row["algorithm"] for row in board] == ["LogisticRegression", "RandomForest", "DecisionTree"]
    assert [row["status"] for row in board] == ["Completed", "Completed", "Failed"]
    assert board[0]["best"] and not board[1]["best"]
    assert board[0]["score"] == pytest.approx(0.9)
    assert "stand-in failure" in board[2]["message"]
    assert report["stopped"] == "limits.max_trials (3) reached"
    assert report["model"]["name"] == "fake-automl" and report["model"]["version"] == 1
    assert "model registered: fake-automl:1" in report["summary"]
    assert "final model: VotingEnsemble" in report["summary"]
    assert "test data: accuracy = 0.88" in report["summary"]
    assert list(report["final"]["importance"]) == ["store", "size"]  # most important first
    # What the engine chose per column, read back from the finish run's featurization.json.
    assert report["final"]["featurization"] == [
        {"name": "size", "kind": "numeric", "imputer": "mean", "reason": "numbers"},
        {"name": "store", "kind": "categorical", "encoder": "OneHotEncoder", "reason": "2 values"},
        {"name": "note", "kind": "dropped", "reason": "one value"},
    ]
    steps = {c.step for c in runner.jobs.list(parent=job.name)}
    assert steps == {"trial_0", "trial_1", "trial_2", "finish"}


def test_exit_score_stops_the_search_early(runner: Client, tmp_path: Path) -> None:
    extra = "  exit_score: 0.85\nmodel_name: fake-exit\n"
    job = runner.jobs.create(_project(tmp_path, extra))
    done = runner.jobs.wait(job.name, timeout_s=120)
    assert done.status.value == "Completed", done.report.get("summary")
    assert done.report["stopped"] == "trial_0 reached limits.exit_score (0.85)"
    assert done.report["leaderboard"][0]["algorithm"] == "LogisticRegression"


def test_a_search_where_every_trial_fails_fails_saying_why(runner: Client, tmp_path: Path) -> None:
    extra = "training:\n  allowed_training_algorithms: [decision_tree]\n"
    job = runner.jobs.create(_project(tmp_path, extra, trials=2))
    done = runner.jobs.wait(job.name, timeout_s=120)
    assert done.status.value == "Failed"
    assert "no trial completed" in done.report["message"] and "stand-in failure" in done.report["message"]
    assert "finish" not in {c.step for c in runner.jobs.list(parent=job.name)}


def test_an_algorithm_missing_on_the_target_is_not_drawn_again(runner: Client, tmp_path: Path) -> None:
    extra = "training:\n  allowed_training_algorithms: [k_nearest_neighbors, logistic_regression]\n"
    job = runner.jobs.create(_project(tmp_path, extra, trials=4, concurrency=1))
    done = runner.jobs.wait(job.name, timeout_s=120)
    assert done.status.value == "Completed", done.report.get("summary")
    trials = [(t["algorithm"], t["state"]) for t in done.report["trials"]]
    # Each algorithm's first trial, in order; then only the one that can run.
    ran, missing = ("LogisticRegression", "completed"), ("KNN", "unavailable")
    assert trials == [ran, missing, ran, ran]
    assert done.report["unavailable"] == ["KNN"]
    assert any(row["status"] == "Unavailable" for row in done.report["leaderboard"])
