"""The model registry's webhooks through the unchanged ``mlflow`` client (issue 18), on SQLite
and PostgreSQL with auth on: ``MlflowClient().create_webhook`` … ``delete_webhook``,
``test_webhook``, and a registry change delivered to a receiver on this machine that checks
MLflow's signature. The rest (bad input, retries, every event, permissions) is in-process:
tests/integration/test_mlflow_webhooks.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import ServerProcess
from tests.integration.webhook_receiver import Receiver, signature_ok


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def test_the_client_manages_tests_and_receives_webhooks(
    mlflow_server: ServerProcess, receiver: Receiver
) -> None:
    from mlflow import MlflowClient
    from mlflow.entities.webhook import WebhookEvent, WebhookStatus
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    name = f"ci-{uuid.uuid4().hex[:8]}"
    hook = client.create_webhook(
        name=name,
        url=receiver.url,
        events=["registered_model.created", "model_version_alias.created"],
        description="tell CI",
        secret="e2e-secret",
    )
    assert hook.status == WebhookStatus.ACTIVE and hook.secret is None
    assert hook.events == [
        WebhookEvent.from_str("registered_model.created"),
        WebhookEvent.from_str("model_version_alias.created"),
    ]
    got = client.get_webhook(hook.webhook_id)
    assert (got.name, got.url, got.description) == (name, receiver.url, "tell CI")
    assert hook.webhook_id in [h.webhook_id for h in client.list_webhooks(max_results=100)]

    changed = client.update_webhook(hook.webhook_id, description="changed", status="DISABLED")
    assert (changed.description, changed.status) == ("changed", WebhookStatus.DISABLED)
    assert client.update_webhook(hook.webhook_id, status="ACTIVE").status == WebhookStatus.ACTIVE

    result = client.test_webhook(hook.webhook_id)
    assert result.success and result.response_status == 200 and result.error_message in (None, "")
    sent = receiver.wait_for(1)[0]
    assert sent.json["data"]["name"] == "example_model" and signature_ok(sent, "e2e-secret")

    model = f"hooked-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(model, description="from e2e")
    delivered = receiver.wait_for(2)[1]
    assert (delivered.json["entity"], delivered.json["action"]) == ("registered_model", "created")
    assert delivered.json["data"] == {"name": model, "tags": {}, "description": "from e2e"}
    assert signature_ok(delivered, "e2e-secret")

    with pytest.raises(MlflowException) as bad:
        client.create_webhook(name="bad name", url=receiver.url, events=["model_version.created"])
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"

    client.delete_webhook(hook.webhook_id)
    with pytest.raises(MlflowException) as gone:
        client.get_webhook(hook.webhook_id)
    assert gone.value.error_code == "RESOURCE_DOES_NOT_EXIST"
