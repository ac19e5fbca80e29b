"""Issue 18: the unchanged ``mlflow`` client sees MLflow 3.17's behaviour where Shipyard used to
answer differently — links to runs held elsewhere, the default user, the order of tied runs,
logged-model search by dataset, MLflow's error texts. On SQLite and PostgreSQL, auth on.

The logic behind each is tested in-process in tests/integration/test_mlflow_behaviour.py.
"""

from __future__ import annotations

import uuid

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import LoggedModelInput, LoggedModelOutput, Metric
from mlflow.exceptions import MlflowException

from tests.conftest import ServerProcess

pytestmark = pytest.mark.slow

GHOST = "fedcba9876543210fedcba9876543210"  # a run that lives on another server


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_links_to_runs_held_elsewhere_are_stored(mlflow_server: ServerProcess) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment(unique("links"))
    child = client.create_run(experiment_id, tags={"mlflow.parentRunId": GHOST})
    assert client.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == GHOST

    name = unique("registered-elsewhere")
    client.create_registered_model(name)
    version = client.create_model_version(name, f"runs:/{GHOST}/model", run_id=GHOST)
    assert (version.version, version.run_id) == ("1", GHOST)
    assert client.get_model_version(name, "1").run_id == GHOST

    logged = client.create_logged_model(experiment_id, name="net", source_run_id=GHOST)
    assert client.get_logged_model(logged.model_id).source_run_id == GHOST


def test_user_id_is_what_the_client_declares(mlflow_server: ServerProcess) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment(unique("user"))
    # MlflowClient.create_run sends user_id "unknown" when no mlflow.user tag is given.
    assert client.create_run(experiment_id).info.user_id == "unknown"
    assert client.create_run(experiment_id, tags={"mlflow.user": "dana"}).info.user_id == "dana"
    # The fluent API tags the run with the local user (or MLFLOW_TRACKING_USERNAME).
    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_run() as run:
        pass
    declared = client.get_run(run.info.run_id)
    assert declared.info.user_id == declared.data.tags["mlflow.user"] != "unknown"


def test_tied_runs_page_in_run_id_order(mlflow_server: ServerProcess) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment(unique("ties"))
    ids = [client.create_run(experiment_id, start_time=1_700_000_000_000).info.run_id for _ in range(5)]
    seen: list[str] = []
    token = None
    while True:
        page = client.search_runs([experiment_id], max_results=2, page_token=token)
        seen += [r.info.run_id for r in page]
        token = page.token
        if not token:
            break
    assert seen == sorted(ids)
    assert [r.info.run_id for r in mlflow.search_runs([experiment_id], output_format="list")] == sorted(ids)


def test_logged_model_search_by_dataset(mlflow_server: ServerProcess) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment(unique("datasets"))
    run_id = client.create_run(experiment_id).info.run_id
    iris = client.create_logged_model(experiment_id, name="on-iris")
    wine = client.create_logged_model(experiment_id, name="on-wine")
    client.create_logged_model(experiment_id, name="untested")
    client.log_batch(
        run_id,
        metrics=[
            Metric("acc", 0.9, 1, 0, model_id=iris.model_id, dataset_name="iris", dataset_digest="d1"),
            Metric("acc", 0.8, 1, 0, model_id=wine.model_id, dataset_name="wine", dataset_digest="d2"),
        ],
    )

    def names(datasets: list[dict[str, str]]) -> list[str]:
        return sorted(m.name for m in client.search_logged_models([experiment_id], datasets=datasets))

    assert names([{"dataset_name": "iris"}]) == ["on-iris"]
    assert names([{"dataset_name": "wine", "dataset_digest": "d2"}]) == ["on-wine"]
    assert names([{"dataset_name": "wine", "dataset_digest": "other"}]) == []
    assert names([]) == ["on-iris", "on-wine", "untested"]


def test_model_inputs_and_outputs_come_back_on_the_run(mlflow_server: ServerProcess) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment(unique("model-io"))
    run_id = client.create_run(experiment_id).info.run_id
    evaluated = client.create_logged_model(experiment_id, name="evaluated")
    produced = client.create_logged_model(experiment_id, name="produced")
    client.log_inputs(run_id, models=[LoggedModelInput(evaluated.model_id)])
    client.log_outputs(run_id, [LoggedModelOutput(produced.model_id, step=3)])
    run = client.get_run(run_id)
    assert run.inputs is not None and run.outputs is not None
    assert [m.model_id for m in run.inputs.model_inputs] == [evaluated.model_id]
    assert [(m.model_id, m.step) for m in run.outputs.model_outputs] == [(produced.model_id, 3)]


def test_the_client_sees_mlflows_error_texts(mlflow_server: ServerProcess) -> None:
    client = MlflowClient()
    cases = [
        (lambda: client.get_run(GHOST), f"Run with id={GHOST} not found"),
        (
            lambda: client.get_registered_model("nobody-here"),
            "Registered Model with name=nobody-here not found",
        ),
        (lambda: client.get_experiment("987654"), "No Experiment with id=987654 exists"),
    ]
    for call, text in cases:
        with pytest.raises(MlflowException) as caught:
            call()
        assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
        assert text in caught.value.message
    run_id = client.create_run(client.create_experiment(unique("texts"))).info.run_id
    with pytest.raises(MlflowException) as caught:
        client.delete_tag(run_id, "never-set")
    assert f"No tag with name: never-set in run with id {run_id}" in caught.value.message
