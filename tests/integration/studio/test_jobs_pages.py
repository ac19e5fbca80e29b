"""The jobs pages: the list (status filter, pages), a job's page (header, timeline, log,
inputs), a pipeline's step graph and a sweep's trials. The studio app runs no job workers:
a submitted job stays queued, which is what the list, header, timeline and graph need; the
graph's layout and the sweep's scatters are checked on data shaped like the API's answers."""

from __future__ import annotations

import re
from typing import Any

import pytest

from shipyard.client.jobs import job_from_json
from shipyard.studio.pages._automl_view import automl_view
from shipyard.studio.pages.jobs import layers, layout_pipeline, pipeline_graph, sweep_scatter, sweep_view
from shipyard.studio.render import env
from tests.integration.studio.conftest import Studio

PIPELINE = {
    "type": "pipeline",
    "display_name": "studio-pipe",
    "jobs": {
        "prep": {"type": "command", "command": "echo a > ${{outputs.clean}}/x", "outputs": {"clean": None}},
        "train": {
            "type": "command", "command": "cat ${{inputs.data}}/x > ${{outputs.model}}/m",
            "inputs": {"data": "${{parent.jobs.prep.outputs.clean}}"}, "outputs": {"model": None},
        },
        "evaluate": {
            "type": "command", "command": "cat ${{inputs.model}}/m ${{inputs.data}}/x",
            "inputs": {"model": "${{parent.jobs.train.outputs.model}}", "data": "${{parent.jobs.prep.outputs.clean}}"},
        },
    },
}  # fmt: skip

SWEEP = {
    "type": "sweep",
    "trial": {"command": "python -c 'print(${{search_space.lr}})'"},
    "sampling_algorithm": "random",
    "search_space": {"lr": {"type": "loguniform", "min_value": -5, "max_value": 0}},
    "objective": {"goal": "maximize", "primary_metric": "acc"},
    "limits": {"max_total_trials": 4},
}


def _submit(studio: Studio, spec: dict[str, Any]) -> dict[str, Any]:
    answer = studio.owner.request("POST", "/api/v1/jobs", json={"spec": spec})
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


@pytest.fixture(scope="module")
def jobs(studio: Studio) -> dict[str, dict[str, Any]]:
    return {
        "command": _submit(studio, {
            "command": "echo ${{inputs.x}} ${{outputs.model}}", "experiment_name": "jobs-studio",
            "display_name": "nightly-train", "inputs": {"x": 3}, "outputs": {"model": {"type": "uri_folder"}},
            "tags": {"shipyard.schedule.name": "nightly", "shipyard.schedule.tick": "2026-01-01T00:00:00+00:00"},
        }),
        "pipeline": _submit(studio, PIPELINE),
        "sweep": _submit(studio, SWEEP),
    }  # fmt: skip


def test_the_list_shows_jobs_with_type_status_experiment_and_who(
    studio: Studio, jobs: dict[str, dict[str, Any]]
) -> None:
    page = studio.browser.get("/studio/jobs")
    assert page.status_code == 200, page.text
    for made in jobs.values():
        assert f'href="/studio/jobs/{made["name"]}"' in page.text
    assert "nightly-train" in page.text and "jobs-studio" in page.text  # display name, experiment name
    row = re.search(
        r"<tr>\s*<td><a href=\"/studio/jobs/{}\".*?</tr>".format(jobs["sweep"]["name"]), page.text, re.S
    )
    assert row and "<td>sweep</td>" in row.group(0) and "Queued" in row.group(0) and "admin" in row.group(0)


def test_the_status_filter_is_the_apis_and_a_bad_one_is_said(
    studio: Studio, jobs: dict[str, dict[str, Any]]
) -> None:
    none = studio.browser.get("/studio/jobs", params={"status": "Completed"})
    assert none.status_code == 200 and 'data-count="0"' in none.text and "No jobs are Completed" in none.text
    queued = studio.browser.get("/studio/jobs", params=[("status", "Queued"), ("status", "Running")])
    assert jobs["command"]["name"] in queued.text
    assert 'value="Queued" checked' in queued.text and 'value="Running" checked' in queued.text
    bad = studio.browser.get("/studio/jobs", params={"status": "Bogus", "size": "abc"})
    assert bad.status_code == 200 and "INVALID_ARGUMENT" in bad.text and "unknown job status" in bad.text


def test_pages_follow_the_apis_tokens_and_a_bad_token_is_a_clear_error(
    studio: Studio, jobs: dict[str, dict[str, Any]]
) -> None:
    first = studio.browser.get("/studio/jobs", params={"size": "25"})
    assert first.status_code == 200
    bad = studio.browser.get("/studio/jobs", params={"page_token": "not-a-token"})
    assert (
        bad.status_code == 200 and "INVALID_PAGE_TOKEN" in bad.text and "Back to the first page" in bad.text
    )
    # Pages of the API's size: 25 rows, a next link carrying the API's token.
    for i in range(26 - len(studio.owner.get("/api/v1/jobs", params={"max_results": 30}).json()["jobs"])):
        _submit(studio, {"command": f"echo {i}"})
    paged = studio.browser.get("/studio/jobs", params={"size": "25"})
    assert 'data-count="25"' in paged.text
    token = re.search(r'href="/studio/jobs\?([^"]+)" rel="next"', paged.text)
    assert token and "page_token=" in token.group(1)
    second = studio.browser.get("/studio/jobs?" + token.group(1).replace("&amp;", "&"))
    assert second.status_code == 200 and "« First page" in second.text


def test_a_job_page_shows_header_timeline_inputs_schedule_and_log(
    studio: Studio, jobs: dict[str, dict[str, Any]]
) -> None:
    made = jobs["command"]
    page = studio.browser.get(f"/studio/jobs/{made['name']}")
    assert page.status_code == 200, page.text
    text = page.text
    assert f'href="/studio/runs/{made["run_id"]}"' in text
    assert "nightly-train" in text and "jobs-studio" in text and "data-job-status>Queued" in text
    timeline = text.split('class="timeline"')[1].split("</ol>")[0]
    assert "NotStarted" in timeline and "Queued" in timeline and "waiting for a slot on compute" in timeline
    assert "fired by schedule <code>nightly</code>" in text
    io = text.split('class="list job-io"')[1].split("</table>")[0]
    assert "<td>x</td><td>input</td>" in io and "literal" in io
    assert f"runs:/{made['run_id']}/outputs/model" in io
    assert '<pre id="log" class="log"' in text and 'data-follow="true"' in text and 'data-offset="0"' in text
    assert "/studio/static/jobs.js?v=" in text
    assert studio.browser.get("/studio/static/jobs.js").status_code == 200


def test_an_unknown_job_is_the_apis_404(studio: Studio) -> None:
    page = studio.browser.get("/studio/jobs/no-such-job")
    assert page.status_code == 404
    assert "no job named &#39;no-such-job&#39;" in page.text and "NOT_FOUND" in page.text


def test_a_role_without_jobs_read_is_told_which_permission_and_roles(
    studio: Studio, jobs: dict[str, dict[str, Any]]
) -> None:
    # Every built-in role reads jobs: a custom role that does not.
    made = studio.owner.request(
        "POST", "/api/v1/roles", json={"name": "no-jobs", "permissions": ["experiments:read"]}
    )
    assert made.status_code in (201, 409), made.text
    browser = studio.client_for("no-jobs")
    for path in ("/studio/jobs", f"/studio/jobs/{jobs['command']['name']}"):
        page = browser.get(path)
        assert page.status_code == 403, page.text
        assert (
            "You need a role with <code>jobs:read</code>" in page.text and "<code>reader</code>" in page.text
        )


def test_a_queued_pipeline_shows_its_step_graph_from_the_spec(
    studio: Studio, jobs: dict[str, dict[str, Any]]
) -> None:
    page = studio.browser.get(f"/studio/jobs/{jobs['pipeline']['name']}")
    assert page.status_code == 200, page.text
    svg = page.text.split('<svg class="dag"')[1].split("</svg>")[0]
    assert svg.count('class="dag-node pending"') == 3  # no server started them: all pending
    assert svg.count('class="dag-edge"') == 3  # prep→train, train→evaluate, prep→evaluate
    assert "prep.clean → train.data" in svg and "train.model → evaluate.model" in svg
    ys = {s: float(re.search(rf'data-step="{s}">\s*<rect x="[\d.]+" y="([\d.]+)"', svg).group(1))  # type: ignore[union-attr]
          for s in ("prep", "train", "evaluate")}  # fmt: skip
    assert ys["prep"] < ys["train"] < ys["evaluate"]


def test_a_queued_sweep_shows_its_search_space_and_no_trials_yet(
    studio: Studio, jobs: dict[str, dict[str, Any]]
) -> None:
    page = studio.browser.get(f"/studio/jobs/{jobs['sweep']['name']}")
    assert page.status_code == 200, page.text
    assert "No trials yet" in page.text and "Search space" in page.text and "loguniform" in page.text
    assert "maximize <code>acc</code>" in page.text


# -- layout and series, on data shaped like the API's answers --------------------------------


def test_longest_path_layering_puts_each_step_below_its_deepest_input() -> None:
    order = ["a", "b", "c", "d", "e"]
    preds = {"b": ["a"], "c": ["b"], "d": ["a", "c"], "e": []}
    assert layers(order, preds) == {"a": 0, "b": 1, "c": 2, "d": 3, "e": 0}
    # A cycle (refused by the server) or an unknown step never loops.
    assert layers(["x", "y"], {"x": ["y"], "y": ["x"]}) == {"x": 0, "y": 0}
    assert layers(["x"], {"x": ["gone"]}) == {"x": 0}


def test_the_graph_layout_keeps_edges_pointing_down_and_rows_centred() -> None:
    upstream = {"b": {"i": ("a", "o")}, "c": {"i": ("a", "o")}, "d": {"x": ("b", "o"), "y": ("c", "o")}}
    graph = layout_pipeline(["a", "b", "c", "d"], upstream, {"b": {"status": "reused", "job": "j-b"}})
    at = {n.step: n for n in graph.nodes}
    assert at["a"].y < at["b"].y == at["c"].y < at["d"].y
    assert at["b"].x < at["c"].x and abs((at["a"].x) - (at["d"].x)) < 1e-6  # a and d centred
    assert len(graph.edges) == 4 and all(e.path.startswith("M") for e in graph.edges)
    assert at["b"].status == "reused" and at["b"].job == "j-b" and at["a"].status == "pending"
    assert graph.width >= 2 * graph.node_w and graph.height > 3 * graph.node_h


def _job(name: str, step: str, status: str, parent: str = "p") -> Any:
    return job_from_json({
        "name": name, "display_name": name, "status": status, "experiment_id": "1", "run_id": "r",
        "compute": "local", "command": "x", "created_at": 1, "created_by": "a", "updated_at": 1,
        "type": "command", "parent": parent, "step": step,
    })  # fmt: skip


def test_the_pipeline_graph_reads_bindings_reuse_and_live_status() -> None:
    spec = {
        "order": ["prep", "train"],
        "steps": {"prep": {"upstream": {}}, "train": {"upstream": {"data": ["prep", "clean"]}}},
    }
    report = {"steps": {
        "prep": {"job": "p-prep", "status": "reused", "why": "reused from old/prep",
                 "reused_from": "old/prep", "source_job": "old-prep"},
        "train": {"job": "p-train", "status": "running", "why": "no earlier run"},
    }}  # fmt: skip
    graph = pipeline_graph(
        spec, report, [_job("p-prep", "prep", "Completed"), _job("p-train", "train", "Running")]
    )
    at = {n.step: n for n in graph.nodes}
    assert (at["prep"].status, at["prep"].reused_from, at["prep"].source_job) == (
        "reused",
        "old/prep",
        "old-prep",
    )
    assert (
        at["train"].status == "running"
        and at["train"].job == "p-train"
        and at["train"].why == "no earlier run"
    )
    assert graph.edges[0].label == "prep.clean → train.data"


TRIALS: list[dict[str, Any]] = [
    {"step": "trial_0", "params": {"lr": 0.001, "mode": "fast"}, "state": "completed", "value": 0.9},
    {"step": "trial_1", "params": {"lr": 0.1, "mode": "slow"}, "state": "stopped", "value": 0.2,
     "stopped_by": "bandit at step 3"},
    {"step": "trial_2", "params": {"lr": 0.01, "mode": "fast"}, "state": "failed", "value": None},
    {"step": "trial_3", "params": {"lr": 0.01, "mode": "slow"}, "state": "completed", "value": 0.5},
]  # fmt: skip


def test_a_scatter_places_trials_by_parameter_and_objective_and_marks_kinds() -> None:
    scatter = sweep_scatter("lr", {"type": "loguniform"}, TRIALS, "acc", "trial_0")
    assert scatter.log and scatter.missing == 1  # the failed trial has no value
    at = {p.trial: p for p in scatter.points}
    assert at["trial_0"].best and at["trial_0"].kind == "completed" and at["trial_1"].kind == "stopped"
    assert at["trial_0"].x < at["trial_3"].x < at["trial_1"].x  # lr grows to the right (log)
    assert (
        abs((at["trial_3"].x - at["trial_0"].x) - (at["trial_1"].x - at["trial_3"].x)) < 0.5
    )  # decades evenly
    assert at["trial_0"].y < at["trial_3"].y < at["trial_1"].y  # higher acc is higher up (smaller y)
    assert "bandit at step 3" in at["trial_1"].title
    modes = sweep_scatter("mode", {"type": "choice", "values": ["slow", "fast"]}, TRIALS, "acc", None)
    assert [label for _, label in modes.x_ticks] == ["slow", "fast"] and not modes.log
    assert sweep_scatter("lr", {}, [], "acc", None).points == []


def test_the_sweep_view_reads_trials_best_and_child_jobs() -> None:
    spec = {"file": {"search_space": {"lr": {"type": "loguniform"}, "mode": {"type": "choice"}},
                     "objective": {"goal": "maximize", "primary_metric": "acc"}}}  # fmt: skip
    report = {"trials": TRIALS, "best": {"trial": "trial_0", "job": "s-trial_0", "value": 0.9},
              "primary_metric": "acc", "goal": "maximize", "summary": ["best: trial_0"]}  # fmt: skip
    view = sweep_view(spec, report, [_job("s-trial_1", "trial_1", "Canceled", "s")])
    assert (
        view.params == ["lr", "mode"]
        and view.metric == "acc"
        and view.best
        and view.best["job"] == "s-trial_0"
    )
    assert [t["job"] for t in view.trials] == [None, "s-trial_1", None, None]
    assert [s.param for s in view.scatters] == ["lr", "mode"]


def test_a_jobs_run_page_shows_the_jobs_timeline_and_log(
    studio: Studio, jobs: dict[str, dict[str, Any]]
) -> None:
    job = jobs["command"]
    experiment = studio.owner.request("POST", "/api/v1/experiments", json={"name": "jobs-run-page"}).json()[
        "id"
    ]
    run = studio.owner.request("POST", "/api/v1/runs", json={"experiment_id": experiment, "name": "r"}).json()
    studio.owner.request(
        "POST", f"/api/v1/runs/{run['id']}/tags", json={"tags": {"shipyard.job.name": job["name"]}}
    )
    page = studio.browser.get(f"/studio/runs/{run['id']}")
    assert page.status_code == 200
    assert 'id="run-job-h"' in page.text and "Status timeline" in page.text
    assert f'data-job="{job["name"]}"' in page.text  # the log, followed by jobs.js while the job runs
    assert "/studio/static/jobs.js" in page.text
    # a job that is gone: its panel says so, the run page still loads
    studio.owner.request(
        "POST", f"/api/v1/runs/{run['id']}/tags", json={"tags": {"shipyard.job.name": "no-such-job"}}
    )
    gone = studio.browser.get(f"/studio/runs/{run['id']}")
    assert gone.status_code == 200 and "NOT_FOUND" in gone.text


AUTOML_REPORT: dict[str, Any] = {
    "primary_metric": "AUC_weighted", "greater_is_better": True, "stopped": "max_trials reached",
    "leaderboard": [
        {"trial": 1, "step": "trial_1", "algorithm": "LightGBM", "params": {"num_leaves": 31}, "score": 0.97,
         "status": "Completed", "duration_s": 4.2, "best": True},
        {"trial": 0, "step": "trial_0", "algorithm": "LogisticRegression", "params": {"C": 1.0}, "score": 0.9,
         "status": "Completed", "duration_s": 2.0, "best": False},
        {"trial": 2, "step": "trial_2", "algorithm": "KNN", "params": {}, "score": None,
         "status": "Failed", "duration_s": 0.0, "best": False, "message": "exit 1"},
    ],
    "model": {"name": "churn", "version": 3},
    "final": {"chosen_model": "VotingEnsemble", "test_metrics": {"AUC_weighted": 0.95},
              "importance": {"tenure": 0.2, "plan": -0.01}},
}  # fmt: skip


def test_an_automl_job_shows_its_leaderboard_model_and_importance() -> None:
    spec = {"settings": {"task": "classification", "target_column_name": "churned",
                         "featurization": {"mode": "auto"}}}  # fmt: skip
    view = automl_view(spec, AUTOML_REPORT, [_job("a-trial_1", "trial_1", "Completed", "a")])
    assert (view.task, view.target, view.metric) == ("classification", "churned", "AUC_weighted")
    assert view.best is not None and view.best["algorithm"] == "LightGBM"
    assert [b.label for b in view.score_bars] == ["trial_1 LightGBM", "trial_0 LogisticRegression"]
    assert view.score_bars[0].width > view.score_bars[1].width
    assert [(b.label, b.value) for b in view.importance] == [("tenure", 0.2), ("plan", -0.01)]
    html = (
        env()
        .get_template("_job_automl.html")
        .render(automl=view, job=_job("a", "", "Completed", ""), children_error=None)
    )
    assert "★ best" in html and 'href="/studio/jobs/a-trial_1"' in html  # the trial links to its job
    assert html.count("<tr") == 1 + 3 + 1  # the leaderboard's head and rows, the test metric
    assert 'href="/studio/models/churn/versions/3"' in html and "VotingEnsemble" in html
    assert "max_trials reached" in html and "exit 1" in html and "tenure" in html
    assert 'id="automl-featurization"' not in html  # no per-column choice in this report


def test_an_automl_job_shows_the_featurization_it_chose_per_column() -> None:
    chosen = [
        {"name": "tenure", "kind": "numeric", "imputer": "mean", "reason": "numbers"},
        {"name": "plan", "kind": "categorical", "encoder": "OneHotEncoder", "reason": "3 values"},
        {"name": "customer_id", "kind": "dropped", "reason": "an id: distinct in every row"},
    ]
    report = {**AUTOML_REPORT, "final": {**AUTOML_REPORT["final"], "featurization": chosen}}
    view = automl_view({"settings": {"featurization": {"mode": "auto"}}}, report, [])
    assert [c["name"] for c in view.columns] == ["tenure", "plan", "customer_id"]
    html = (
        env()
        .get_template("_job_automl.html")
        .render(automl=view, job=_job("a", "", "Completed", ""), children_error=None)
    )
    section = html[html.index('id="automl-featurization"') :]
    assert "<td>plan</td><td>categorical</td><td>OneHotEncoder</td>" in section
    assert "an id: distinct in every row" in section
    assert "featurization.json</code> on the finish step" not in html  # the table replaces the pointer


def test_an_automl_job_without_a_report_yet_says_so() -> None:
    view = automl_view({"settings": {}}, {}, [])
    assert view.rows == [] and view.best is None and view.model is None
    html = (
        env()
        .get_template("_job_automl.html")
        .render(automl=view, job=_job("a", "", "Queued", ""), children_error=None)
    )
    assert "No trials yet" in html
