"""Trace routes in-process (the app over ASGI, SQLite and PostgreSQL): bad input answered with
MLflow's codes and texts, never a 500; oversized bodies refused before they are read;
traces confined to their workspace; the UI's trace view readable by MLflow's own parser.

The real ``mlflow`` client drives the same routes in tests/e2e/mlflow/test_tracing.py.
"""

from __future__ import annotations

import gzip
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import start_blocking_portal

from shipyard.server.app import create_app
from shipyard.settings import Settings
from tests.conftest import ADMIN_TOKEN, AUTH
from tests.integration.test_access_matrix import SyncClient

V3 = "/api/3.0/mlflow"
MAX_JSON = 256 * 1024


@pytest.fixture
def api(tmp_path: Path, database_url: str) -> Iterator[SyncClient]:
    settings = Settings(
        home=tmp_path,
        database_url=database_url,
        roles="api",
        admin_token=ADMIN_TOKEN,
        max_json_bytes=MAX_JSON,
    )
    app = create_app(settings)
    with start_blocking_portal() as portal:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", headers=AUTH
        )
        try:
            yield SyncClient(portal, client)
        finally:
            portal.call(client.aclose)
            app.state.services.audit.stop()
            app.state.database.close()  # the lifespan is not run here: close what it would


def _experiment(api: SyncClient, name: str, **headers: str) -> str:
    made = api.request("POST", "/api/2.0/mlflow/experiments/create", json={"name": name}, headers=headers)
    assert made.status_code == 200, made.text
    return str(made.json()["experiment_id"])


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    return str(body["message"])


def _span(trace_hex: str, span_hex: str, parent: str | None = None, **extra: Any) -> dict[str, Any]:
    now = time.time_ns()
    span = {
        "traceId": trace_hex,
        "spanId": span_hex,
        "name": extra.pop("name", "s"),
        "startTimeUnixNano": str(now),
        "endTimeUnixNano": str(now + 1_000_000),
        "status": {"code": 1},
        **extra,
    }
    if parent:
        span["parentSpanId"] = parent
    return span


def _otlp(*spans: dict[str, Any]) -> dict[str, Any]:
    return {"resourceSpans": [{"scopeSpans": [{"spans": list(spans)}]}]}


def _send(api: SyncClient, experiment_id: str, body: Any, **headers: str) -> httpx.Response:
    return api.request(
        "POST", "/v1/traces", json=body, headers={"x-mlflow-experiment-id": experiment_id, **headers}
    )


def _trace(api: SyncClient, experiment_id: str) -> str:
    trace_hex = uuid.uuid4().hex
    inputs = {
        "key": "mlflow.spanInputs",
        "value": {"kvlistValue": {"values": [{"key": "q", "value": {"stringValue": "hi"}}]}},
    }
    sent = _send(
        api, experiment_id, _otlp(_span(trace_hex, "00000000000000a1", name="root", attributes=[inputs]))
    )
    assert sent.status_code == 200, sent.text
    return f"tr-{trace_hex}"


def test_spans_alone_make_a_finished_trace_and_start_trace_then_wins(api: SyncClient) -> None:
    experiment_id = _experiment(api, "spans-first")
    trace_id = _trace(api, experiment_id)
    info = api.get(f"{V3}/traces/{trace_id}").json()["trace"]["trace_info"]
    assert info["state"] == "OK" and info["tags"]["mlflow.traceName"] == "root"
    assert info["request_preview"] == '{"q":"hi"}' and info["execution_duration"] == "0.001s"
    assert info["tags"]["mlflow.artifactLocation"].endswith(f"/traces/{trace_id}/artifacts")
    started = api.request(
        "POST",
        f"{V3}/traces",
        json={
            "trace": {
                "trace_info": {
                    "trace_id": trace_id,
                    "trace_location": {
                        "type": "MLFLOW_EXPERIMENT",
                        "mlflow_experiment": {"experiment_id": experiment_id},
                    },
                    "request_time": "2025-01-02T03:04:05.678Z",
                    "execution_duration": "2.5s",
                    "state": "ERROR",
                    "request_preview": "client's",
                    "trace_metadata": {"mlflow.user": "ann"},
                    "tags": {"mlflow.traceName": "renamed"},
                }
            }
        },
    )
    assert started.status_code == 200, started.text
    info = started.json()["trace"]["trace_info"]
    assert (info["request_time"], info["execution_duration"], info["state"]) == (
        "2025-01-02T03:04:05.678Z",
        "2.500s",
        "ERROR",
    )
    assert info["request_preview"] == "client's" and info["trace_metadata"] == {"mlflow.user": "ann"}
    assert info["tags"]["mlflow.traceName"] == "renamed"
    assert info["tags"]["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    # the UI's view of the spans, read by MLflow's own parser
    from mlflow.entities import TraceData

    artifact = api.get("/ajax-api/2.0/mlflow/get-trace-artifact", params={"request_id": trace_id})
    assert artifact.status_code == 200, artifact.text
    (span,) = TraceData.from_dict(artifact.json()).spans
    assert span.name == "root" and span.inputs == {"q": "hi"} and span.trace_id == trace_id


def test_bad_trace_info_is_refused(api: SyncClient) -> None:
    experiment_id = _experiment(api, "bad-info")
    location = {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}
    base = {
        "trace_id": "tr-" + "a" * 32,
        "trace_location": location,
        "request_time": "2025-01-01T00:00:00Z",
        "state": "OK",
    }
    for change, words in (
        ({"trace_id": "../etc/passwd"}, "a trace id is"),
        ({"request_time": "yesterday"}, "RFC 3339"),
        ({"request_time": 2**62}, "the year 10000"),
        ({"execution_duration": 2**62}, "milliseconds"),
        ({"execution_duration": "5 minutes"}, "duration"),
        ({"state": "DONE"}, "trace state must be one of"),
        ({"trace_location": {"type": "INFERENCE_TABLE"}}, "other locations are not supported"),
        ({"tags": {"k": 5}}, "object of strings"),
        ({"request_preview": 42}, "expected a string"),
        ({"client_request_id": {"a": 1}}, "expected a string"),
        ({"request_preview": "x" * 70_000}, "request_preview is 70000 characters"),
    ):
        sent = api.request("POST", f"{V3}/traces", json={"trace": {"trace_info": {**base, **change}}})
        assert words in _error(sent, 400, "INVALID_PARAMETER_VALUE"), change
    gone = {**base, "trace_location": {"mlflow_experiment": {"experiment_id": "987654"}}}
    _error(
        api.request("POST", f"{V3}/traces", json={"trace": {"trace_info": gone}}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_bad_otlp_bodies(api: SyncClient) -> None:
    experiment_id = _experiment(api, "bad-otlp")
    good = _otlp(_span(uuid.uuid4().hex, "00000000000000b1"))
    no_header = api.request("POST", "/v1/traces", json=good)
    assert "x-mlflow-experiment-id" in _error(no_header, 400, "INVALID_PARAMETER_VALUE")
    _error(_send(api, "987654", good), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(_send(api, "not-a-number", good), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(_send(api, "9" * 40, good), 404, "RESOURCE_DOES_NOT_EXIST")
    odd = api.request(
        "POST",
        "/v1/traces",
        content=b"<xml/>",
        headers={"x-mlflow-experiment-id": experiment_id, "content-type": "application/xml"},
    )
    assert "application/x-protobuf or application/json" in _error(odd, 400, "INVALID_PARAMETER_VALUE")
    unzipped = api.request(
        "POST",
        "/v1/traces",
        content=b"not gzip",
        headers={
            "x-mlflow-experiment-id": experiment_id,
            "content-type": "application/json",
            "content-encoding": "gzip",
        },
    )
    assert "not valid gzip" in _error(unzipped, 400, "INVALID_PARAMETER_VALUE")
    zipped = api.request(
        "POST",
        "/v1/traces",
        content=gzip.compress(httpx.Request("POST", "/", json=good).content),
        headers={
            "x-mlflow-experiment-id": experiment_id,
            "content-type": "application/json",
            "content-encoding": "gzip",
        },
    )
    assert zipped.status_code == 200, zipped.text


def test_oversized_bodies_are_413_never_500(api: SyncClient) -> None:
    experiment_id = _experiment(api, "big")
    huge = _otlp(_span(uuid.uuid4().hex, "00000000000000c1", name="x" * (MAX_JSON + 10)))
    _error(_send(api, experiment_id, huge), 413, "PAYLOAD_TOO_LARGE")  # the guard's, MLflow-shaped
    bomb = gzip.compress(b" " * (MAX_JSON * 4))  # small on the wire, large inflated
    inflated = api.request(
        "POST",
        "/v1/traces",
        content=bomb,
        headers={
            "x-mlflow-experiment-id": experiment_id,
            "content-type": "application/json",
            "content-encoding": "gzip",
        },
    )
    assert inflated.status_code == 413, inflated.text


def test_unknown_things_answer_mlflows_errors(api: SyncClient) -> None:
    experiment_id = _experiment(api, "unknown")
    trace_id = _trace(api, experiment_id)
    missing = "tr-" + "f" * 32
    assert (
        _error(api.get(f"{V3}/traces/{missing}"), 404, "RESOURCE_DOES_NOT_EXIST")
        == f"Trace with ID '{missing}' not found."
    )
    _error(api.get(f"{V3}/traces/get", params={"trace_id": missing}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert (
        api.get(f"{V3}/traces/batchGet", params={"trace_ids": [missing, trace_id]}).json()["traces"][0][
            "trace_info"
        ]["trace_id"]
        == trace_id
    )
    gone = api.get(f"{V3}/traces/{trace_id}/assessments/a-nope")
    assert (
        _error(gone, 404, "RESOURCE_DOES_NOT_EXIST")
        == f"Assessment with ID 'a-nope' not found for trace '{trace_id}'"
    )
    no_tag = api.request("DELETE", f"/api/2.0/mlflow/traces/{trace_id}/tags", json={"key": "nope"})
    assert "No trace tag with key 'nope'" in _error(no_tag, 404, "RESOURCE_DOES_NOT_EXIST")
    link = api.request(
        "POST", "/api/2.0/mlflow/traces/link-to-run", json={"trace_ids": [trace_id], "run_id": "f" * 32}
    )
    _error(link, 404, "RESOURCE_DOES_NOT_EXIST")


def test_bad_requests_are_400s(api: SyncClient) -> None:
    experiment_id = _experiment(api, "bad-requests")
    trace_id = _trace(api, experiment_id)
    location = [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}]
    search = f"{V3}/traces/search"
    for body, words in (
        ({"locations": location, "max_results": 501}, "max_results must be between 1 and 500"),
        ({"locations": location, "page_token": "bogus"}, "page_token"),
        ({"locations": location, "filter": "trace.colour = 'red'"}, "unknown trace attribute 'colour'"),
        ({"locations": location, "order_by": ["span.name"]}, "cannot order traces"),
        ({"locations": []}, "at least one experiment"),
        ({"locations": [{"type": "UC_SCHEMA"}]}, "MLflow experiments only"),
    ):
        assert words in _error(api.request("POST", search, json=body), 400, "INVALID_PARAMETER_VALUE"), body
    for weird in ("abc", "9" * 40, "-1"):
        body = {"locations": [{"mlflow_experiment": {"experiment_id": weird}}]}
        _error(api.request("POST", search, json=body), 404, "RESOURCE_DOES_NOT_EXIST")
    delete = "/api/2.0/mlflow/traces/delete-traces"
    neither = api.request("POST", delete, json={"experiment_id": experiment_id})
    assert "Exactly one of" in _error(neither, 400, "INVALID_PARAMETER_VALUE")
    zero = api.request(
        "POST", delete, json={"experiment_id": experiment_id, "max_timestamp_millis": 1, "max_traces": 0}
    )
    assert "max_traces" in _error(zero, 400, "INVALID_PARAMETER_VALUE")
    many = api.request(
        "POST", "/api/2.0/mlflow/traces/link-to-run", json={"trace_ids": ["t"] * 101, "run_id": "r"}
    )
    assert "Cannot link more than 100 traces" in _error(many, 400, "INVALID_PARAMETER_VALUE")
    assessments = f"{V3}/traces/{trace_id}/assessments"
    for body, words in (
        ({"assessment": {"assessment_name": "x"}}, "neither"),
        (
            {
                "assessment": {
                    "assessment_name": "x",
                    "feedback": {"value": 1},
                    "source": {"source_type": "ROBOT"},
                }
            },
            "source_type",
        ),
        ({"assessment": {"assessment_name": "", "feedback": {"value": 1}}}, "name of 1-256"),
        (
            {"assessment": {"assessment_name": "x", "feedback": {"value": 1}, "span_id": 7}},
            "expected a string",
        ),
        (
            {"assessment": {"assessment_name": "x", "feedback": {"value": 1}, "span_id": "s" * 65}},
            "at most 64",
        ),
        (
            {"assessment": {"assessment_name": "x", "feedback": {"value": 1}, "rationale": ["no"]}},
            "expected a string",
        ),
        ({"assessment": {"assessment_name": "x", "feedback": {"value": "v" * 1_100_000}}}, None),
    ):
        sent = api.request("POST", assessments, json=body)
        if words is None:
            assert sent.status_code == 413  # past the server's JSON limit before it is read
        else:
            assert words in _error(sent, 400, "INVALID_PARAMETER_VALUE"), body
    made = api.request(
        "POST", assessments, json={"assessment": {"assessment_name": "x", "feedback": {"value": 1}}}
    )
    assessment_id = made.json()["assessment"]["assessment_id"]
    wrong_kind = api.request(
        "PATCH",
        f"{assessments}/{assessment_id}",
        json={"assessment": {"expectation": {"value": 2}}, "update_mask": "expectation"},
    )
    assert "Cannot update assessment type" in _error(wrong_kind, 400, "INVALID_PARAMETER_VALUE")
    not_a_name = api.request(
        "PATCH",
        f"{assessments}/{assessment_id}",
        json={
            "assessment": {"assessment_name": 5, "rationale": 6},
            "update_mask": "assessmentName,rationale",
        },
    )
    _error(not_a_name, 400, "INVALID_PARAMETER_VALUE")
    renamed = api.request(
        "PATCH",
        f"{assessments}/{assessment_id}",
        json={
            "assessment": {"assessment_name": "y", "rationale": "why"},
            "update_mask": "assessmentName,rationale",
        },
    )
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["assessment"]["assessment_name"], renamed.json()["assessment"]["rationale"]) == (
        "y",
        "why",
    )


def test_traces_stay_in_their_workspace(api: SyncClient) -> None:
    experiment_id = _experiment(api, "mine")
    trace_id = _trace(api, experiment_id)
    other = {"Shipyard-Workspace": "other"}
    _experiment(api, "theirs", **other)
    _error(api.get(f"{V3}/traces/{trace_id}", headers=other), 404, "RESOURCE_DOES_NOT_EXIST")
    tag = api.request(
        "PATCH", f"/api/2.0/mlflow/traces/{trace_id}/tags", json={"key": "k", "value": "v"}, headers=other
    )
    _error(tag, 404, "RESOURCE_DOES_NOT_EXIST")
    infos = api.request("POST", f"{V3}/traces/batchGetInfos", json={"trace_ids": [trace_id]}, headers=other)
    assert infos.json() == {"trace_infos": []}
    # nor can another workspace write into it, by spans or by trace info
    theirs = _experiment(api, "theirs-2", **other)
    hijack = _send(api, theirs, _otlp(_span(trace_id[3:], "00000000000000e1", name="evil")), **other)
    assert "already in use" in _error(hijack, 400, "RESOURCE_ALREADY_EXISTS")
    info = {
        "trace_id": trace_id,
        "trace_location": {"mlflow_experiment": {"experiment_id": theirs}},
        "request_time": "2025-01-01T00:00:00Z",
        "state": "OK",
        "tags": {"mlflow.traceName": "evil"},
    }
    overwrite = api.request("POST", f"{V3}/traces", json={"trace": {"trace_info": info}}, headers=other)
    _error(overwrite, 400, "RESOURCE_ALREADY_EXISTS")
    mine = api.get(f"{V3}/traces/get", params={"trace_id": trace_id}).json()["trace"]
    assert mine["trace_info"]["tags"]["mlflow.traceName"] == "root" and len(mine["spans"]) == 1
    # spans for a trace id another workspace holds do not join it
    search = api.request(
        "POST",
        f"{V3}/traces/search",
        json={"locations": [{"mlflow_experiment": {"experiment_id": experiment_id}}]},
        headers=other,
    )
    _error(search, 404, "RESOURCE_DOES_NOT_EXIST")


def test_a_large_span_payload_is_kept_by_backup_and_gc(api: SyncClient, database_url: str) -> None:
    """Past 64 KB a span's payload is a file under the experiment's folder: backup must take
    it and gc must keep it, as for any key a record names."""
    from shipyard.services.backup_refs import KeyKind, References
    from shipyard.stores.sql.backup_store import SqlMetadataStore

    experiment_id = _experiment(api, "large-span")
    trace_hex = uuid.uuid4().hex
    big = {"key": "mlflow.spanOutputs", "value": {"stringValue": "y" * 100_000}}
    assert (
        _send(api, experiment_id, _otlp(_span(trace_hex, "00000000000000d1", attributes=[big]))).status_code
        == 200
    )
    (span,) = api.get(f"{V3}/traces/get", params={"trace_id": f"tr-{trace_hex}"}).json()["trace"]["spans"]
    assert {"key": "mlflow.spanOutputs", "value": {"string_value": "y" * 100_000}} in span["attributes"]
    store = SqlMetadataStore(database_url)
    with store.snapshot() as snapshot:
        roots = snapshot.artifact_roots()
    (key,) = [k for k in roots.keys if k.endswith(f"tr-{trace_hex}/spans/00000000000000d1.json")]
    assert References(roots, frozenset()).kind(key) == KeyKind.REFERENCED
    deleted = api.request(
        "POST",
        "/api/2.0/mlflow/traces/delete-traces",
        json={"experiment_id": experiment_id, "request_ids": [f"tr-{trace_hex}"]},
    )
    assert deleted.json() == {"traces_deleted": 1}
    with store.snapshot() as snapshot:
        assert key not in snapshot.artifact_roots().keys
    store.engine.dispose()
