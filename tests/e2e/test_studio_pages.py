"""Every studio page in headless Chromium against the server the monitoring loop filled —
the demo's steps 10-12 (tests/e2e/conftest.py ``credit_server``: a data asset, a training job,
model versions, an online endpoint with its deployment, a monitor with runs and the retraining
it caused): each page loads with no script error and no error panel, its charts draw, and a
screenshot of it is kept under test-artifacts/studio/. The traffic form moves the split of a
real endpoint.

It sorts after test_monitor_loop.py, so the monitor has runs; run alone, it runs the monitor
itself first.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import AUTH, ServerProcess
from tests.e2e.studio.conftest import launch, screenshot, sign_in
from tests.e2e.test_monitor_loop import EXAMPLE, _collected, _ok, _send, _wait

pytestmark = pytest.mark.slow

Credit = tuple[ServerProcess, str, Path]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def filled(credit_server: Credit) -> dict[str, Any]:
    """What the pages will show: ids and names read through the API."""
    server, key, tmp = credit_server
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as http:
        monitors = http.get("/api/v1/monitors").json()["monitors"]
        if not monitors:  # run alone: traffic, then a monitor of the deployment, run once
            sent = _send(server, key, shift=False, seed=21)
            _wait(lambda: _collected(server) >= sent, 30, "the traffic to be collected")
            spec = (EXAMPLE / "monitor.yml").read_text()
            spec = re.sub(r"      action:\n        job: .*\n", "", spec)
            spec = re.sub(r"  alert_notification:\n    emails: .*\n", "", spec)
            file = tmp / "studio-monitor.yml"
            file.write_text(spec)
            _ok("schedule", "create", "-f", str(file), url=server.url)
            name = http.get("/api/v1/monitors").json()["monitors"][0]["name"]
            _ok("monitor", "run", "-n", name, url=server.url)
            monitors = http.get("/api/v1/monitors").json()["monitors"]
        jobs = http.get("/api/v1/jobs", params={"max_results": 100}).json()["jobs"]
        train = next(j for j in jobs if j.get("run_id") and j.get("type", "command") == "command")
        run = http.get(f"/api/v1/runs/{train['run_id']}").json()
    # The loop's own monitor, which has run (others made by the bad-input tests never did).
    names = [m["name"] for m in monitors]
    return {
        "experiment_id": run["experiment_id"],
        "run_id": run["id"],
        "job": train["name"],
        "monitor": "credit-monitor" if "credit-monitor" in names else names[0],
    }


def _open(page: Page, path: str, name: str, *, draws: str | None = None) -> None:
    """Load ``path``, fail on any script error or error panel, wait for what it draws, keep a PNG."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    answer = page.goto(path)
    assert answer is not None and answer.status == 200, f"{path}: {answer and answer.status}"
    page.wait_for_load_state("networkidle")
    if draws:
        page.wait_for_selector(draws, state="attached", timeout=15_000)
    # Error panels (an API error, a script's); a monitor's own finding that a signal could not
    # be computed in its newest run (no traffic in the window, say) is the page's content.
    alerts = [
        t
        for t in page.locator(".error[role=alert]:not(.signal-error):visible").all_inner_texts()
        if t.strip()
    ]
    assert alerts == [], f"{path} shows an error: {alerts}"
    assert errors == [], f"{path}: script errors {errors}"
    screenshot(page, f"page-{name}")


def _pages(filled: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    experiment, run = filled["experiment_id"], filled["run_id"]
    return [
        ("experiments", "/studio/experiments", "#experiments tbody tr"),
        ("runs-table", f"/studio/experiments/{experiment}", "table.runs tbody tr"),
        ("run", f"/studio/experiments/{experiment}/runs/{run}", ".chart[data-ready] canvas"),
        ("jobs", "/studio/jobs", "table tbody tr"),
        ("job", f"/studio/jobs/{filled['job']}", None),
        ("models", "/studio/models", "table tbody tr"),
        ("model", "/studio/models/credit", None),
        ("model-version", "/studio/models/credit/versions/1", None),
        ("endpoints", "/studio/endpoints", "table tbody tr"),
        ("endpoint", "/studio/endpoints/credit", "#traffic-form"),
        ("monitors", "/studio/monitors", "table tbody tr"),
        ("monitor", f"/studio/monitors/{filled['monitor']}", ".monitor-chart canvas"),
        ("data", "/studio/data", "table tbody tr"),
        ("data-asset", "/studio/data/credit", None),
    ]


def test_every_page_loads_and_draws_on_a_filled_server(
    chromium: Browser, credit_server: Credit, filled: dict[str, Any]
) -> None:
    server = credit_server[0]
    context = chromium.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        sign_in(page)
        for name, path, draws in _pages(filled):
            _open(page, path, name, draws=draws)
    finally:
        context.close()


def test_no_page_breaks_at_phone_width(
    chromium: Browser, credit_server: Credit, filled: dict[str, Any]
) -> None:
    """At 390 px the body never scrolls sideways: wide tables and charts scroll in their panel."""
    server = credit_server[0]
    context = chromium.new_context(base_url=server.url, viewport={"width": 390, "height": 844})
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        sign_in(page)
        wide = []
        for name, path, draws in _pages(filled):
            page.goto(path)
            page.wait_for_load_state("networkidle")
            if draws:
                page.wait_for_selector(draws, state="attached")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if overflow > 1:
                wide.append(f"{path}: {overflow}px too wide")
                screenshot(page, f"page-{name}-390-too-wide")
        assert wide == []
    finally:
        context.close()


def test_the_traffic_form_changes_the_split(
    chromium: Browser, credit_server: Credit, filled: dict[str, Any]
) -> None:
    server, _, tmp = credit_server
    green = tmp / "green.yml"
    green.write_text((EXAMPLE / "blue.yml").read_text().replace("name: blue", "name: green"))
    _ok("online-deployment", "create", "-f", str(green), url=server.url)
    context = chromium.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        sign_in(page, "/studio/endpoints/credit")
        form = page.locator("#traffic-form")
        form.locator("input[data-deployment=blue]").fill("70")
        form.locator("input[data-deployment=green]").fill("20")
        form.locator("button[type=submit]").click()
        # the sum is checked in the page, with a clear message, before anything is sent
        assert "100" in form.locator(".form-error").inner_text()
        form.locator("input[data-deployment=green]").fill("30")
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as http:
            assert http.get("/api/v1/online-endpoints/credit").json()["traffic"] == {"blue": 70, "green": 30}
        assert page.locator("input[data-deployment=green]").input_value() == "30"
        # live figures per deployment (the per-minute API) are drawn, and try-it scores the
        # sample the page built from the model's signature, with the endpoint's key
        page.wait_for_function(
            "document.querySelector('#chart-rate canvas') || document.body.innerText.includes('No requests in the last')"
        )
        try_form = page.locator("#try-form")
        assert try_form.locator("#try-sample-note").get_attribute("data-signature") == "yes"
        try_form.locator("button[type=submit]").click()
        page.wait_for_selector("#try-form .try-answer:not([hidden])")
        assert "200" in try_form.locator(".try-status").inner_text()
        assert json.loads(try_form.locator(".try-output").inner_text()) in ([0], [1])  # one row scored
        screenshot(page, "page-endpoint-traffic")
    finally:
        context.close()
        # what later tests of this server expect: blue alone
        _ok("online-endpoint", "update", "-n", "credit", "--traffic", "blue=100 green=0", url=server.url)
        _ok("online-deployment", "delete", "-n", "green", "-e", "credit", "--yes", url=server.url)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            listed = json.loads(
                _ok("online-deployment", "list", "-e", "credit", "-o", "json", url=server.url)
            )
            if [d["name"] for d in listed] == ["blue"]:
                break
            time.sleep(0.5)
