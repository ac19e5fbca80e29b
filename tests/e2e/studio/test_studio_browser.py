"""The studio in headless Chromium against a real server: sign-in, the runs table's htmx
filter and sorting, compare, MLflow's links, phone width, the keyboard, a 403, dark mode.

What the in-process page tests (tests/integration/studio/) cannot see is checked here: the
token leaving the address bar and the history, the cookie's flags as the browser holds them,
the htmx swap and the pushed URL, uPlot's canvas, layout width, focus order.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import ADMIN_TOKEN, AUTH, ServerProcess
from tests.e2e.studio.conftest import RUNS, Logged, screenshot, sign_in

pytestmark = pytest.mark.slow

ROWS = "table.runs tbody tr:not(:has(td.empty))"


def test_sign_in_link_leaves_no_token_behind(page: Page, context: BrowserContext) -> None:
    sign_in(page, "/studio/experiments")
    expect(page.locator("h1")).to_contain_text("Experiments")
    # The token is gone from the address bar and from the history entry the login page made.
    assert ADMIN_TOKEN not in page.url
    assert ADMIN_TOKEN not in page.evaluate("location.href")
    page.go_back()
    assert ADMIN_TOKEN not in page.evaluate("location.href")
    page.go_forward()
    # The session cookie is HttpOnly and SameSite=Strict: page scripts cannot read it.
    cookies = {c["name"]: c for c in context.cookies()}
    session = [c for c in cookies.values() if c["httpOnly"]]
    assert session, f"no HttpOnly cookie among {sorted(cookies)}"
    assert all(c["sameSite"] == "Strict" for c in session)
    visible = page.evaluate("document.cookie")
    assert all(c["value"] not in visible for c in session)
    assert ADMIN_TOKEN not in visible
    screenshot(page, "experiments")


def test_a_page_without_a_session_asks_to_sign_in(page: Page) -> None:
    page.goto("/studio/experiments")
    expect(page.locator("#login")).to_be_visible()
    page.fill("#token", "shy_not_a_real_token_0000000000000000")
    page.click("#login button[type=submit]")
    expect(page.locator("#login .error")).to_contain_text("not valid")
    screenshot(page, "login-refused")


def test_runs_table_filter_and_sort(page: Page, logged: Logged) -> None:
    sign_in(page, f"/studio/experiments/{logged.experiment_id}")
    rows = page.locator(ROWS)
    expect(rows).to_have_count(RUNS)
    screenshot(page, "experiment-runs")

    # The filter swaps the table in place (htmx) and the URL keeps the view.
    page.evaluate("window.__before = document.querySelector('table.runs')")
    page.fill("#filter", "metrics.acc > 0.5")
    page.press("#filter", "Enter")
    above = sum(1 for i in range(RUNS) if i / (RUNS - 1) > 0.5)
    expect(rows).to_have_count(above)
    assert page.evaluate("window.__before !== document.querySelector('table.runs')")
    assert page.evaluate("typeof window.__before") == "object", "a full reload would drop the marker"
    assert parse_qs(urlsplit(page.url).query)["filter"] == ["metrics.acc > 0.5"]
    screenshot(page, "experiment-filtered")

    # Sorting by a metric column's header: descending first, the best run on top.
    page.locator("table.runs thead a", has_text=re.compile(r"^acc$")).click()
    page.wait_for_url(re.compile(r"order=metrics\.acc"))
    first = page.locator(ROWS).first.locator("td").nth(1)
    expect(first).to_have_text(f"run-{RUNS - 1:02d}")
    expect(rows).to_have_count(above)  # the filter survived the sort


def test_compare_selected_draws_the_curves(page: Page, logged: Logged) -> None:
    # Two runs with curves -> "Compare selected" -> the compare page draws with uPlot.
    sign_in(page, f"/studio/experiments/{logged.experiment_id}?order=attributes.run_name+ASC")
    for run_id in logged.curve_runs[:2]:
        page.check(f"input[name=runs][value='{run_id}']")
    page.click("text=Compare selected")
    page.wait_for_url(re.compile(r"/studio/compare\?"))
    assert sorted(parse_qs(urlsplit(page.url).query)["runs"]) == sorted(logged.curve_runs[:2])
    expect(page.locator("main canvas").first).to_be_visible()
    screenshot(page, "compare")


def test_mlflow_run_link_opens_the_run_page(page: Page, logged: Logged) -> None:
    run_id = logged.runs["run-00"]
    sign_in(page, "/studio/experiments")
    # The link the mlflow client printed when run-00 ended ("View run run-00 at: URL/#/…").
    assert logged.printed_link.endswith(f"/#/experiments/{logged.experiment_id}/runs/{run_id}")
    page.goto(logged.printed_link)
    page.wait_for_url(re.compile(rf"/studio/experiments/{logged.experiment_id}/runs/{run_id}$"))
    expect(page.locator("main")).to_contain_text("run-00")
    expect(page.locator("main canvas").first).to_be_visible()  # its 200-step loss curve
    screenshot(page, "run")


def test_phone_width_and_keyboard(browser: Browser, server: ServerProcess, logged: Logged) -> None:
    phone = browser.new_context(base_url=server.url, viewport={"width": 390, "height": 844})
    try:
        page = phone.new_page()
        for path, name in [
            ("/studio/experiments", "experiments-390"),
            (f"/studio/experiments/{logged.experiment_id}", "experiment-runs-390"),
        ]:
            sign_in(page, path) if name == "experiments-390" else page.goto(path)
            page.wait_for_load_state("load")
            width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1] + 1, f"{path} scrolls sideways at 390 px: {width}"
            screenshot(page, name)
        # Keyboard: the first Tab reaches the skip link, the next ones the brand and the sections.
        page.goto("/studio/experiments")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        expect(page.locator(".skip")).to_be_visible()  # shown when focused
        reached = []
        for _ in range(3):
            page.keyboard.press("Tab")
            reached.append(page.evaluate("document.activeElement.getAttribute('href')"))
        assert reached[:3] == ["/", "/studio/experiments", "/studio/jobs"]
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")  # the skip link moves focus to <main>
        page.wait_for_function("document.activeElement && document.activeElement.id === 'main'")
    finally:
        phone.close()


def test_a_role_that_cannot_read_sees_the_apis_403(page: Page, server: ServerProcess, logged: Logged) -> None:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as owner:
        for method, path, body in [
            ("POST", "/api/v1/roles", {"name": "models-only", "permissions": ["models:read"]}),
            ("POST", "/api/v1/users", {"name": "e2e-models-only"}),
            ("POST", "/api/v1/role-assignments", {"user": "e2e-models-only", "role": "models-only"}),
        ]:
            answer = owner.request(method, path, json=body)
            assert answer.status_code in (200, 201), answer.text
        made = owner.post("/api/v1/tokens", json={"name": "e2e-browser", "user": "e2e-models-only"})
        assert made.status_code == 201, made.text
    sign_in(page, f"/studio/experiments/{logged.experiment_id}", token=made.json()["token"])
    error = page.locator("main .error")
    expect(error).to_contain_text("403")
    expect(error).to_contain_text("experiments:read")
    screenshot(page, "forbidden-403")


def test_dark_mode(browser: Browser, server: ServerProcess, logged: Logged) -> None:
    dark = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 800}, color_scheme="dark"
    )
    try:
        page = dark.new_page()
        sign_in(page, f"/studio/experiments/{logged.experiment_id}")
        expect(page.locator(ROWS)).to_have_count(RUNS)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        channels = [int(x) for x in re.findall(r"\d+", background)[:3]]
        assert sum(channels) < 3 * 128, f"dark scheme, light background {background}"
        screenshot(page, "experiment-runs-dark")
    finally:
        dark.close()
