"""The endpoints pages: the online and batch lists, an online endpoint's page (deployments,
traffic and mirror bars, the traffic form, live figures' panel, try-it and its sample from the
model's signature), their errors as the API gives them. No deployment can run in this app
(its workers are off): a deployment is written to the store as the API keeps one, and the
bars are also tested as functions over API-shaped answers."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from shipyard.domain.endpoints import Deployment, DeploymentState
from shipyard.server.access import iter_app_routes
from shipyard.studio.pages.endpoints import (
    Segment,
    sample_request,
    signature_request,
    traffic_segments,
    traffic_summary,
)
from tests.integration.studio.conftest import Studio

MLMODEL = b"""artifact_path: model
flavors:
  python_function: {loader_module: mlflow.sklearn}
signature:
  inputs: '[{"type": "double", "name": "income", "required": true}, {"type": "long", "name": "age"},
    {"type": "string", "name": "region", "required": false}, {"type": "boolean", "name": "member"}]'
  outputs: '[{"type": "long", "required": true}]'
"""


def _endpoint(studio: Studio, name: str, **spec: object) -> None:
    made = studio.owner.request("POST", "/api/v1/online-endpoints", json={"spec": {"name": name, **spec}})
    assert made.status_code == 201, made.text


def test_traffic_segments_follow_the_split_in_deployment_order_with_stable_colours() -> None:
    split = {"green": 10, "blue": 90, "red": 0}
    assert traffic_segments(split, ["blue", "green", "red"]) == [
        Segment("blue", 90, 0),
        Segment("green", 10, 1),
    ]
    # A share of a deployment the list lacks (deleted between two reads) is still drawn, last.
    assert traffic_segments({"blue": 50, "gone": 50}, ["blue"]) == [
        Segment("blue", 50, 0),
        Segment("gone", 50, 1),
    ]
    assert traffic_segments({}, ["blue"]) == []
    assert traffic_summary({"blue": 90, "green": 10, "red": 0}) == "blue 90%, green 10%"
    assert traffic_summary({}) == "no traffic"
    assert "input_data" in json.loads(sample_request())


def test_a_column_signature_gives_a_one_row_request_and_a_tensor_one_none() -> None:
    body = signature_request([{"type": "double", "name": "x"}, {"type": "string", "name": "s"}])
    assert body is not None
    assert json.loads(body) == {"input_data": {"columns": ["x", "s"], "index": [0], "data": [[0.0, ""]]}}
    assert (
        signature_request([{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]) is None
    )
    assert signature_request([{"type": "double"}]) is None  # unnamed: a column request cannot name it
    assert signature_request([]) is None


def _deployment(studio: Studio, endpoint: str, name: str, model: dict[str, Any]) -> None:
    """A deployment as the API stores one (Succeeded); nothing runs in this app."""
    found = Deployment(
        endpoint, name, "default", DeploymentState.SUCCEEDED, "", "r1", {}, model, 1, "admin", 1
    )
    with studio.app.state.database.write() as uow:  # type: ignore[attr-defined]
        uow.deployments.create("default", found)


def _model_version(studio: Studio, name: str, mlmodel: bytes | None) -> int:
    owner = studio.owner
    experiment = owner.request("POST", "/api/v1/experiments", json={"name": f"exp-{name}"})
    assert experiment.status_code == 201, experiment.text
    run = owner.request("POST", "/api/v1/runs", json={"experiment_id": experiment.json()["id"]})
    assert run.status_code == 201, run.text
    run_id = run.json()["id"]
    # Without an MLmodel the folder still holds a file: a version needs its artifact to exist.
    path, content = ("model/MLmodel", mlmodel) if mlmodel is not None else ("model/model.pkl", b"pickle")
    put = owner.request("PUT", f"/api/v1/runs/{run_id}/artifacts/{path}", content=content)
    assert put.status_code == 201, put.text
    assert owner.request("POST", "/api/v1/models", json={"name": name}).status_code == 201
    version = owner.request(
        "POST", f"/api/v1/models/{name}/versions", json={"run_id": run_id, "artifact_path": "model"}
    )
    assert version.status_code == 201, version.text
    return int(version.json()["version"])


def _textarea(text: str) -> Any:
    found = re.search(r'<textarea id="try-body"[^>]*>(.*?)</textarea>', text, re.S)
    assert found is not None
    return json.loads(html.unescape(found.group(1)))


def _note(text: str) -> str:
    found = re.search(r'<p id="try-sample-note"[^>]*>(.*?)</p>', text, re.S)
    assert found is not None
    return html.unescape(found.group(1))


def test_try_it_is_prefilled_from_the_served_models_signature(studio: Studio) -> None:
    version = _model_version(studio, "ep-sig-model", MLMODEL)
    _endpoint(studio, "ep-sig")
    _deployment(studio, "ep-sig", "blue", {"kind": "mlflow", "name": "ep-sig-model", "version": version})
    page = studio.browser.get("/studio/endpoints/ep-sig")
    assert page.status_code == 200, page.text
    assert _textarea(page.text) == {
        "input_data": {
            "columns": ["income", "age", "region", "member"],
            "index": [0],
            "data": [[0.0, 0, "", False]],
        }
    }
    assert 'data-signature="yes"' in page.text
    assert f"ep-sig-model v{version} (deployment blue)" in _note(page.text)
    assert 'data-count="1"' in page.text.split('class="cards live-charts"')[1][:40]

    # Who may read endpoints but not the registry gets the page, with the API's refusal as
    # the reason for the placeholder.
    role = studio.owner.request(
        "POST", "/api/v1/roles", json={"name": "studio-f-endpoints-only", "permissions": ["endpoints:read"]}
    )
    assert role.status_code in (201, 409), role.text
    limited = studio.client_for("studio-f-endpoints-only").get("/studio/endpoints/ep-sig")
    assert limited.status_code == 200, limited.text
    assert _textarea(limited.text) == json.loads(sample_request())
    assert "could not be read" in _note(limited.text) and "models:read" in _note(limited.text)


def test_without_a_signature_the_placeholder_stays_and_the_page_says_why(studio: Studio) -> None:
    _endpoint(studio, "ep-nosig")
    page = studio.browser.get("/studio/endpoints/ep-nosig")
    assert _textarea(page.text) == json.loads(sample_request())
    assert "no deployment yet" in _note(page.text) and 'data-signature="no"' in page.text

    version = _model_version(studio, "ep-nosig-model", None)  # a version whose run has no MLmodel
    _deployment(studio, "ep-nosig", "blue", {"kind": "mlflow", "name": "ep-nosig-model", "version": version})
    page = studio.browser.get("/studio/endpoints/ep-nosig")
    assert _textarea(page.text) == json.loads(sample_request())
    assert f"ep-nosig-model v{version} (deployment blue) has no MLmodel" in _note(page.text)

    _deployment(studio, "ep-nosig", "green", {"kind": "custom", "source": "folder"})
    _deployment(studio, "ep-nosig", "gone", {"kind": "mlflow", "name": "no-such-model", "version": 3})
    made = studio.owner.request("PATCH", "/api/v1/online-endpoints/ep-nosig", json={"traffic": {"gone": 100}})
    assert made.status_code == 200, made.text
    page = studio.browser.get("/studio/endpoints/ep-nosig")  # the model of the traffic is not found
    assert page.status_code == 200, page.text
    assert _textarea(page.text) == json.loads(sample_request())
    assert "no-such-model v3 (deployment gone)" in _note(page.text) and "NOT_FOUND" in _note(page.text)


def test_the_lists_show_online_and_batch_endpoints_and_their_empty_states(studio: Studio) -> None:
    page = studio.browser.get("/studio/endpoints")
    assert page.status_code == 200
    if 'data-count="0"' in page.text:  # the package's first endpoints test: empty states
        assert "No online endpoints yet" in page.text or "No batch endpoints yet" in page.text
    _endpoint(studio, "ep-list", auth_mode="key", description="for the list")
    made = studio.owner.request("POST", "/api/v1/batch-endpoints", json={"spec": {"name": "bep-list"}})
    assert made.status_code == 201, made.text
    page = studio.browser.get("/studio/endpoints")
    assert page.status_code == 200
    assert 'href="/studio/endpoints/ep-list"' in page.text
    assert "/endpoints/ep-list/score" in page.text  # the scoring URI the API gives
    assert "no traffic" in page.text
    assert "bep-list" in page.text


def test_an_endpoint_page_shows_its_bars_form_and_try_it(studio: Studio) -> None:
    _endpoint(studio, "ep-page", auth_mode="key", tags={"team": "risk"})
    page = studio.browser.get("/studio/endpoints/ep-page")
    assert page.status_code == 200, page.text
    text = page.text
    assert "<h1>ep-page" in text and "team=risk" in text
    assert "No deployments yet" in text
    assert "No deployment takes traffic" in text and "Nothing is mirrored" in text
    assert 'id="try-form"' in text and "/endpoints/ep-page/score" in text and "endpoints:keys" in text
    assert '<script src="/studio/static/ops.js' in text
    config = json.loads(html.unescape(re.search(r'data-config="([^"]*)"', text).group(1)))  # type: ignore[union-attr]
    assert config == {
        "endpoint": "ep-page", "auth_mode": "key", "workspace": "default", "deployments": [], "traffic": {},
    }  # fmt: skip
    assert studio.browser.get("/studio/static/ops.js").status_code == 200


def test_an_unknown_endpoint_is_the_apis_404(studio: Studio) -> None:
    page = studio.browser.get("/studio/endpoints/no-such-endpoint")
    assert page.status_code == 404
    assert "NOT_FOUND" in page.text and "no-such-endpoint" in page.text


def test_a_role_without_endpoints_read_sees_which_permission_and_roles_allow_it(studio: Studio) -> None:
    _endpoint(studio, "ep-secret")
    browser = studio.client_for("data-engineer")
    listed = browser.get("/studio/endpoints")
    assert listed.status_code == 403
    assert "endpoints:read" in listed.text and "<code>reader</code>" in listed.text
    one = browser.get("/studio/endpoints/ep-secret")
    assert one.status_code == 403 and "endpoints:read" in one.text
    assert "try-form" not in one.text and "Scoring URI" not in one.text


def test_ops_js_draws_the_live_charts_from_the_system_route(studio: Studio) -> None:
    # The charts are drawn in the browser (tests/e2e/studio/); here: the page says where its
    # figures come from, and the path ops.js builds is a route of the API.
    page = studio.browser.get("/studio/endpoints/ep-page")
    assert "/system</code>" in page.text and "every 15 seconds" in page.text
    script = studio.browser.get("/studio/static/ops.js").text
    assert '"/system?minutes="' in script and "No requests in the last hour." in script
    assert '"/metrics"' not in script  # no longer polled: it counts one process only
    routes = {path for method, path, _ in iter_app_routes(studio.app.router.routes) if method == "GET"}  # type: ignore[attr-defined]
    assert "/api/v1/online-endpoints/{name}/deployments/{deployment}/system" in routes
