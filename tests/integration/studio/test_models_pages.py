"""Model registry pages: the models list, a model's versions and alias history, and a version's
lineage (run → job → the data it read), tags, signature and serving; the API's errors shown
as it gave them (404 names the model, 403 names the permission), bad input never a 500."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import pytest

from tests.integration.studio.conftest import Studio

MLMODEL = b"""artifact_path: model
flavors:
  python_function: {loader_module: mlflow.sklearn}
  sklearn: {sklearn_version: 1.5.0}
signature:
  inputs: '[{"type": "double", "name": "sepal_length", "required": true}, {"type": "string", "name": "colour", "required": false}]'
  outputs: '[{"type": "long", "required": true}]'
"""


@dataclass
class Made:
    model: str
    job: str
    job_run: str
    plain_run: str


def _upload_csv(studio: Studio, name: str, text: bytes) -> None:
    digest = hashlib.sha256(text).hexdigest()
    assert studio.owner.request("PUT", f"/api/v1/blobs/{digest}", content=text).status_code in (200, 201)
    snap = studio.owner.request(
        "POST", "/api/v1/snapshots",
        json={"files": [{"path": "iris.csv", "size": len(text), "sha256": digest}]},
    )  # fmt: skip
    assert snap.status_code in (200, 201), snap.text
    made = studio.owner.request(
        "POST", "/api/v1/data", json={"name": name, "type": "uri_file", "snapshot": snap.json()["digest"]}
    )
    assert made.status_code == 201, made.text


@pytest.fixture(scope="module")
def made(studio: Studio) -> Made:
    owner = studio.owner
    _upload_csv(studio, "studio-models-iris", b"sepal_length,colour\n5.1,red\n4.9,blue\n")
    job = owner.request(
        "POST", "/api/v1/jobs",
        json={"spec": {
            "command": "python train.py --data ${{inputs.train}} --lr ${{inputs.lr}}",
            "experiment_name": "studio-models",
            "inputs": {"train": {"type": "uri_file", "path": "azureml:studio-models-iris:1"}, "lr": 0.1},
        }},
    )  # fmt: skip
    assert job.status_code == 201, job.text
    job_run = job.json()["run_id"]
    experiment = job.json()["experiment_id"]
    plain = owner.request(
        "POST", "/api/v1/runs", json={"experiment_id": experiment, "name": "notebook"}
    ).json()
    for run_id in (job_run, plain["id"]):
        put = owner.request("PUT", f"/api/v1/runs/{run_id}/artifacts/model/MLmodel", content=MLMODEL)
        assert put.status_code == 201, put.text
    name = "studio-churn"
    assert (
        owner.request("POST", "/api/v1/models", json={"name": name, "description": "churn model"}).status_code
        == 201
    )
    for run_id, tags in ((plain["id"], {}), (job_run, {"team": "blue", "shipyard.monitor": "churn-drift"})):
        version = owner.request(
            "POST", f"/api/v1/models/{name}/versions",
            json={"run_id": run_id, "artifact_path": "model", "tags": tags},
        )  # fmt: skip
        assert version.status_code == 201, version.text
    for version in (1, 2):
        assert (
            owner.request(
                "PUT", f"/api/v1/models/{name}/aliases/champion", json={"version": version}
            ).status_code
            == 200
        )
    assert owner.request("PUT", f"/api/v1/models/{name}/aliases/old", json={"version": 1}).status_code == 200
    assert owner.request("DELETE", f"/api/v1/models/{name}/aliases/old").status_code == 204
    return Made(name, job.json()["name"], job_run, plain["id"])


@pytest.fixture(scope="module")
def no_registry_role(studio: Studio) -> str:
    """A custom role that may read runs but not the registry (every built-in role reads models)."""
    name = "studio-c-runs-only"
    made = studio.owner.request(
        "POST", "/api/v1/roles", json={"name": name, "permissions": ["experiments:read", "jobs:read"]}
    )
    assert made.status_code in (201, 409), made.text
    return name


def test_the_models_list_shows_latest_version_and_aliases_and_searches(studio: Studio, made: Made) -> None:
    page = studio.browser.get("/studio/models")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert f'href="/studio/models/{made.model}">{made.model}</a>' in page.text
    assert f'href="/studio/models/{made.model}/versions/2">2</a>' in page.text
    assert "@champion</code>&nbsp;→&nbsp;2" in page.text and "@old" not in page.text
    found = studio.browser.get("/studio/models", params={"q": "churn"})
    assert made.model in found.text
    missing = studio.browser.get("/studio/models", params={"q": "no-such-model-xyz"})
    assert missing.status_code == 200 and "No model's name contains" in missing.text


def test_bad_page_values_fall_back_and_an_empty_page_says_so(studio: Studio, made: Made) -> None:
    for bad in ("abc", "-4", "0", "1.5"):
        page = studio.browser.get("/studio/models", params={"page": bad})
        assert page.status_code == 200 and made.model in page.text, bad
    far = studio.browser.get("/studio/models", params={"page": "999"})
    assert far.status_code == 200 and "No models on page 999" in far.text and 'rel="prev"' in far.text


def test_the_model_page_lists_versions_and_who_moved_which_alias_when(studio: Studio, made: Made) -> None:
    page = studio.browser.get(f"/studio/models/{made.model}")
    assert page.status_code == 200
    versions = page.text.split('id="versions-table"')[1].split("</table>")[0]
    assert re.findall(r"/versions/(\d+)\">", versions) == ["2", "1"]  # newest first
    assert (
        f'href="/studio/runs/{made.job_run}"' in versions
        and f'href="/studio/runs/{made.plain_run}"' in versions
    )
    history = page.text.split('id="alias-history"')[1].split("</table>")[0]
    rows = re.findall(r"<code>@(\w+)</code></td>\s*<td>([^<]*)", history)
    assert rows == [
        ("old", "removed from "), ("old", "set to "), ("champion", "moved from 1 to "), ("champion", "set to "),
    ]  # fmt: skip
    assert history.count("<td>admin</td>") == 4
    assert "7 changes, newest first" in page.text and "version created" in page.text


def test_a_version_shows_its_run_job_inputs_tags_and_signature(studio: Studio, made: Made) -> None:
    page = studio.browser.get(f"/studio/models/{made.model}/versions/2")
    assert page.status_code == 200
    assert f'href="/studio/runs/{made.job_run}"' in page.text
    assert f'href="/studio/jobs/{made.job}"' in page.text
    inputs = page.text.split('id="job-inputs"')[1].split("</table>")[0]
    assert '<a href="/studio/data/studio-models-iris?version=1">studio-models-iris:1</a>' in inputs
    assert "<code>lr</code>" in inputs
    assert 'id="monitor-origin"' in page.text and 'href="/studio/monitors/churn-drift"' in page.text
    assert "<code>team</code></th><td>blue</td>" in page.text
    signature = page.text.split('id="signature"')[1]
    assert "<td>sepal_length</td><td><code>double</code>" in signature
    assert '<code>string</code> <span class="muted">optional</span>' in signature
    assert "<code>python_function</code>" in signature and "<code>sklearn</code>" in signature


def test_a_version_logged_outside_a_job_says_so(studio: Studio, made: Made) -> None:
    page = studio.browser.get(f"/studio/models/{made.model}/versions/1")
    assert page.status_code == 200 and f'href="/studio/runs/{made.plain_run}"' in page.text
    assert "not made by a Shipyard job" in page.text and 'id="monitor-origin"' not in page.text
    assert "Not known: no job behind this version" in page.text
    assert "No online deployment serves this version." in page.text


def test_unknown_model_and_version_are_the_apis_404(studio: Studio, made: Made) -> None:
    for path, words in (
        ("/studio/models/no-such-model", "no-such-model"),
        (f"/studio/models/{made.model}/versions/99", "99"),
        ("/studio/models/no-such-model/versions/1", "no-such-model"),
    ):
        page = studio.browser.get(path)
        assert page.status_code == 404, path
        message = re.search(r"<strong>404 (\w+)</strong>: ([^<]*)</p>", page.text)
        assert message and words in message.group(2), (path, page.text[-800:])


def test_a_version_that_is_not_a_number_is_explained_not_a_500(studio: Studio, made: Made) -> None:
    for bad in ("champion", "1.0", "-1", "latest"):
        page = studio.browser.get(f"/studio/models/{made.model}/versions/{bad}")
        assert page.status_code == 400, bad
        assert (
            "a model version is a whole number" in page.text and f"/studio/models/{made.model}" in page.text
        )


def test_a_role_without_models_read_is_told_which_permission_and_roles(
    studio: Studio, made: Made, no_registry_role: str
) -> None:
    browser = studio.client_for(no_registry_role)
    for path in ("/studio/models", f"/studio/models/{made.model}", f"/studio/models/{made.model}/versions/2"):
        page = browser.get(path)
        assert page.status_code == 403, path
        assert (
            "You need a role with <code>models:read</code>" in page.text
            and "<code>reader</code>" in page.text
        )


def test_a_panel_the_caller_may_not_read_shows_the_apis_403_and_the_rest_of_the_page(
    studio: Studio, made: Made
) -> None:
    page = studio.client_for("data-engineer").get(f"/studio/models/{made.model}/versions/2")
    assert page.status_code == 200 and "<td>sepal_length</td>" in page.text
    serving = page.text.split('<h2 id="serving">')[1]
    assert 'class="error"' in serving and "<code>endpoints:read</code>" in serving
    assert f'href="/studio/jobs/{made.job}"' in page.text  # the panels it may read are all there


def test_no_models_yet_is_an_empty_state_not_an_empty_table(studio: Studio) -> None:
    # Workspaces are made by use: a workspace nobody wrote to has no models.
    studio.browser.client.cookies.set("shipyard_workspace", "studio-c-empty")
    try:
        page = studio.browser.get("/studio/models")
    finally:
        studio.browser.client.cookies.delete("shipyard_workspace")
    assert (
        page.status_code == 200 and "No registered models yet" in page.text and 'id="models"' not in page.text
    )


def test_the_deployments_serving_a_version_are_listed_with_their_traffic(studio: Studio, made: Made) -> None:
    endpoint = studio.owner.request(
        "POST", "/api/v1/online-endpoints", json={"spec": {"name": "studio-c-ep"}}
    )
    assert endpoint.status_code == 201, endpoint.text
    deployment = studio.owner.request(
        "POST", "/api/v1/online-endpoints/studio-c-ep/deployments",
        json={"spec": {"name": "blue", "endpoint_name": "studio-c-ep", "model": f"azureml:{made.model}@champion"}},
    )  # fmt: skip
    assert deployment.status_code == 201, deployment.text
    serving = studio.browser.get(f"/studio/models/{made.model}/versions/2").text.split('id="serving-table"')[
        1
    ]
    assert '<a href="/studio/endpoints/studio-c-ep">studio-c-ep</a></td><td>blue</td>' in serving
    other = studio.browser.get(f"/studio/models/{made.model}/versions/1").text
    assert "No online deployment serves this version." in other  # the alias resolved to 2, not 1


def test_a_malformed_mlmodel_gives_an_empty_signature_not_an_error() -> None:
    from shipyard.studio.mlmodel import signature_of as _signature

    for text in ("flavors: [a, b]\nsignature: nope", ": : :", "signature:\n  inputs: '[not json'", "- 1"):
        found = _signature(text)
        assert found.get("inputs", []) == [] and found.get("flavors", []) == [], text
    assert _signature(MLMODEL.decode())["outputs"] == [{"type": "long", "required": True}]
