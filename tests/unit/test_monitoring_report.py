"""The HTML report: one self-contained page, parsed back with html.parser and checked."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")

from shipyard.services.monitoring.compare import compare  # noqa: E402
from shipyard.services.monitoring.report import compare_report, render_report  # noqa: E402

_VOID = {"meta", "link", "br", "hr", "img", "input", "rect", "line", "circle", "polyline", "path"}


class Page(HTMLParser):
    """Every start tag with its attributes, the text, and a check that tags nest properly."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.open: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in _VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def named(self, tag: str, css: str | None = None) -> list[dict[str, str | None]]:
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and (css is None or css in (attrs.get("class") or "").split())
        ]


def frame(
    rows: int, *, shift: float = 0.0, seed: int = 0, colours: tuple[float, ...] = (0.5, 0.3, 0.2)
) -> Any:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "age": rng.normal(40 + shift, 10, rows),
            "<script>": rng.choice(np.array(["red", "green", "<b>blue</b>"]), rows, p=list(colours)),
        }
    )


def signal(name: str, *, breached: bool, **extra: Any) -> dict[str, Any]:
    row = {
        "column": "age",
        "type": "numerical",
        "metric": "normalized_wasserstein_distance",
        "value": 0.3 if breached else 0.01,
        "threshold": 0.1,
        "breach_when": "above",
        "breached": breached,
    }
    return {
        "name": name,
        "type": "data_drift",
        "breached": breached,
        "rows": [row],
        "histograms": {},
        "notes": [],
        "error": None,
        **extra,
    }


def report(*signals: dict[str, Any], history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "monitor": "credit-drift",
        "run_id": "r-1",
        "job": "monitor-credit-drift-1",
        "generated_at": 1_760_000_000_000,
        "window": {"start": 1_759_395_200_000, "end": 1_760_000_000_000},
        "target": "credit:blue",
        "signals": list(signals),
        "history": history or [],
    }


def test_a_real_compare_result_renders_a_self_contained_page_with_a_chart_per_column() -> None:
    result = compare(
        frame(3000, seed=1), frame(2000, seed=2, shift=8.0, colours=(0.2, 0.3, 0.5)), histograms=True
    )
    html = render_report(compare_report(result, reference="ref.parquet", current="cur.parquet"))
    page = Page(html)
    assert page.open == []  # every element closed, in order
    assert len(page.named("svg")) == 2  # one chart per column
    assert page.named("rect", "ref") and page.named("rect", "cur")
    # Nothing to fetch: no script, no stylesheet link, no image, no URL anywhere.
    assert not page.named("script") and not page.named("link") and not page.named("img")
    assert not re.search(r"https?://", html)
    # The column named <script> and the category <b>blue</b> are text, never markup.
    assert "&lt;script&gt;" in html and "&lt;b&gt;blue&lt;/b&gt;" in html
    assert not page.named("b")
    text = "".join(page.text)
    assert "<script>" in text and "ref.parquet" in text
    # The signal's line in the summary, and its rows for age and <script>: both drifted.
    assert len(page.named("tr", "breached")) == 3


def test_breached_signals_come_first_in_the_summary_and_the_page() -> None:
    html = render_report(report(signal("quiet", breached=False), signal("loud", breached=True)))
    assert html.index('id="signal-loud"') < html.index('id="signal-quiet"')
    assert "Breached:" in html and ">loud</a>" in html.split("Breached:")[1].split("</p>")[0]
    page = Page(html)
    # The summary table and the loud signal's row table each highlight one row.
    assert len(page.named("tr", "breached")) == 2
    assert "credit:blue" in "".join(page.text)


def test_nothing_breached_says_so_and_an_error_is_shown() -> None:
    failed = signal("perf", breached=False, rows=[], error="no <feedback> yet")
    html = render_report(report(signal("drift", breached=False), failed))
    assert "No signal breached" in html
    assert "Not computed: no &lt;feedback&gt; yet" in html


def test_numerical_bars_are_densities_since_quantile_bins_differ_in_width() -> None:
    histogram = {
        "kind": "numerical",
        "edges": [0.0, 1.0, 3.0],
        "reference": [0, 10, 10, 0],  # equal counts over widths 1 and 2: densities 2 to 1
        "current": [0, 0, 20, 0],
        "minimum": 0.0,
        "maximum": 3.0,
    }
    page = Page(render_report(report(signal("drift", breached=True, histograms={"age": histogram}))))
    # The legend's squares are 10 wide: the bars are the other rects.
    reference = sorted(float(a["height"] or 0) for a in page.named("rect", "ref") if a.get("width") != "10")
    assert reference == pytest.approx([reference[1] / 2, reference[1]])
    current = [float(a["height"] or 0) for a in page.named("rect", "cur") if a.get("width") != "10"]
    assert current == pytest.approx([reference[1]])  # all of it in the wide bin: density 0.5, the peak


def test_open_end_bins_without_an_extent_still_draw() -> None:
    histogram = {"kind": "numerical", "edges": [5.0], "reference": [3, 7], "current": [7, 3]}
    page = Page(render_report(report(signal("drift", breached=False, histograms={"x": histogram}))))
    assert len([a for a in page.named("rect", "ref") if a.get("width") != "10"]) == 2


def test_categories_get_grouped_bars_and_unseen_values_a_bar_of_their_own() -> None:
    histogram = {
        "kind": "categorical",
        "categories": ["a", "b"],
        "reference": [5, 5],
        "current": [2, 2],
        "unseen": 6,
    }
    html = render_report(report(signal("drift", breached=True, histograms={"colour": histogram})))
    page = Page(html)
    assert "(not in reference)" in "".join(page.text)
    assert len([a for a in page.named("rect", "cur") if a.get("width") != "10"]) == 3


def test_history_draws_a_line_per_metric_with_its_threshold() -> None:
    key = "drift/normalized_wasserstein_distance/age"
    history = [
        {"at": 1_759_000_000_000 + i * 86_400_000, "run_id": f"r{i}", "values": {key: v}}
        for i, v in enumerate([0.02, 0.05, 0.2])
    ]
    page = Page(render_report(report(signal("drift", breached=True), history=history)))
    assert len(page.named("polyline", "series")) == 1
    assert len(page.named("line", "threshold")) == 1
    points = page.named("circle")
    assert len(points) == 4  # three earlier runs and this one
    assert [("bad" in (a["class"] or "")) for a in points] == [False, False, True, True]
    no_history = Page(render_report(report(signal("drift", breached=True))))
    assert not no_history.named("polyline")


def test_compare_report_carries_each_metrics_direction() -> None:
    chosen = {"numerical": {"two_sample_kolmogorov_smirnov_test": None}, "categorical": {}}
    result = compare(frame(500, seed=1), frame(500, seed=2), metrics=chosen, histograms=True)
    made = compare_report(result, reference="a", current="b")
    (only,) = made["signals"]
    assert only["type"] == "data_drift" and only["breached"] is False
    assert [row["breach_when"] for row in only["rows"]] == ["below"]  # a p-value
    assert set(only["histograms"]) == {"age", "<script>"}
