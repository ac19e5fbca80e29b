"""The trace pages in headless Chromium against a real server, with a trace logged by the
unchanged ``mlflow`` client (``@mlflow.trace``, ``mlflow.start_span``, ``mlflow.log_feedback``
inside a run): the span tree is drawn with no script error, a user's ``<script>`` in a span's
inputs is shown and never run, the page does not scroll sideways at 390 px, and the run's page
links to its traces once htmx has asked.

The in-process page tests (tests/integration/studio/test_traces_pages.py) check what the
pages say in detail; this checks what only a browser shows.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.conftest import ServerProcess
from tests.e2e.studio.conftest import screenshot, sign_in

pytestmark = pytest.mark.slow

XSS = "<script>window.__pwned = 1</script>"


@dataclass
class Logged:
    experiment_id: str
    run_id: str
    trace_id: str


@pytest.fixture(scope="module")
def traced(server: ServerProcess) -> Iterator[Logged]:
    """One trace of three spans, made in a run, with a feedback, through the real client."""
    import mlflow
    from mlflow.entities import AssessmentSource, SpanType

    with warnings.catch_warnings():
        # Tracing imports mlflow.pyfunc on a trace's first span, which warns (3.17) about the Any
        # hints of its own chat types; under pytest's warnings-as-errors the span would be lost.
        warnings.filterwarnings("ignore", ".*Any type hint is inferred as AnyType", UserWarning)
        import mlflow.pyfunc

    @mlflow.trace(span_type=SpanType.TOOL)
    def lookup(query: str) -> list[dict[str, Any]]:
        return [{"doc": "shipyard", "query": query}]

    @mlflow.trace
    def answer(question: str) -> dict[str, Any]:
        docs = lookup(question)
        with mlflow.start_span("generate", span_type=SpanType.LLM) as span:
            span.set_inputs({"prompt": question, "docs": docs})
            span.set_outputs({"text": "Shipyard"})
        return {"answer": "Shipyard"}

    mlflow.set_tracking_uri(server.url)
    try:
        experiment = mlflow.set_experiment("e2e-traces")
        with mlflow.start_run() as run:
            answer(f"what runs the model? {XSS}")
        trace_id = mlflow.get_last_active_trace_id()
        assert trace_id is not None
        mlflow.flush_trace_async_logging(terminate=False)
        mlflow.log_feedback(
            trace_id=trace_id,
            name="helpful",
            value=True,
            rationale="It names the platform.",
            source=AssessmentSource(source_type="HUMAN", source_id="e2e"),
        )
        yield Logged(experiment.experiment_id, run.info.run_id, trace_id)
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.tracking.fluent._active_experiment_id = None
        os.environ.pop("MLFLOW_EXPERIMENT_ID", None)


def _watch(page: Page) -> list[str]:
    """Script errors and console errors of the page, collected as they happen."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text}")

    page.on("console", console)
    return problems


def test_the_trace_page_shows_the_span_tree_without_script_errors(page: Page, traced: Logged) -> None:
    problems = _watch(page)
    sign_in(page, f"/studio/experiments/{traced.experiment_id}/traces")
    rows = page.locator("table.traces tbody tr[data-trace]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("answer")
    expect(rows.first.locator(".status")).to_have_text("OK")
    screenshot(page, "traces")
    rows.first.locator("a").first.click()
    page.wait_for_url(f"**/studio/traces/{traced.trace_id}")
    spans = page.locator("ol.spans > li")
    expect(spans).to_have_count(3)
    assert [spans.nth(i).get_attribute("data-depth") for i in range(3)] == ["0", "1", "1"]
    expect(spans.nth(1)).to_contain_text("lookup")
    expect(spans.nth(2)).to_contain_text("generate")
    # the waterfall bars are laid out by CSS alone: each has a width in the page
    widths = page.evaluate(
        "[...document.querySelectorAll('.waterfall > span')].map(e => e.getBoundingClientRect().width)"
    )
    assert len(widths) == 3 and all(w > 0 for w in widths), widths
    expect(page.locator("article.assessment")).to_contain_text("helpful")
    expect(page.locator("article.assessment")).to_contain_text("It names the platform.")
    # the root's inputs carry the user's <script>: shown as text, never run
    expect(page.locator('pre[data-payload="inputs"]')).to_contain_text(XSS)
    assert page.evaluate("window.__pwned") is None
    spans.nth(2).locator("a").first.click()
    expect(page.locator("#span-detail")).to_have_text("Span: generate")
    expect(page.locator('pre[data-payload="outputs"]')).to_contain_text('"text": "Shipyard"')
    assert page.evaluate("window.__pwned") is None
    screenshot(page, "trace")
    assert problems == []


def test_the_trace_pages_fit_a_phone(browser: Browser, server: ServerProcess, traced: Logged) -> None:
    phone = browser.new_context(base_url=server.url, viewport={"width": 390, "height": 844})
    try:
        page = phone.new_page()
        problems = _watch(page)
        sign_in(page, f"/studio/traces/{traced.trace_id}")
        for path, name in [
            (f"/studio/traces/{traced.trace_id}", "trace-390"),
            (f"/studio/experiments/{traced.experiment_id}/traces", "traces-390"),
        ]:
            page.goto(path)
            page.wait_for_load_state("load")
            expect(page.locator("main h1")).to_be_visible()
            width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1] + 1, f"{path} scrolls sideways at 390 px: {width}"
            screenshot(page, name)
        assert problems == []
    finally:
        phone.close()


def test_the_run_page_links_to_its_traces(page: Page, traced: Logged) -> None:
    sign_in(page, f"/studio/runs/{traced.run_id}")
    link = page.locator("main a", has_text="Traces of this run")
    expect(link).to_be_visible()  # loaded by htmx after the page
    link.click()
    expect(page.locator("table.traces tbody tr[data-trace]")).to_have_count(1)
    assert "run_id" in page.url
