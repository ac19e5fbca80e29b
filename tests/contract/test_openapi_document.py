"""The OpenAPI document says what the server answers: each operation's error statuses (from
its rule in server/access.py), the content types of binary and text answers, and no $ref
to a schema it does not define. `openapi --check` refuses a document that lies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shipyard.server import openapi
from shipyard.server.contract import problems

DOCUMENT = Path(__file__).parents[2] / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _statuses(spec: dict[str, Any], method: str, path: str) -> list[str]:
    return sorted(spec["paths"][path][method]["responses"])


def test_a_change_lists_every_status_it_may_answer(spec: dict[str, Any]) -> None:
    assert _statuses(spec, "post", "/api/v1/experiments") == [
        "201", "400", "401", "403", "404", "409", "413", "415", "500", "503",
    ]  # fmt: skip
    answer = spec["paths"]["/api/v1/experiments"]["post"]["responses"]["409"]
    assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}
    assert "`ALREADY_EXISTS`" in answer["description"]
    assert (
        "Needs `experiments:write`"
        in spec["paths"]["/api/v1/experiments"]["post"]["responses"]["403"]["description"]
    )


def test_a_read_lists_no_conflict_and_a_public_route_no_sign_in(spec: dict[str, Any]) -> None:
    assert _statuses(spec, "get", "/api/v1/experiments/{experiment_id}") == [
        "200", "400", "401", "403", "404", "500", "503",
    ]  # fmt: skip
    assert _statuses(spec, "post", "/api/v1/runs/search") == [
        "200", "400", "401", "403", "404", "413", "415", "500", "503",
    ]  # fmt: skip
    assert _statuses(spec, "get", "/healthz") == ["200", "400", "403", "500", "503"]


def test_no_operation_lists_422_which_the_server_never_answers(spec: dict[str, Any]) -> None:
    listed = [
        f"{method} {path}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if "422" in operation["responses"]
    ]
    assert listed == []
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_uploads_take_raw_bytes_and_downloads_answer_them(spec: dict[str, Any]) -> None:
    binary = {"schema": {"format": "binary", "type": "string"}}
    for path in ("/api/v1/runs/{run_id}/artifacts/{path}", "/api/v1/blobs/{sha256}"):
        assert spec["paths"][path]["put"]["requestBody"]["content"] == {"application/octet-stream": binary}
    for path in (
        "/api/v1/runs/{run_id}/artifacts/{path}",
        "/api/v1/blobs/{sha256}",
        "/api/v1/snapshots/{digest}/files/{path}",
    ):
        assert spec["paths"][path]["get"]["responses"]["200"]["content"] == {
            "application/octet-stream": binary
        }
    logs = spec["paths"]["/api/v1/jobs/{name}/logs"]["get"]["responses"]["200"]["content"]
    assert logs == {"text/plain": {"schema": {"type": "string"}}}


def test_the_metric_batch_body_is_defined_and_nothing_dangles(spec: dict[str, Any]) -> None:
    body = spec["paths"]["/api/v1/runs/{run_id}/metrics"]["post"]["requestBody"]["content"][
        "application/json"
    ]
    assert body["schema"] == {"$ref": "#/components/schemas/MetricBatchIn"}
    assert "MetricSeriesIn" in spec["components"]["schemas"]
    assert problems(spec) == []


def test_the_workspace_header_is_a_documented_parameter(spec: dict[str, Any]) -> None:
    names = [p["name"] for p in spec["paths"]["/api/v1/jobs"]["get"]["parameters"]]
    assert "Shipyard-Workspace" in names


def _broken() -> dict[str, Any]:
    ok = {"application/json": {"schema": {"$ref": "#/components/schemas/Gone"}}}
    return {
        "paths": {
            "/a": {"post": {"responses": {"200": {"content": ok}, "422": {}}}},
            "/b/{f}": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {}}}}}}},
        },
        "components": {"schemas": {}},
    }


def test_problems_names_a_dangling_ref_a_schemaless_answer_and_a_422() -> None:
    found = problems(_broken())
    assert found == [
        "$ref to #/components/schemas/Gone, which the document does not define",
        "POST /a lists 422, which the server never answers (validation errors are 400)",
        "GET /b/{f} answers 200 as JSON with no schema: give the route a response_model, or a"
        " response_class and the content type it really sends (binary, text)",
    ]


def test_check_and_write_refuse_a_document_that_lies(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(openapi, "document", _broken)
    target = tmp_path / "openapi.json"
    target.write_text("{}", encoding="utf-8")
    assert openapi.main(["--check", str(target)]) == 1
    assert "Gone, which the document does not define" in capsys.readouterr().err
    assert openapi.main(["--write", str(target)]) == 1
    assert target.read_text(encoding="utf-8") == "{}"
