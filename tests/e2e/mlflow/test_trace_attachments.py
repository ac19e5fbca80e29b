"""Trace attachments with the unchanged client (SQLite and PostgreSQL, auth on).

A span's inputs or outputs may hold an ``mlflow.Attachment`` (an image, audio, a PDF): the
client stores a ``mlflow-attachment://<uuid>?…`` reference in the span and, once the trace's
info is back, uploads the bytes to the trace's ``mlflow.artifactLocation`` under
``attachments/<uuid>``. They read back through the artifact proxy (as the client downloads
them) and through the UI's ``get-trace-artifact?request_id=…&path=<uuid>``. Nothing else may
be written under a trace's folder.
"""

from __future__ import annotations

import uuid
import warnings

import httpx
import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.tracing.attachments import Attachment

from tests.conftest import AUTH, ServerProcess

with warnings.catch_warnings():
    # As in test_tracing.py: the first span imports mlflow.pyfunc, which warns in 3.17.
    warnings.filterwarnings("ignore", ".*Any type hint is inferred as AnyType", UserWarning)
    import mlflow.pyfunc

pytestmark = pytest.mark.slow

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # 10 KB of "image"
PDF = b"%PDF-1.7\n" + b"\x00\xff" * 3000


@mlflow.trace
def describe(image: Attachment) -> dict[str, object]:
    return {"caption": "a chart", "report": Attachment(content_type="application/pdf", content_bytes=PDF)}


def _refs(value: object) -> list[str]:
    if isinstance(value, str) and value.startswith("mlflow-attachment://"):
        return [value]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def test_attachments_are_uploaded_and_read_back(mlflow_server: ServerProcess) -> None:
    mlflow.set_experiment(f"attachments-{uuid.uuid4().hex[:8]}")
    describe(Attachment(content_type="image/png", content_bytes=PNG))
    mlflow.flush_trace_async_logging(terminate=False)
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id is not None
    trace = MlflowClient().get_trace(trace_id)
    (root,) = trace.data.spans
    image_ref, report_ref = _refs(root.inputs) + _refs(root.outputs)
    image, report = Attachment.parse_ref(image_ref), Attachment.parse_ref(report_ref)
    assert image is not None and report is not None
    assert image["content_type"] == "image/png" and image["trace_id"] == trace_id

    # As the client reads them: the artifact repository of the trace's artifact location.
    location = trace.info.tags["mlflow.artifactLocation"]
    assert location.startswith("mlflow-artifacts:/") and location.endswith(f"/traces/{trace_id}/artifacts")
    repo = get_artifact_repository(location)
    assert repo.download_trace_attachment(str(image["attachment_id"])) == PNG
    assert repo.download_trace_attachment(str(report["attachment_id"])) == PDF

    # As MLflow's UI reads them.
    ui = httpx.get(
        f"{mlflow_server.url}/ajax-api/2.0/mlflow/get-trace-artifact",
        params={"request_id": trace_id, "path": str(image["attachment_id"])},
        headers=AUTH,
    )
    assert ui.status_code == 200, ui.text
    assert ui.content == PNG
    assert ui.headers["content-disposition"].startswith("attachment")


def test_a_trace_folder_takes_only_attachments(mlflow_server: ServerProcess) -> None:
    mlflow.set_experiment(f"attachments-{uuid.uuid4().hex[:8]}")
    describe(Attachment(content_type="image/png", content_bytes=b"png"))
    mlflow.flush_trace_async_logging(terminate=False)
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id is not None
    location = MlflowClient().get_trace(trace_id).info.tags["mlflow.artifactLocation"]
    key = location.removeprefix("mlflow-artifacts:/")
    base = f"{mlflow_server.url}/api/2.0/mlflow-artifacts/artifacts"

    def put(path: str) -> httpx.Response:
        return httpx.put(f"{base}/{path}", content=b"x", headers=AUTH)

    fine = str(uuid.uuid4())
    assert put(f"{key}/attachments/{fine}").status_code == 200
    for path, says in [
        (f"{key}/attachments/not-a-uuid", "must be a valid UUID"),
        (f"{key}/attachments/{fine.upper()}", "must be a valid UUID"),  # not canonical
        (f"{key}/traces.json", "only its attachments"),
        (f"{key}/attachments/{fine}/deeper", "artifact paths look like"),
        (f"{key}/../../x/attachments/{fine}", ""),
    ]:
        refused = put(path)
        assert refused.status_code == 400, (path, refused.text)
        assert says in refused.json()["message"], refused.text
    ghost = key.replace(trace_id, "tr-" + "0" * 32)
    missing = put(f"{ghost}/attachments/{fine}")
    assert missing.status_code == 404 and "not found" in missing.json()["message"], missing.text
    ui = httpx.get(
        f"{mlflow_server.url}/ajax-api/2.0/mlflow/get-trace-artifact",
        params={"request_id": trace_id, "path": "../../etc/passwd"},
        headers=AUTH,
    )
    assert ui.status_code == 400 and "valid UUID" in ui.json()["message"], ui.text
    absent = httpx.get(
        f"{mlflow_server.url}/ajax-api/2.0/mlflow/get-trace-artifact",
        params={"request_id": trace_id, "path": str(uuid.uuid4())},
        headers=AUTH,
    )
    assert absent.status_code == 404, absent.text
