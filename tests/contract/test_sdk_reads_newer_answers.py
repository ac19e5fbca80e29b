"""An older SDK talks to a newer server: answers that carry fields the SDK does not know are
read, the unknown fields ignored. The app runs in-process; every object of its answers gains
a field no SDK declares, as a later server version adding one would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI

from shipyard.client.client import Client
from shipyard.server.app import create_app
from shipyard.settings import Settings
from tests.conftest import ADMIN_TOKEN

ADDED = "added_by_a_later_server"


def _with_added_fields(value: Any) -> Any:
    """The answer's record objects (the answer itself, and objects in its lists) gain a field;
    free-form maps (tags, traffic, params) are left as they are, as a server would."""
    if isinstance(value, dict):
        return {**{k: _in_lists(v) for k, v in value.items()}, ADDED: 1}
    return _in_lists(value)


def _in_lists(value: Any) -> Any:
    if isinstance(value, list):
        return [_with_added_fields(item) if isinstance(item, dict) else item for item in value]
    return value


class NewerServer(httpx.BaseTransport):
    def __init__(self, app: FastAPI, portal: BlockingPortal) -> None:
        self.asgi = httpx.ASGITransport(app=app)
        self.portal = portal
        self.rewritten = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = b"".join(request.stream)  # type: ignore[union-attr]
        headers = [
            (k, v) for k, v in request.headers.items() if k not in ("content-length", "transfer-encoding")
        ]
        inner = httpx.Request(request.method, request.url, headers=headers, content=body)

        async def call() -> httpx.Response:
            answer = await self.asgi.handle_async_request(inner)
            return httpx.Response(answer.status_code, headers=answer.headers, content=await answer.aread())

        answer = self.portal.call(call)
        if answer.status_code >= 300 or not answer.headers.get("content-type", "").startswith(
            "application/json"
        ):
            return answer
        self.rewritten += 1
        content = orjson.dumps(_with_added_fields(answer.json()))
        out_headers = [(k, v) for k, v in answer.headers.items() if k != "content-length"]
        return httpx.Response(answer.status_code, headers=out_headers, content=content)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    app = create_app(Settings(home=tmp_path_factory.mktemp("newer-server")))
    with start_blocking_portal() as portal:
        sdk = Client("http://127.0.0.1", token=ADMIN_TOKEN, transport=NewerServer(app, portal))
        try:
            yield sdk
        finally:
            sdk.close()
            app.state.services.audit.stop()


def test_tracking_and_registry_answers_with_unknown_fields_are_read(client: Client, tmp_path: Path) -> None:
    experiment = client.create_experiment("newer", tags={"team": "a"})
    assert client.get_experiment_by_name("newer").id == experiment.id
    assert experiment.id in {e.id for e in client.list_experiments()}
    run = client.create_run(experiment.id, name="r")
    client.log_params(run.id, {"lr": "0.1"})
    assert client.get_run(run.id).params == {"lr": "0.1"}
    assert [r.id for r in client.search_runs([experiment.id])] == [run.id]
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.bin").write_bytes(b"\x00\x01")
    client.log_artifact(run.id, tmp_path / "model", "model")
    version = client.register_model("newer-model", run_id=run.id, artifact_path="model")
    assert client.get_model_version("newer-model", version.version).run_id == run.id
    assert client.get_model("newer-model").latest_version == version.version
    assert [e.action for e in client.model_history("newer-model")]


def test_endpoint_and_snapshot_answers_with_unknown_fields_are_read(client: Client, tmp_path: Path) -> None:
    online = tmp_path / "online.yml"
    online.write_text("name: newer-ep\nauth_mode: key\n")
    assert client.online_endpoints.create(online).name == "newer-ep"
    assert [e.name for e in client.online_endpoints.list()] == ["newer-ep"]
    batch = tmp_path / "batch.yml"
    batch.write_text("name: newer-batch\n")
    assert client.batch_endpoints.create(batch).name == "newer-batch"
    assert client.batch_endpoints.get("newer-batch").default_deployment is None
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "a.py").write_text("print(1)\n")
    ref = client.upload_folder(tmp_path / "code")
    assert [f.path for f in client.get_snapshot(ref.digest).files] == ["a.py"]
