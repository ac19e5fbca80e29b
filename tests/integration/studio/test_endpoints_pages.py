"""The endpoints pages: the online and batch lists, an online endpoint's page (deployments,
traffic and mirror bars, the traffic form, live figures' panel, try-it), their errors as the
API gives them. No deployment can run in this app (its workers are off), so the bars are
also tested as functions over API-shaped answers."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from shipyard.server import scoring_metrics
from shipyard.studio.pages.endpoints import Segment, sample_request, traffic_segments, traffic_summary
from tests.integration.studio.conftest import Studio


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


def test_ops_js_reads_the_metric_families_the_scoring_router_exports(studio: Studio) -> None:
    # ops.js polls /metrics (served where the scoring router runs; not in this API-only app:
    # the page then shows the API's 404 in the panel) and parses these families by name.
    exported = (Path(scoring_metrics.__file__)).read_text()
    script = studio.browser.get("/studio/static/ops.js").text
    for family in (
        "shipyard_endpoint_requests_total",
        "shipyard_endpoint_errors_total",
        "shipyard_endpoint_request_duration_seconds_bucket",
    ):
        assert family.removesuffix("_total").removesuffix("_bucket") in exported and family in script
    assert studio.browser.get("/metrics").status_code == 404
