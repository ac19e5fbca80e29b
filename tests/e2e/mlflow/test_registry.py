"""The real ``mlflow`` client drives Shipyard's model registry: registered models, versions
from explicit sources, aliases, stages, searches, renames and deletes — then the same
objects and their history through ``/api/v1``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException

from tests.conftest import AUTH, ServerProcess

pytestmark = pytest.mark.slow
T = TypeVar("T")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_of(exc: pytest.ExceptionInfo[MlflowException]) -> str:
    return str(exc.value.error_code)


def native(server: ServerProcess, path: str) -> Any:
    response = httpx.get(f"{server.url}/api/v1{path}", timeout=30, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


def staged(call: Callable[[], T]) -> T:
    """MLflow deprecates stages (its client warns) but they are still part of its API."""
    with pytest.warns(FutureWarning, match="stage"):
        return call()


def a_run(client: MlflowClient) -> str:
    experiment_id = client.create_experiment(unique("registry"))
    return client.create_run(experiment_id).info.run_id


def test_registry_lifecycle_through_the_mlflow_client(mlflow_server: ServerProcess) -> None:
    client = MlflowClient()
    run_id = a_run(client)
    name = unique("iris")
    created = client.create_registered_model(name, tags={"team": "vision"}, description="first")
    assert (created.name, created.description, created.tags) == (name, "first", {"team": "vision"})
    with pytest.raises(MlflowException) as dup:
        client.create_registered_model(name)
    assert error_of(dup) == "RESOURCE_ALREADY_EXISTS"

    v1 = client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id, tags={"k": "v"})
    v2 = client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id, description="second")
    assert (v1.version, v2.version) == ("1", "2")
    assert (v1.run_id, v1.current_stage, v1.status, v1.tags) == (run_id, "None", "READY", {"k": "v"})
    assert client.get_model_version_download_uri(name, "1") == f"runs:/{run_id}/model"

    client.set_registered_model_alias(name, "champion", "1")
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    assert client.get_registered_model(name).aliases == {"champion": "1"}
    client.set_registered_model_alias(name, "challenger", "2")
    client.delete_registered_model_alias(name, "challenger")
    assert client.get_registered_model(name).aliases == {"champion": "1"}

    staged(lambda: client.transition_model_version_stage(name, "1", "Production"))
    moved = staged(lambda: client.transition_model_version_stage(name, "2", "production", True))
    latest = staged(lambda: client.get_latest_versions(name, stages=["Production"]))
    every_stage = staged(lambda: client.get_latest_versions(name))
    assert moved.current_stage == "Production"
    assert client.get_model_version(name, "1").current_stage == "Archived"
    assert [v.version for v in latest] == ["2"]
    assert {v.current_stage for v in every_stage} == {"Production", "Archived"}

    client.update_registered_model(name, description="better")
    client.set_registered_model_tag(name, "owner", "ana")
    client.delete_registered_model_tag(name, "team")
    client.update_model_version(name, "2", description="the good one")
    client.set_model_version_tag(name, "2", "validated", "yes")
    client.delete_model_version_tag(name, "1", "k")
    model = client.get_registered_model(name)
    assert (model.description, model.tags) == ("better", {"owner": "ana"})
    assert client.get_model_version(name, "2").tags == {"validated": "yes"}
    assert client.get_model_version(name, "1").tags == {}

    new_name = unique("iris-renamed")
    client.rename_registered_model(name, new_name)
    assert client.get_registered_model(new_name).description == "better"
    with pytest.raises(MlflowException) as gone:
        client.get_registered_model(name)
    assert error_of(gone) == "RESOURCE_DOES_NOT_EXIST"
    assert client.get_model_version(new_name, "2").description == "the good one"

    # The same model through the native API, with who did what in its history.
    seen = native(mlflow_server, f"/models/{new_name}")
    assert (seen["latest_version"], seen["aliases"]) == (2, {"champion": 1})
    versions = native(mlflow_server, f"/models/{new_name}/versions")["versions"]
    assert [v["source"] for v in versions] == [f"runs:/{run_id}/model"] * 2
    assert [v["stage"] for v in versions] == ["Archived", "Production"]
    history = native(mlflow_server, f"/models/{name}/history")["events"]
    actions = [e["action"] for e in history]
    for action in (
        "model_created",
        "version_created",
        "alias_set",
        "alias_deleted",
        "stage_set",
        "model_renamed",
    ):
        assert action in actions
    assert all(e["actor"] and e["at"] > 0 for e in history)

    client.delete_model_version(new_name, "1")
    with pytest.raises(MlflowException) as no_version:
        client.get_model_version(new_name, "1")
    assert error_of(no_version) == "RESOURCE_DOES_NOT_EXIST"
    client.delete_registered_model(new_name)
    assert client.search_registered_models(f"name = '{new_name}'") == []
    events = native(mlflow_server, f"/models/{new_name}/history")["events"]
    assert [e["action"] for e in events][-2:] == ["version_deleted", "model_deleted"]


def test_registry_searches(mlflow_server: ServerProcess) -> None:
    client = MlflowClient()
    run_id = a_run(client)
    prefix = unique("search")
    names = [f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"]
    for i, name in enumerate(names):
        client.create_registered_model(name, tags={"rank": str(i)})
        client.create_model_version(name, f"runs:/{run_id}/m{i}", run_id=run_id)

    # The client appends tag.`mlflow.prompt.is_prompt` != 'true' to each of these.
    assert [m.name for m in client.search_registered_models(f"name = '{names[1]}'")] == [names[1]]
    assert [m.name for m in client.search_registered_models(f"name LIKE '{prefix}%'")] == names
    assert len(client.search_registered_models(f"name ILIKE '{prefix.upper()}%'")) == 3
    assert client.search_registered_models(f"name LIKE '{prefix.upper()}%'") == []  # LIKE is case-sensitive
    found = client.search_registered_models(f"name LIKE '{prefix}%' AND tags.rank = '2'")
    assert [m.name for m in found] == [names[2]]
    ordered = client.search_registered_models(f"name LIKE '{prefix}%'", order_by=["name DESC"])
    assert [m.name for m in ordered] == names[::-1]
    page = client.search_registered_models(f"name LIKE '{prefix}%'", max_results=2)
    assert len(page) == 2
    assert page.token
    rest = client.search_registered_models(f"name LIKE '{prefix}%'", max_results=2, page_token=page.token)
    assert [m.name for m in rest] == names[2:]
    # mlflow.search_registered_models follows the pages itself.
    assert len(mlflow.search_registered_models(filter_string=f"name LIKE '{prefix}%'")) == 3

    versions = client.search_model_versions(f"run_id = '{run_id}'")
    assert sorted(v.name for v in versions) == names
    assert [v.source for v in client.search_model_versions(f"name = '{names[0]}'")] == [f"runs:/{run_id}/m0"]
    assert client.search_model_versions(f"name = '{prefix}-none'") == []


def test_search_fills_latest_versions_as_get_does(mlflow_server: ServerProcess) -> None:
    client = MlflowClient()
    run_id = a_run(client)
    prefix = unique("latest")
    staged_name, plain_name, empty_name = f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"
    for name in (staged_name, plain_name, empty_name):
        client.create_registered_model(name)
    for _ in range(4):
        client.create_model_version(staged_name, f"runs:/{run_id}/model", run_id=run_id)
    client.create_model_version(plain_name, f"runs:/{run_id}/model", run_id=run_id, tags={"k": "v"})
    staged(lambda: client.transition_model_version_stage(staged_name, "1", "Production"))
    staged(lambda: client.transition_model_version_stage(staged_name, "2", "Production"))
    staged(lambda: client.transition_model_version_stage(staged_name, "3", "Staging"))

    def latest(model: Any) -> list[tuple[str, str, str]]:
        return [(v.name, v.version, v.current_stage) for v in model.latest_versions]

    found = {m.name: m for m in client.search_registered_models(f"name LIKE '{prefix}%'")}
    assert latest(found[staged_name]) == [
        (staged_name, "2", "Production"),
        (staged_name, "3", "Staging"),
        (staged_name, "4", "None"),
    ]
    assert latest(found[plain_name]) == [(plain_name, "1", "None")]
    assert found[plain_name].latest_versions[0].tags == {"k": "v"}
    assert found[plain_name].latest_versions[0].run_id == run_id
    assert latest(found[empty_name]) == []
    for name, model in found.items():
        assert latest(model) == latest(client.get_registered_model(name)), name
    # Each page carries its own models' versions.
    first = client.search_registered_models(f"name LIKE '{prefix}%'", max_results=1)
    rest = client.search_registered_models(f"name LIKE '{prefix}%'", max_results=2, page_token=first.token)
    assert [latest(m) for m in [*first, *rest]] == [latest(found[n]) for n in sorted(found)]


def test_sources_inside_shipyard_are_accepted(mlflow_server: ServerProcess, tmp_path: Path) -> None:
    client = MlflowClient()
    mlflow.set_experiment(unique("sources"))
    (tmp_path / "weights.txt").write_text("w")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "weights.txt"), artifact_path="model")
    artifact_uri = run.info.artifact_uri
    assert artifact_uri.startswith("mlflow-artifacts:/")
    name = unique("ok")
    client.create_registered_model(name)
    by_location = client.create_model_version(name, f"{artifact_uri}/model")
    assert by_location.run_id == run.info.run_id
    assert client.get_model_version_download_uri(name, "1") == f"{artifact_uri}/model"
    client.set_registered_model_alias(name, "champion", "1")
    for source in (f"models:/{name}/1", f"models:/{name}@champion"):
        copied = client.create_model_version(name, source)
        assert copied.run_id == run.info.run_id
        assert client.get_model_version_download_uri(name, copied.version) == f"runs:/{run.info.run_id}/model"
    local = client.download_artifacts(run.info.run_id, "model")
    assert (Path(local) / "weights.txt").read_text() == "w"


@pytest.mark.parametrize(
    "source",
    [
        "file:///etc/passwd",
        "/etc/passwd",
        "etc/passwd",
        "s3://someone-elses-bucket/model",
        "http://169.254.169.254/latest/meta-data",
        "mlflow-artifacts://evil.example/default/1/x/artifacts/model",
        "RUN/../../../../etc",
        "runs:/{run}/../../../../etc/passwd",
        "runs:/{run}/%2e%2e/%2e%2e/etc/passwd",
        "runs:/{run}/model#/../../../etc/passwd",
        "runs:/{run}/model?x=/etc/passwd",
        "mlflow-artifacts:/default/1/{run}/artifacts/../../../../etc",
        "mlflow-artifacts:/other-workspace/1/{run}/artifacts/model",
        "mlflow-artifacts:/default/1/models/m-0000/artifacts/model",
        "models:/../../etc/passwd",
    ],
)
def test_sources_outside_shipyard_are_refused(mlflow_server: ServerProcess, source: str) -> None:
    """MLflow's advisories on model-version sources (local file inclusion, traversal)."""
    client = MlflowClient()
    run_id = a_run(client)
    name = unique("lfi")
    client.create_registered_model(name)
    with pytest.raises(MlflowException) as refused:
        client.create_model_version(name, source.replace("{run}", run_id).replace("RUN", run_id))
    assert error_of(refused) == "INVALID_PARAMETER_VALUE"
    assert client.search_model_versions(f"name = '{name}'") == []


def test_unknown_names_and_malformed_input_are_clear_4xx(mlflow_server: ServerProcess) -> None:
    client = MlflowClient()
    run_id = a_run(client)
    name = unique("bad")
    client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{run_id}/model")

    cases: list[tuple[Any, str]] = [
        (lambda: client.get_registered_model(unique("nobody")), "RESOURCE_DOES_NOT_EXIST"),
        (lambda: client.get_model_version(name, "7"), "RESOURCE_DOES_NOT_EXIST"),
        # MLflow answers an unknown alias with a 400 ("Registered model alias … not found.").
        (lambda: client.get_model_version_by_alias(name, "nobody"), "INVALID_PARAMETER_VALUE"),
        (
            lambda: client.create_model_version(unique("nobody"), f"runs:/{run_id}/m"),
            "RESOURCE_DOES_NOT_EXIST",
        ),
        (lambda: client.create_model_version(name, "models:/m-0123abcd"), "RESOURCE_DOES_NOT_EXIST"),
        (lambda: client.rename_registered_model(unique("nobody"), unique("x")), "RESOURCE_DOES_NOT_EXIST"),
        (lambda: client.delete_registered_model(unique("nobody")), "RESOURCE_DOES_NOT_EXIST"),
        (lambda: client.set_registered_model_alias(name, "latest", "1"), "INVALID_PARAMETER_VALUE"),
        (lambda: client.set_registered_model_alias(name, "champion", "9"), "RESOURCE_DOES_NOT_EXIST"),
        (lambda: client.search_registered_models("name = 'a' OR name = 'b'"), "INVALID_PARAMETER_VALUE"),
        (lambda: client.search_registered_models("colour = 'red'"), "INVALID_PARAMETER_VALUE"),
        (lambda: client.search_model_versions("run_id = "), "INVALID_PARAMETER_VALUE"),
        (lambda: client.search_registered_models(order_by=["colour"]), "INVALID_PARAMETER_VALUE"),
        (lambda: client.search_registered_models(page_token="not-a-token"), "INVALID_PARAMETER_VALUE"),
    ]
    for call, code in cases:
        with pytest.raises(MlflowException) as caught:
            call()
        assert error_of(caught) == code, caught.value
        if isinstance(caught.value, RestException):
            assert caught.value.get_http_status_code() < 500

    with pytest.raises(MlflowException) as no_stage:
        staged(lambda: client.transition_model_version_stage(name, "1", "Heaven"))
    assert error_of(no_stage) == "INVALID_PARAMETER_VALUE"

    api = f"{mlflow_server.url}/api/2.0/mlflow"
    raw = [
        httpx.get(f"{api}/model-versions/get", params={"name": name, "version": "one"}, headers=AUTH),
        httpx.get(
            f"{api}/model-versions/get", params={"name": name, "version": "99999999999999"}, headers=AUTH
        ),
        httpx.get(f"{api}/registered-models/get", headers=AUTH),
        httpx.post(f"{api}/registered-models/create", content=b"{not json", headers=AUTH),
        httpx.post(f"{api}/registered-models/create", json={"name": ["a"]}, headers=AUTH),
        httpx.post(f"{api}/registered-models/create", json={"name": "a/b"}, headers=AUTH),
        httpx.post(f"{api}/model-versions/create", json={"name": name}, headers=AUTH),
        httpx.request("DELETE", f"{api}/registered-models/delete", content=b"[]", headers=AUTH),
    ]
    for response in raw:
        assert response.status_code == 400, response.text
        assert set(response.json()) == {"error_code", "message"}
