"""The experiments list and an experiment's runs table: what the API answers, filtered, ordered,
paged and with chosen columns, the view kept in the URL; the API's errors shown as it gave them."""

from __future__ import annotations

import re

import pytest

from tests.integration.studio.conftest import Studio


@pytest.fixture(scope="module")
def experiment(studio: Studio) -> str:
    made = studio.owner.request("POST", "/api/v1/experiments", json={"name": "studio-table"})
    assert made.status_code == 201, made.text
    experiment_id = made.json()["id"]
    for i in range(12):
        run = studio.owner.request(
            "POST", "/api/v1/runs", json={"experiment_id": experiment_id, "name": f"run-{i:02d}"}
        ).json()
        studio.owner.request(
            "POST", f"/api/v1/runs/{run['id']}/params", json={"params": {"lr": str(i / 100)}}
        )
        studio.owner.request(
            "POST", f"/api/v1/runs/{run['id']}/metrics",
            json={"metrics": [{"key": "acc", "steps": [0], "values": [i / 12], "timestamps": [1_700_000_000_000 + i]}]},
        )  # fmt: skip
        studio.owner.request(
            "POST", f"/api/v1/runs/{run['id']}/tags", json={"tags": {"team": "blue" if i % 2 else "red"}}
        )
    return str(experiment_id)


def _rows(html: str) -> list[str]:
    return re.findall(r'/runs/[0-9a-f]+">(run-\d+)</a>', html)


def test_the_experiments_list_links_each_experiment(studio: Studio, experiment: str) -> None:
    page = studio.browser.get("/studio/experiments")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert f'href="/studio/experiments/{experiment}">studio-table</a>' in page.text
    assert studio.browser.get("/").text.count("studio-table") == 1  # / is the same list


def test_the_runs_table_shows_runs_with_metric_and_param_columns(studio: Studio, experiment: str) -> None:
    page = studio.browser.get(f"/studio/experiments/{experiment}")
    assert page.status_code == 200
    assert len(_rows(page.text)) == 12
    assert 'title="metrics.acc"' in page.text and 'title="params.lr"' in page.text


def test_a_filter_in_the_api_grammar_narrows_the_rows_and_stays_in_the_url(
    studio: Studio, experiment: str
) -> None:
    page = studio.browser.get(
        f"/studio/experiments/{experiment}", params={"filter": "metrics.acc > 0.5 and tags.team = 'blue'"}
    )
    names = _rows(page.text)
    assert names and all(int(n[4:]) > 6 and int(n[4:]) % 2 for n in names)
    assert "metrics.acc &gt; 0.5" in page.text  # the box keeps what was typed


def test_ordering_columns_and_page_size_come_from_the_url(studio: Studio, experiment: str) -> None:
    page = studio.browser.get(
        f"/studio/experiments/{experiment}",
        params={"order": "metrics.acc ASC", "cols": "tags.team", "size": 25},
    )
    names = _rows(page.text)
    assert names == sorted(names)
    assert 'title="tags.team"' in page.text and 'title="metrics.acc"' not in page.text
    # a column header sorts by it, descending first, keeping the rest of the view
    assert "order=metrics.acc+DESC" in studio.browser.get(f"/studio/experiments/{experiment}").text


def test_pages_follow_the_api_page_token(studio: Studio, experiment: str) -> None:
    first = studio.browser.get(
        f"/studio/experiments/{experiment}", params={"size": 25, "order": "attributes.run_name ASC"}
    )
    assert len(_rows(first.text)) == 12 and 'rel="next"' not in first.text
    # the API pages at 25 at least; a page token it gave back is followed as is
    answer = studio.owner.request(
        "POST",
        "/api/v1/runs/search",
        json={"experiment_ids": [experiment], "max_results": 5, "order_by": ["attributes.run_name ASC"]},
    ).json()
    second = studio.browser.get(
        f"/studio/experiments/{experiment}",
        params={"page_token": answer["next_page_token"], "order": "attributes.run_name ASC", "size": 25},
    )
    assert second.status_code == 200 and "run-00" not in _rows(second.text)


def test_htmx_requests_get_just_the_table(studio: Studio, experiment: str) -> None:
    part = studio.browser.get(f"/studio/experiments/{experiment}", headers={"HX-Request": "true"})
    assert part.text.lstrip().startswith('<section id="runs"') and "<html" not in part.text


def test_a_filter_the_grammar_refuses_is_shown_beside_the_box(studio: Studio, experiment: str) -> None:
    page = studio.browser.get(f"/studio/experiments/{experiment}", params={"filter": "metrics.acc >>> 1"})
    assert page.status_code == 200
    assert 'role="alert"' in page.text and "INVALID" in page.text
    assert _rows(page.text) == []


@pytest.mark.parametrize(
    ("params", "fine"),
    [({"size": 7}, True), ({"view": "nonsense"}, True), ({"cols": "bogus,metrics."}, True)],
)
def test_odd_view_values_fall_back_to_defaults(
    studio: Studio, experiment: str, params: dict[str, object], fine: bool
) -> None:
    assert studio.browser.get(f"/studio/experiments/{experiment}", params=params).status_code == 200


def test_a_bad_page_token_or_an_unknown_experiment_shows_the_api_error(
    studio: Studio, experiment: str
) -> None:
    page = studio.browser.get(f"/studio/experiments/{experiment}", params={"page_token": "garbage"})
    # a 400 of the search is shown where the rows would be, the rest of the page still works
    assert page.status_code == 200 and 'role="alert"' in page.text and "INVALID_PAGE_TOKEN" in page.text
    missing = studio.browser.get("/studio/experiments/987654")
    assert missing.status_code == 404 and 'role="alert"' in missing.text and "NOT_FOUND" in missing.text


def test_a_user_without_experiments_read_is_told_which_permission_and_roles(
    studio: Studio, experiment: str
) -> None:
    made = studio.owner.request(
        "POST",
        "/api/v1/roles",
        json={"name": "jobs-only", "description": "jobs", "permissions": ["jobs:read"]},
    )
    assert made.status_code == 201, made.text
    page = studio.client_for("jobs-only").get(f"/studio/experiments/{experiment}")
    assert page.status_code == 403
    assert "experiments:read" in page.text and "<code>reader</code>" in page.text
