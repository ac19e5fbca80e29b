"""The lineage page and the model card page, in-process: the lineage world of
tests/integration/test_lineage.py (names prefixed ``pg-``) in the shared studio app."""

from __future__ import annotations

import re
from typing import Any

import pytest

from shipyard.domain.registry import ModelEvent
from tests.integration.studio.conftest import Studio
from tests.integration.test_lineage import ADMIN, COMMIT, NOW, _version, make_world


@pytest.fixture(scope="module")
def world(studio: Studio) -> dict[str, str]:
    app: Any = studio.app
    runs = make_world(app, "pg-")
    logged = studio.owner.request(
        "POST", "/api/2.0/mlflow/runs/log-metric",
        json={"run_id": runs["train"], "key": "val_acc", "value": 0.8, "timestamp": NOW, "step": 0},
    )  # fmt: skip
    assert logged.status_code == 200, logged.text
    registry = app.state.services.registry
    with app.state.database.write() as uow:
        model_id = uow.models.model_id("default", "pg-credit")
        uow.models.create_version(model_id, _version("pg-credit", 3, runs["train"]), "admin", NOW)
        ws = uow.workspaces.ensure("default", "admin", NOW)
        uow.models.add_event(
            ModelEvent(0, "pg-credit", 3, "promotion_approved", {"alias": "champion"}, "bob", NOW + 5), ws
        )
    registry.set_alias(ADMIN, "pg-credit", "champion", 1)
    registry.set_alias(ADMIN, "pg-credit", "champion", 3)
    return runs


def test_the_lineage_page_draws_the_graph_with_a_link_per_box(studio: Studio, world: dict[str, str]) -> None:
    page = studio.browser.get("/studio/lineage", params={"node": "model:pg-credit:1"})
    assert page.status_code == 200, page.text
    html = page.text
    assert "<svg" in html and "<script" not in html.split('id="lineage-graph"')[1].split("</svg>")[0]
    for href in (
        "/studio/data/pg-credit-data?version=1",
        "/studio/jobs/pg-train-1",
        f"/studio/runs/{world['train']}",
        "/studio/models/pg-credit/versions/1",
        "/studio/endpoints/pg-credit",
        "/studio/monitors/pg-credit-drift",
        "/studio/jobs/pg-retrain-1",
    ):
        assert f'href="{href}"' in html, href
    assert html.count('class="lineage-edge"') >= 7
    # Columns left to right: data, job, run, model, deployment, monitor, retraining job.
    xs = {
        node: int(re.search(rf'data-node="{re.escape(node)}"><rect x="(\d+)"', html).group(1))  # type: ignore[union-attr]
        for node in ("data:pg-credit-data:1", "job:pg-train-1", "model:pg-credit:1", "deployment:pg-credit/blue",
                     "monitor:pg-credit-drift", "job:pg-retrain-1")
    }  # fmt: skip
    assert list(xs.values()) == sorted(xs.values()) and len(set(xs.values())) == len(xs)
    assert "flowchart LR" in html  # the Mermaid to paste into a PR


def test_the_lineage_page_without_a_node_asks_for_one(studio: Studio) -> None:
    page = studio.browser.get("/studio/lineage")
    assert page.status_code == 200
    assert "model:NAME:VERSION" in page.text and "<svg" not in page.text


def test_the_lineage_page_shows_the_apis_error_for_a_bad_or_unknown_node(studio: Studio) -> None:
    bad = studio.browser.get("/studio/lineage", params={"node": "model:pg-credit"})
    assert bad.status_code == 400
    assert "INVALID_ARGUMENT" in bad.text and "not a model node id" in bad.text
    unknown = studio.browser.get("/studio/lineage", params={"node": "model:pg-credit:99"})
    assert unknown.status_code == 404


def test_the_lineage_page_hides_what_the_reader_may_not_read(studio: Studio, world: dict[str, str]) -> None:
    engineer = studio.client_for("data-engineer")
    page = engineer.get("/studio/lineage", params={"node": "model:pg-credit:1"})
    assert page.status_code == 200
    assert "pg-credit/blue" not in page.text and "pg-credit-drift" not in page.text
    refused = engineer.get("/studio/lineage", params={"node": "deployment:pg-credit/blue"})
    assert refused.status_code == 403


def test_version_and_run_pages_link_to_the_lineage(studio: Studio, world: dict[str, str]) -> None:
    version = studio.browser.get("/studio/models/pg-credit/versions/1")
    assert 'href="/studio/lineage?node=model%3Apg-credit%3A1"' in version.text
    assert 'href="/studio/models/pg-credit/versions/1/card"' in version.text
    run = studio.browser.get(f"/studio/runs/{world['train']}")
    assert f'href="/studio/lineage?node=run%3A{world["train"]}"' in run.text


def test_the_model_card_shows_lineage_metrics_evaluation_approvals_and_aliases(
    studio: Studio, world: dict[str, str]
) -> None:
    page = studio.browser.get("/studio/models/pg-credit/versions/3/card")
    assert page.status_code == 200, page.text
    html = page.text
    assert html.startswith("<!doctype html>") and "<style>" in html and "<script" not in html
    assert "stylesheet" not in html  # self-contained
    assert "@media print" in html
    assert "data:pg-credit-data:1" in html and "job:pg-train-1" in html
    assert "val_acc" in html and COMMIT in html
    assert "version 1, @champion before version 3 took it" in html
    assert 'id="evaluation-table"' in html.replace("'", '"')
    approvals = html.split("id='approval-events'")[1].split("</table>")[0]
    assert "promotion_approved" in approvals and "bob" in approvals
    aliases = html.split("id='alias-events'")[1].split("</table>")[0]
    assert aliases.count("alias_set") == 2


def test_the_model_card_of_a_version_whose_run_is_unknown_says_so(
    studio: Studio, world: dict[str, str]
) -> None:
    page = studio.browser.get("/studio/models/pg-credit/versions/2/card")
    assert page.status_code == 200
    assert "run 0123456789abcdef0123456789abcdef" in page.text  # the note: the run cannot be read
    assert "No run: this version was not registered from a run this server holds." in page.text


@pytest.mark.parametrize(("version", "status"), [("abc", 400), ("0", 400), ("99", 404)])
def test_the_model_card_of_a_bad_or_unknown_version_is_an_error_page(
    studio: Studio, world: dict[str, str], version: str, status: int
) -> None:
    assert studio.browser.get(f"/studio/models/pg-credit/versions/{version}/card").status_code == status
