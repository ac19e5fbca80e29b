"""MLflow 3's evaluation datasets and scorers through the unchanged ``mlflow`` client (issue 18),
on SQLite and PostgreSQL with auth on: ``mlflow.genai.datasets.*``, ``dataset.merge_records``,
``scorer.register()``, ``list_scorers``, ``get_scorer``, ``delete_scorer``, and the gateway's
configuration through ``MlflowClient``'s store. Bad input in-process:
tests/integration/test_mlflow_genai.py.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import AUTH, ServerProcess


def _experiment(prefix: str) -> str:
    import mlflow

    return str(mlflow.set_experiment(f"{prefix}-{uuid.uuid4().hex[:8]}").experiment_id)


def test_datasets_with_records_merge_by_inputs(mlflow_server: ServerProcess) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.genai.datasets import (
        create_dataset,
        delete_dataset,
        get_dataset,
        search_datasets,
        set_dataset_tags,
    )

    experiment_id = _experiment("genai-ds")
    name = f"qa-{uuid.uuid4().hex[:8]}"
    dataset = create_dataset(name=name, experiment_id=experiment_id, tags={"team": "nlp"})
    assert dataset.dataset_id.startswith("d-") and dataset.tags["team"] == "nlp"

    dataset.merge_records(
        [
            {"inputs": {"question": "What is MLflow?"}, "expectations": {"answer": "A platform"}},
            {"inputs": {"question": "What is Shipyard?"}, "expectations": {"answer": "An MLOps server"}},
        ]
    )
    # Same inputs again: merged into the stored record (expectations merged key by key).
    dataset.merge_records([{"inputs": {"question": "What is MLflow?"}, "expectations": {"score": 1}}])

    again = get_dataset(dataset_id=dataset.dataset_id)
    assert again.name == name and again.experiment_ids == [experiment_id]
    frame = again.to_df()
    assert len(frame) == 2
    by_question = {row["inputs"]["question"]: row for _, row in frame.iterrows()}
    assert by_question["What is MLflow?"]["expectations"] == {"answer": "A platform", "score": 1}
    assert again.profile is not None and '"num_records": 2' in again.profile

    assert get_dataset(name=name).dataset_id == dataset.dataset_id  # by name: a search
    set_dataset_tags(dataset_id=dataset.dataset_id, tags={"stage": "validated"})
    found = search_datasets(filter_string=f"name = '{name}' AND tags.stage = 'validated'")
    assert [d.dataset_id for d in found] == [dataset.dataset_id]
    assert [d.dataset_id for d in search_datasets(experiment_ids=[experiment_id])] == [dataset.dataset_id]

    delete_dataset(dataset_id=dataset.dataset_id)
    with pytest.raises(MlflowException) as refused:
        get_dataset(dataset_id=dataset.dataset_id)
    assert refused.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert f"Evaluation dataset with id '{dataset.dataset_id}' not found" in refused.value.message


def test_scorers_registered_with_versions(
    mlflow_server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.genai.scorers import Guidelines, delete_scorer, get_scorer, list_scorers, scorer
    from mlflow.genai.scorers.registry import list_scorer_versions

    experiment_id = _experiment("genai-scorers")
    # The *client* rebuilds a @scorer by executing its code, which it does only when told the
    # code is trusted. The server stores the text and never runs it, so it registers either way.
    monkeypatch.setenv("MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS", "true")

    @scorer
    def short_answer(outputs: str) -> bool:
        return len(outputs) < 100

    short_answer.register(experiment_id=experiment_id)
    short_answer.register(experiment_id=experiment_id)  # a second version
    Guidelines(name="polite", guidelines=["The answer is polite."]).register(experiment_id=experiment_id)

    listed = {s.name: s for s in list_scorers(experiment_id=experiment_id)}
    assert set(listed) == {"short_answer", "polite"}
    versions = list_scorer_versions(name="short_answer", experiment_id=experiment_id)
    assert [v for _, v in versions] == [1, 2]
    fetched = get_scorer(name="short_answer", experiment_id=experiment_id)
    # The serialized scorer comes back as sent: the client rebuilds and runs it, not the server.
    assert fetched.name == "short_answer" and fetched(outputs="short") is True
    assert get_scorer(name="polite", experiment_id=experiment_id).guidelines == ["The answer is polite."]

    delete_scorer(name="short_answer", experiment_id=experiment_id, version=1)
    assert [v for _, v in list_scorer_versions(name="short_answer", experiment_id=experiment_id)] == [2]
    delete_scorer(name="short_answer", experiment_id=experiment_id, version="all")
    with pytest.raises(MlflowException) as refused:
        get_scorer(name="short_answer", experiment_id=experiment_id)
    assert refused.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_gateway_configuration_keeps_secrets_masked(mlflow_server: ServerProcess) -> None:
    from mlflow.tracking._tracking_service.utils import _get_store

    store = _get_store()
    value = f"sk-{uuid.uuid4().hex}"
    secret = store.create_gateway_secret(
        secret_name=f"key-{uuid.uuid4().hex[:6]}", secret_value={"api_key": value}, provider="openai"
    )
    assert secret.masked_values == {"api_key": f"sk-...{value[-4:]}"}
    model = store.create_gateway_model_definition(
        name=f"gpt-{uuid.uuid4().hex[:6]}",
        secret_id=secret.secret_id,
        provider="openai",
        model_name="gpt-4o-mini",
    )
    assert store.get_gateway_model_definition(model.model_definition_id).secret_name == secret.secret_name
    listed = store.list_secret_infos(provider="openai")
    assert secret.secret_id in {s.secret_id for s in listed}
    assert all(value not in str(s.masked_values) for s in listed)
    store.delete_gateway_model_definition(model.model_definition_id)
    store.delete_gateway_secret(secret.secret_id)
    assert secret.secret_id not in {s.secret_id for s in store.list_secret_infos()}


def test_issues_and_dataset_experiment_links(mlflow_server: ServerProcess) -> None:
    from mlflow.entities.issue import IssueSeverity, IssueStatus
    from mlflow.genai.datasets import (
        add_dataset_to_experiments,
        create_dataset,
        remove_dataset_from_experiments,
    )
    from mlflow.tracking._tracking_service.utils import _get_store

    store = _get_store()
    experiment_id = _experiment("genai-issues")
    issue = store.create_issue(
        experiment_id=experiment_id,
        name="hallucination",
        description="answers cite papers that do not exist",
        severity=IssueSeverity.HIGH,
        categories=["correctness"],
    )
    assert issue.status == IssueStatus.PENDING and issue.severity == IssueSeverity.HIGH
    store.update_issue(issue.issue_id, status=IssueStatus.RESOLVED)
    assert store.get_issue(issue.issue_id).status == IssueStatus.RESOLVED
    assert [i.issue_id for i in store.search_issues(experiment_id=experiment_id)] == [issue.issue_id]

    other = _experiment("genai-issues-other")
    dataset = create_dataset(name=f"shared-{uuid.uuid4().hex[:6]}", experiment_id=experiment_id)
    assert sorted(add_dataset_to_experiments(dataset.dataset_id, [other]).experiment_ids) == sorted(
        [experiment_id, other]
    )
    assert remove_dataset_from_experiments(dataset.dataset_id, [experiment_id]).experiment_ids == [other]


def test_the_prompt_registry(mlflow_server: ServerProcess) -> None:
    """MLflow 3's prompt registry: prompts are registered models tagged as prompts, their
    versions model versions holding the template in a tag and a placeholder source."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    name = f"qa_{uuid.uuid4().hex[:8]}"
    first = mlflow.genai.register_prompt(
        name=name, template="Answer {{question}} briefly.", commit_message="first", tags={"team": "qa"}
    )
    assert first.version == 1 and first.template == "Answer {{question}} briefly."
    chat = mlflow.genai.register_prompt(
        name=name,
        template=[
            {"role": "system", "content": "You are {{persona}}."},
            {"role": "user", "content": "{{q}}"},
        ],
    )
    assert chat.version == 2 and not chat.is_text_prompt
    assert mlflow.genai.load_prompt(f"prompts:/{name}/1").format(question="why") == "Answer why briefly."
    mlflow.genai.set_prompt_alias(name, alias="production", version=1)
    by_alias = mlflow.genai.load_prompt(f"prompts:/{name}@production")
    assert by_alias.version == 1 and by_alias.aliases == ["production"]
    assert mlflow.genai.load_prompt(f"prompts:/{name}/2").format(persona="terse", q="hi") == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "hi"},
    ]
    mlflow.genai.set_prompt_version_tag(name, 1, "reviewed", "yes")
    assert MlflowClient().get_prompt_version(name, 1).tags["reviewed"] == "yes"
    assert name in [p.name for p in mlflow.genai.search_prompts(filter_string=f"name = '{name}'")]
    # A prompt is not a model: the models listing leaves it out, as MLflow's does.
    assert name not in [m.name for m in MlflowClient().search_registered_models(max_results=1000)]
    mlflow.genai.delete_prompt_alias(name, "production")
    with pytest.raises(MlflowException):
        mlflow.genai.load_prompt(f"prompts:/{name}@production")
    # A prompt version's source must be one of MLflow's placeholders (the client refuses to
    # send this itself, so it goes as a raw request).
    refused = httpx.post(
        f"{mlflow_server.url}/api/2.0/mlflow/model-versions/create",
        json={
            "name": name,
            "source": "file:///etc/passwd",
            "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}],
        },
        headers=AUTH,
    )
    assert refused.status_code == 400 and refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Prompt sources must use an MLflow placeholder" in refused.json()["message"]
    with pytest.raises(MlflowException, match="not found"):  # nothing was written
        MlflowClient().get_prompt_version(name, 3)
