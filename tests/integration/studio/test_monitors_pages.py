"""The monitors pages: the list (schedule, last run, breaches), a monitor's page (signal
charts against thresholds, drift histograms, breaches and what they triggered, reports),
their errors as the API gives them. Monitor runs need workers this app does not run, so the
charts and histograms are also tested as functions over MonitorDetails-shaped answers."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from shipyard.studio.pages.monitors import details, histogram, monitor_context, signal_charts, trigger_text
from shipyard.studio.render import env
from tests.integration.studio.conftest import Studio

_ROW = {
    "column": "AGE",
    "type": "numerical",
    "metric": "normalized_wasserstein_distance",
    "breach_when": "above",
}


def _run(
    job: str, at: int, value: float | None, threshold: float, *, error: str | None = None
) -> dict[str, Any]:
    breached = value is not None and value > threshold
    rows = [] if error else [{**_ROW, "value": value, "threshold": threshold, "breached": breached}]
    return {
        "job": job, "run_id": f"r-{job}", "status": "Completed", "created_at": at - 5, "generated_at": at,
        "window": {"start": at - 3_600_000, "end": at}, "reference": "credit:1",
        "breached": ["drift"] if breached else [],
        "signals": [{"name": "drift", "type": "data_drift", "breached": breached, "rows": rows,
                     "notes": [], "error": error, "drifted_share": 1.0 if breached else 0.0,
                     "histograms": {"AGE": {"kind": "numerical", "edges": [30.0, 50.0], "reference": [2, 6, 2],
                                            "current": [0, 2, 8], "minimum": 18.0, "maximum": 80.0},
                                    "EDU": {"kind": "categorical", "categories": ["a", "b"], "reference": [5, 5],
                                            "current": [9, 0], "unseen": 3}}}],
        "actions": [{"signal": "drift", "job": "retrain-1", "webhook": {"ok": True, "status": 200, "attempts": 1}}]
        if breached else [],
        "message": None,
    }  # fmt: skip


_DETAILS: dict[str, Any] = {
    "monitor": {"name": "credit-monitor", "enabled": True, "target": "azureml:credit:blue", "signals": ["drift"],
                "trigger": {"type": "recurrence", "frequency": "hour", "interval": 1, "hours": [], "minutes": [],
                            "time_zone": "UTC"},
                "created_by": "admin", "created_at": 1_700_000_000_000},
    # Newest first, as the API answers; the middle run's signal failed.
    "runs": [_run("m-3", 1_700_000_300_000, 0.4, 0.1), _run("m-2", 1_700_000_200_000, None, 0.1, error="no data"),
             _run("m-1", 1_700_000_100_000, 0.05, 0.2)],
}  # fmt: skip


def test_signal_charts_run_oldest_first_with_gaps_thresholds_and_breaches() -> None:
    found = details(_DETAILS)
    assert found.runs[0].signals[0].rows[0].value == 0.4  # nested rows decoded into the shared models
    charts = signal_charts(found)
    assert list(charts) == ["drift"]
    (chart,) = charts["drift"]
    assert chart.title == "AGE · normalized_wasserstein_distance"
    assert chart.x == [1_700_000_100.0, 1_700_000_200.0, 1_700_000_300.0]
    assert chart.values == [0.05, None, 0.4]  # the failed run is a gap, not a zero
    assert chart.threshold == [0.2, 0.2, 0.1]  # carried across the gap, then the newer one
    assert chart.breached == [False, False, True] and chart.ever_breached
    assert json.loads(chart.json())["breach_when"] == "above"
    assert signal_charts(details({**_DETAILS, "runs": []})) == {}


def test_histograms_become_shares_with_closed_end_bins_and_unseen_categories() -> None:
    h = histogram("AGE", _DETAILS["runs"][0]["signals"][0]["histograms"]["AGE"])
    assert [b.label for b in h.bars] == ["18 to 30", "30 to 50", "50 to 80"]
    assert [b.reference for b in h.bars] == [0.2, 0.6, 0.2] and [b.current for b in h.bars] == [0.0, 0.2, 0.8]
    assert h.top == 0.8
    c = histogram("EDU", _DETAILS["runs"][0]["signals"][0]["histograms"]["EDU"])
    assert [(b.label, b.reference, b.current) for b in c.bars] == [("a", 0.5, 1.0), ("b", 0.5, 0.0)]
    assert "3 production values" in c.note
    assert (
        histogram("X", {"kind": "numerical", "edges": [], "reference": [0], "current": [0]}).bars[0].reference
        == 0
    )


def test_the_monitor_page_template_shows_charts_histograms_breaches_and_reports() -> None:
    context = monitor_context(details(_DETAILS), 20, "20")
    page = env().get_template("monitor.html").render(
        request=None, user="admin", auth=True, workspace="default", path="/studio/monitors/credit-monitor",
        csrf_cookie="c", title="credit-monitor", **context,
    )  # fmt: skip
    series = [json.loads(html.unescape(s)) for s in re.findall(r'data-series="([^"]*)"', page)]
    assert [s["values"] for s in series] == [[0.05, None, 0.4]]
    assert page.count('<svg class="hist"') == 2 and "3 production values" in page
    assert "100% of features drifted" in page
    assert 'href="/studio/jobs/retrain-1"' in page and "webhook answered 200" in page
    assert page.count('href="/studio/runs/r-m-3/artifact?path=monitor%2Freport.html"') == 1
    assert "could not be computed" not in page  # the newest run's signal was computed
    assert "no data" in monitor_page_of({**_DETAILS, "runs": _DETAILS["runs"][1:]})


def monitor_page_of(answer: dict[str, Any]) -> str:
    return env().get_template("monitor.html").render(
        request=None, user="admin", auth=True, workspace="default", path="/", csrf_cookie="c", title="t",
        **monitor_context(details(answer), 20, "20"),
    )  # fmt: skip


def test_triggers_in_words() -> None:
    assert (
        trigger_text({"type": "cron", "expression": "0 3 * * *", "time_zone": "UTC"})
        == "cron 0 3 * * * (UTC)"
    )
    assert (
        trigger_text({"type": "recurrence", "frequency": "hour", "interval": 1, "time_zone": "UTC"})
        == "every hour"
    )
    assert (
        trigger_text({"type": "recurrence", "frequency": "day", "interval": 2, "hours": [3], "minutes": [15],
                      "time_zone": "Europe/Paris"})
        == "every 2 days at 03:15 (Europe/Paris)"
    )  # fmt: skip


def _monitor(studio: Studio, name: str) -> None:
    fields = {
        "name": name,
        "trigger": {"type": "recurrence", "frequency": "day", "interval": 1, "schedule": {"hours": [3], "minutes": [15]}},
        "create_monitor": {
            # No deployment can be made in this app, so the signal names its data itself.
            "monitoring_signals": {"drift": {
                "type": "data_drift",
                "reference_data": {"input_data": {"path": "azureml:credit:1", "type": "uri_file"}},
                "production_data": {"input_data": {"path": "azureml:credit-prod:1", "type": "uri_file"}},
            }},
        },
    }  # fmt: skip
    body = {
        "spec": {k: v for k, v in fields.items() if k != "create_monitor"},
        "job": {"spec": {"type": "monitor", "monitor_name": name, "monitor": fields, "actions": {}}, "source": "monitor.yml"},
        "source": "monitor.yml",
    }  # fmt: skip
    made = studio.owner.request("POST", "/api/v1/schedules", json=body)
    assert made.status_code == 201, made.text


def test_the_list_and_a_monitor_that_has_not_run(studio: Studio) -> None:
    page = studio.browser.get("/studio/monitors")
    assert page.status_code == 200
    if 'data-count="0"' in page.text:
        assert "No monitors yet" in page.text
    _monitor(studio, "mon-page")
    page = studio.browser.get("/studio/monitors")
    assert 'href="/studio/monitors/mon-page"' in page.text
    assert "every day at 03:15" in page.text and "not run yet" in page.text
    one = studio.browser.get("/studio/monitors/mon-page")
    assert one.status_code == 200, one.text
    assert "has not run yet" in one.text and "shipyard monitor run -n mon-page" in one.text
    assert "<td>drift</td>" in one.text  # its signals, as the API lists them
    # A bad ?runs= is a sane default said beside the picker, never a 500.
    for bad in ("-1", "abc", "100000"):
        shown = studio.browser.get(f"/studio/monitors/mon-page?runs={bad}")
        assert shown.status_code == 200 and "showing the newest 20" in html.unescape(shown.text)
    assert "showing the newest" not in studio.browser.get("/studio/monitors/mon-page?runs=50").text


def test_an_unknown_monitor_is_the_apis_404(studio: Studio) -> None:
    page = studio.browser.get("/studio/monitors/no-such-monitor")
    assert page.status_code == 404
    assert "NOT_FOUND" in page.text and "no-such-monitor" in page.text


def test_a_role_without_jobs_read_sees_which_permission_and_roles_allow_it(studio: Studio) -> None:
    made = studio.owner.request(
        "POST", "/api/v1/roles", json={"name": "model-reader", "permissions": ["models:read"]}
    )
    assert made.status_code in (201, 409), made.text
    browser = studio.client_for("model-reader")
    for path in ("/studio/monitors", "/studio/monitors/mon-page"):
        page = browser.get(path)
        assert page.status_code == 403, path
        assert "jobs:read" in page.text and re.search(r"<code>(owner|reader)</code>", page.text)
