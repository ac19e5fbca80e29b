"""The studio in headless Chromium against a REAL server (auth on, the owner token of
tests/conftest.py): what only a browser shows — htmx swaps, the session cookie's flags,
the token leaving the address bar, uPlot drawing, layout at phone width, the keyboard.

One server, one browser and one set of runs for the whole package (a Chromium start costs
about a second, logging the runs a few): each test gets a fresh context (cookies, storage),
so tests cannot lean on each other's sign-in. Every page visited is saved as a PNG under
``test-artifacts/studio/`` so CI keeps what the browser saw.

Chromium is Debian's (``/usr/bin/chromium``); nothing here downloads a browser.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.conftest import ADMIN_TOKEN, ServerProcess

CHROMIUM = Path(os.environ.get("SHIPYARD_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium keeps dialing Google's services on a
# closed network (retries, DNS timeouts) and each test pays for it.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "studio"
EXPERIMENT = "e2e-studio"
RUNS = 30
CURVE_RUNS = 3  # runs that log a 200-step curve (the compare page overlays them)
STEPS = 200


def launch(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless; a clear failure (not a skip) when it is missing, so CI
    never passes without having run the browser."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the studio's browser tests need Chromium "
            "(`apt-get install chromium`, or set SHIPYARD_CHROMIUM to its path)",
            pytrace=False,
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


@dataclass
class Logged:
    """What the mlflow client logged: the experiment and its runs (name -> id)."""

    experiment_id: str
    runs: dict[str, str] = field(default_factory=dict)
    curve_runs: list[str] = field(default_factory=list)
    printed_link: str = ""  # what the client printed for run-00: URL/#/experiments/ID/runs/RUN


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    started = ServerProcess(tmp_path_factory.mktemp("studio-e2e") / "home").start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="package")
def logged(server: ServerProcess) -> Logged:
    """~30 runs through the REAL mlflow client (MLFLOW_TRACKING_TOKEN is the owner's, set by
    tests/conftest.py): params, a final ``acc`` spread over 0..1, and a 200-step ``loss``
    curve on a few runs."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=server.url)
    experiment_id = client.create_experiment(EXPERIMENT)
    made = Logged(experiment_id)
    for i in range(RUNS):
        name = f"run-{i:02d}"
        run = client.create_run(experiment_id, run_name=name)
        run_id = run.info.run_id
        metrics = [Metric("acc", i / (RUNS - 1), 0, 0)]
        if i < CURVE_RUNS:
            metrics += [Metric("loss", 1.0 / (1 + s * (i + 1) / 50), 1000 + s, s) for s in range(STEPS)]
            made.curve_runs.append(run_id)
        params = [Param("lr", str(0.001 * (1 + i % 3))), Param("depth", str(2 + i % 5))]
        client.log_batch(run_id, metrics=metrics, params=params, tags=[RunTag("team", "e2e")])
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):  # "🏃 View run NAME at: URL/#/experiments/…"
            client.set_terminated(run_id)
        if i == 0:
            found = re.search(r"View run \S+ at: (\S+)", printed.getvalue())
            assert found, f"the mlflow client printed no run link: {printed.getvalue()!r}"
            made.printed_link = found.group(1)
        made.runs[name] = run_id
    return made


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Browser, server: ServerProcess) -> Iterator[BrowserContext]:
    """A fresh browser profile per test (no cookie carried over), 1280x800."""
    made = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 800})
    made.set_default_timeout(10_000)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def sign_in(page: Page, next_path: str = "/studio/experiments", token: str = ADMIN_TOKEN) -> None:
    """The link ``shipyard up`` prints: /login?token=…&next=…; waits for the target page."""
    page.goto(f"/login?{urlencode({'token': token, 'next': next_path})}")
    page.wait_for_url(re.compile(re.escape(next_path.split("?", maxsplit=1)[0])))


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG under test-artifacts/studio/ (CI keeps the folder)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
