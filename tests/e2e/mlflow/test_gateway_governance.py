"""The rest of MLflow 3.17's gateway configuration through the unchanged client, on SQLite and
PostgreSQL with auth on: a scorer's online configuration through ``scorer.start()``,
``update()``, ``stop()`` and ``get_scorer``; endpoint tags, bindings, budget policies and
guardrails through the client's REST store (MLflow has no fluent API for them), whose parsing
checks the answers' shapes. Bad input in-process: tests/integration/test_mlflow_gateway_more.py.
"""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import ServerProcess


def test_a_scorers_online_configuration_round_trips(mlflow_server: ServerProcess) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.genai.judges import make_judge
    from mlflow.genai.scorers import ScorerSamplingConfig, get_scorer

    experiment_id = mlflow.set_experiment(f"online-{uuid.uuid4().hex[:8]}").experiment_id
    judge = make_judge(
        name="safety",
        instructions="Is the answer in {{ outputs }} safe?",
        model="gateway:/judge",
        feedback_value_type=bool,
    )
    registered = judge.register(experiment_id=experiment_id)
    started = registered.start(
        experiment_id=experiment_id,
        sampling_config=ScorerSamplingConfig(sample_rate=0.5, filter_string="tags.env = 'prod'"),
    )
    assert (started.sample_rate, started.filter_string) == (0.5, "tags.env = 'prod'")
    fetched = get_scorer(name="safety", experiment_id=experiment_id)
    assert (fetched.sample_rate, fetched.filter_string) == (0.5, "tags.env = 'prod'")
    updated = fetched.update(
        experiment_id=experiment_id, sampling_config=ScorerSamplingConfig(sample_rate=0.2)
    )
    assert updated.sample_rate == 0.2
    assert fetched.stop(experiment_id=experiment_id).sample_rate == 0

    # As MLflow's server: only a judge that calls a gateway endpoint can be sampled online.
    other = make_judge(
        name="tone", instructions="Rate {{ outputs }}", model="openai:/gpt-4o", feedback_value_type=bool
    )
    with pytest.raises(MlflowException) as refused:
        other.register(experiment_id=experiment_id).start(
            experiment_id=experiment_id, sampling_config=ScorerSamplingConfig(sample_rate=1.0)
        )
    assert "does not use a gateway model" in refused.value.message


def test_budgets_guardrails_bindings_and_tags_through_the_clients_store(mlflow_server: ServerProcess) -> None:
    import mlflow
    from mlflow.entities.gateway_budget_policy import (
        BudgetAction,
        BudgetDuration,
        BudgetDurationUnit,
        BudgetTargetScope,
        BudgetUnit,
    )
    from mlflow.entities.gateway_endpoint import GatewayEndpointTag, GatewayResourceType
    from mlflow.entities.gateway_guardrail import GuardrailAction, GuardrailStage
    from mlflow.genai.judges import make_judge
    from mlflow.tracking._tracking_service.utils import _get_store

    store = _get_store()
    endpoint = store.create_gateway_endpoint(name=f"chat-{uuid.uuid4().hex[:6]}", model_configs=[])
    store.set_gateway_endpoint_tag(endpoint.endpoint_id, GatewayEndpointTag("team", "nlp"))
    tagged = store.get_gateway_endpoint(endpoint_id=endpoint.endpoint_id)
    assert [(t.key, t.value) for t in tagged.tags] == [("team", "nlp")]
    store.delete_gateway_endpoint_tag(endpoint.endpoint_id, "team")
    assert store.get_gateway_endpoint(endpoint_id=endpoint.endpoint_id).tags == []

    policy = store.create_budget_policy(
        budget_unit=BudgetUnit.USD,
        budget_amount=50.0,
        duration=BudgetDuration(unit=BudgetDurationUnit.DAYS, value=1),
        target_scope=BudgetTargetScope.ENDPOINT,
        budget_action=BudgetAction.REJECT,
        target_value=endpoint.endpoint_id,
    )
    assert (policy.target_scope, policy.target_value) == (BudgetTargetScope.ENDPOINT, endpoint.endpoint_id)
    changed = store.update_budget_policy(policy.budget_policy_id, budget_amount=75.0)
    assert changed.budget_amount == 75.0 and changed.budget_action == BudgetAction.REJECT
    assert policy.budget_policy_id in {p.budget_policy_id for p in store.list_budget_policies()}

    experiment_id = mlflow.set_experiment(f"guard-{uuid.uuid4().hex[:8]}").experiment_id
    judge = make_judge(
        name="pii",
        instructions="Does {{ outputs }} leak PII?",
        model="gateway:/judge",
        feedback_value_type=bool,
    )
    judge.register(experiment_id=experiment_id)
    version = store.get_scorer(experiment_id, "pii")
    guardrail = store.create_gateway_guardrail(
        name="no-pii",
        scorer_id=version.scorer_id,
        scorer_version=version.scorer_version,
        stage=GuardrailStage.BEFORE,
        action=GuardrailAction.VALIDATION,
    )
    assert guardrail.scorer.scorer_name == "pii" and guardrail.stage == GuardrailStage.BEFORE
    config = store.add_guardrail_to_endpoint(endpoint.endpoint_id, guardrail.guardrail_id, execution_order=1)
    assert config.guardrail.name == "no-pii" and config.execution_order == 1
    assert [c.guardrail_id for c in store.list_endpoint_guardrail_configs(endpoint.endpoint_id)] == [
        guardrail.guardrail_id
    ]

    binding = store.create_endpoint_binding(
        endpoint.endpoint_id, GatewayResourceType.SCORER, version.scorer_id
    )
    assert binding.resource_type == GatewayResourceType.SCORER
    assert [b.resource_id for b in store.list_endpoint_bindings(endpoint_id=endpoint.endpoint_id)] == [
        version.scorer_id
    ]

    # The endpoint takes its bindings and guardrail places along; the guardrail stays.
    store.delete_gateway_endpoint(endpoint.endpoint_id)
    assert store.list_endpoint_bindings(resource_id=version.scorer_id) == []
    assert store.get_gateway_guardrail(guardrail.guardrail_id).name == "no-pii"
    store.delete_gateway_guardrail(guardrail.guardrail_id)
    store.delete_budget_policy(policy.budget_policy_id)
