"""The trace pages in-process: an experiment's trace list (status, latency bars, tags, run,
assessments; paged; filtered with MLflow's trace grammar, a refused filter shown as the API
said it) and a trace's page (the span tree as a server-drawn waterfall, a span's inputs,
outputs, attributes and events, assessments beside it), their errors (404, 403 with the
permission and roles) and a trace's contents shown as text, never run as markup.

Traces are made as the mlflow client makes them: spans over OTLP/JSON at ``/v1/traces``,
then the trace's info with ``POST /api/3.0/mlflow/traces``, assessments through their route.
The real client and a browser drive the same pages in tests/e2e/studio/test_trace_pages.py.
"""

from __future__ import annotations

import html
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from markupsafe import escape

from tests.integration.studio.conftest import Studio

V3 = "/api/3.0/mlflow"
XSS = "<script>window.__pwned = 1</script>"


def _text(value: Any) -> dict[str, Any]:
    """An attribute as MLflow's client sends it: JSON text in an OTLP string value."""
    return {"stringValue": json.dumps(value)}


def _span(
    trace_hex: str, span_hex: str, name: str, start: int, end: int | None, *, parent: str | None = None,
    status: int = 1, attributes: dict[str, Any] | None = None, events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:  # fmt: skip
    span: dict[str, Any] = {
        "traceId": trace_hex,
        "spanId": span_hex,
        "name": name,
        "startTimeUnixNano": str(start),
        "status": {"code": status, **({"message": "boom"} if status == 2 else {})},
        "attributes": [{"key": k, "value": _text(v)} for k, v in (attributes or {}).items()],
        "events": events or [],
    }
    if end is not None:
        span["endTimeUnixNano"] = str(end)
    if parent:
        span["parentSpanId"] = parent
    return span


@dataclass
class Trace:
    id: str
    hex: str


def _log(
    studio: Studio, experiment: str, name: str, *, state: str = "OK", duration_ms: int = 100,
    tags: dict[str, str] | None = None, metadata: dict[str, str] | None = None,
    spans: list[dict[str, Any]] | None = None, preview: str | None = None, request_time: int | None = None,
) -> Trace:  # fmt: skip
    """A trace with a root span (and ``spans`` under it), then its info as the client sends it."""
    trace_hex = uuid.uuid4().hex
    start = (request_time or int(time.time() * 1000)) * 1_000_000
    root = _span(
        trace_hex, "00000000000000a1", name, start, start + duration_ms * 1_000_000,
        status=2 if state == "ERROR" else 1, attributes={"mlflow.spanType": "CHAIN"},
    )  # fmt: skip
    body = {
        "resourceSpans": [
            {"scopeSpans": [{"spans": [root, *[{**s, "traceId": trace_hex} for s in spans or []]]}]}
        ]
    }
    sent = studio.owner.request(
        "POST", "/v1/traces", json=body, headers={"x-mlflow-experiment-id": experiment}
    )
    assert sent.status_code == 200, sent.text
    trace_id = f"tr-{trace_hex}"
    info = {
        "trace_id": trace_id,
        "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment}},
        "request_time": start // 1_000_000,
        "execution_duration": f"{duration_ms // 1000}.{duration_ms % 1000:03d}s",
        "state": state,
        "request_preview": preview if preview is not None else json.dumps({"question": name}),
        "response_preview": json.dumps({"answer": name.upper()}),
        "tags": {"mlflow.traceName": name, **(tags or {})},
        "trace_metadata": metadata or {},
    }
    started = studio.owner.request("POST", f"{V3}/traces", json={"trace": {"trace_info": info}})
    assert started.status_code == 200, started.text
    return Trace(trace_id, trace_hex)


def _assess(studio: Studio, trace_id: str, assessment: dict[str, Any]) -> None:
    made = studio.owner.request(
        "POST",
        f"{V3}/traces/{trace_id}/assessments",
        json={"assessment": {"trace_id": trace_id, **assessment}},
    )
    assert made.status_code == 200, made.text


def _experiment(studio: Studio, name: str) -> str:
    made = studio.owner.request(
        "POST", "/api/v1/experiments", json={"name": f"{name}-{uuid.uuid4().hex[:6]}"}
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _rows(text: str) -> list[str]:
    """The trace ids of the list's rows, in order."""
    return re.findall(r'<tr data-trace="([^"]+)"', text)


@dataclass
class Made:
    experiment: str
    run: str
    other_run: str
    slow: Trace
    failed: Trace
    deep: Trace
    traces: list[Trace] = field(default_factory=list)


@pytest.fixture(scope="module")
def made(studio: Studio) -> Made:
    experiment = _experiment(studio, "trace-pages")
    run = studio.owner.request(
        "POST", "/api/v1/runs", json={"experiment_id": experiment, "name": "with-traces"}
    )
    other = studio.owner.request(
        "POST", "/api/v1/runs", json={"experiment_id": experiment, "name": "no-traces"}
    )
    assert run.status_code == 201 and other.status_code == 201, run.text
    run_id, other_id = str(run.json()["id"]), str(other.json()["id"])
    base = int(time.time() * 1000) - 3_600_000
    fast = [
        _log(studio, experiment, f"call-{i:02d}", duration_ms=10 + i, request_time=base + i * 1000)
        for i in range(27)
    ]
    slow = _log(
        studio, experiment, "slow-one", duration_ms=2_500, tags={"env": "prod", "team": "search"},
        metadata={"mlflow.sourceRun": run_id, "mlflow.user": "ann"}, request_time=base + 40_000,
    )  # fmt: skip
    failed = _log(studio, experiment, "failing", state="ERROR", duration_ms=400, request_time=base + 50_000)
    t0 = (base + 60_000) * 1_000_000
    ms = 1_000_000
    children = [
        _span("", "00000000000000b1", "retrieve", t0 + 10 * ms, t0 + 60 * ms, parent="00000000000000a1",
              attributes={"mlflow.spanType": "RETRIEVER", "mlflow.spanInputs": {"query": XSS},
                          "mlflow.spanOutputs": [{"doc": "shipyard", "score": 0.9}], "top_k": 3}),
        _span("", "00000000000000c1", "rerank", t0 + 20 * ms, t0 + 50 * ms, parent="00000000000000b1",
              attributes={"mlflow.spanType": "RERANKER", "mlflow.spanInputs": {"big": "x" * 40_000}}),
        _span("", "00000000000000d1", "generate", t0 + 60 * ms, t0 + 95 * ms, parent="00000000000000a1",
              status=2, attributes={"mlflow.spanType": "LLM"},
              events=[{"name": "exception", "timeUnixNano": str(t0 + 90 * ms),
                       "attributes": [{"key": "exception.message", "value": {"stringValue": "no luck <b>"}}]}]),
    ]  # fmt: skip
    deep = _log(
        studio, experiment, "rag", duration_ms=100, spans=children, request_time=base + 60_000,
        tags={"note": XSS}, metadata={"mlflow.sourceRun": run_id}, preview=json.dumps({"q": XSS}),
    )  # fmt: skip
    _assess(
        studio, deep.id,
        {"assessment_name": "relevance", "source": {"source_type": "LLM_JUDGE", "source_id": "judge-1"},
         "feedback": {"value": "yes"}, "rationale": "The answer cites the retrieved doc."},
    )  # fmt: skip
    _assess(
        studio, deep.id,
        {"assessment_name": "expected_answer", "source": {"source_type": "HUMAN", "source_id": "ann"},
         "expectation": {"value": {"answer": "Shipyard"}}, "span_id": "00000000000000d1"},
    )  # fmt: skip
    _assess(
        studio, deep.id,
        {"assessment_name": "toxicity", "source": {"source_type": "CODE", "source_id": "scorer.py"},
         "feedback": {"error": {"error_code": "RATE_LIMIT", "error_message": "judge unavailable"}}},
    )  # fmt: skip
    return Made(experiment, run_id, other_id, slow, failed, deep, fast)


def test_the_list_shows_status_latency_tags_run_and_assessments_newest_first(
    studio: Studio, made: Made
) -> None:
    page = studio.browser.get(f"/studio/experiments/{made.experiment}/traces?size=100")
    assert page.status_code == 200, page.text
    ids = _rows(page.text)
    assert ids[:3] == [made.deep.id, made.failed.id, made.slow.id] and len(ids) == 30
    row = page.text.split(f'data-trace="{made.slow.id}"')[1].split("</tr>")[0]
    assert 'class="status ok">OK<' in row and "2.50 s" in row
    assert 'style="width: 100.0%"' in row  # the page's slowest fills the bar
    assert '<span class="chip">env=prod</span>' in row and '<span class="chip">team=search</span>' in row
    assert f'href="/studio/runs/{made.run}"' in row and f">{made.run[:8]}<" in row
    assert str(escape('{"question": "slow-one"}')) in row
    failed = page.text.split(f'data-trace="{made.failed.id}"')[1].split("</tr>")[0]
    assert 'class="status error">ERROR<' in failed and "400 ms" in failed and 'style="width: 16.0%"' in failed
    deep = page.text.split(f'data-trace="{made.deep.id}"')[1].split("</tr>")[0]
    assert re.search(r'<td class="num">3</td>', deep)  # its three assessments
    # reached from the experiment page's tabs
    experiment = studio.browser.get(f"/studio/experiments/{made.experiment}")
    assert f'href="/studio/experiments/{made.experiment}/traces">Traces</a>' in experiment.text


def test_the_list_pages_like_the_runs_table(studio: Studio, made: Made) -> None:
    first = studio.browser.get(f"/studio/experiments/{made.experiment}/traces?size=25")
    assert first.status_code == 200 and len(_rows(first.text)) == 25
    following = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert following, "a full page links to the next"
    second = studio.browser.get(html.unescape(following.group(1)))
    assert second.status_code == 200 and "size=25" in html.unescape(following.group(1))
    rest = _rows(second.text)
    assert len(rest) == 5 and not set(rest) & set(_rows(first.text))
    assert 'rel="next"' not in second.text and "« First page" in second.text


def test_a_filter_in_mlflows_grammar_and_a_refused_one_shown_as_the_api_said_it(
    studio: Studio, made: Made
) -> None:
    errors = studio.browser.get(
        f"/studio/experiments/{made.experiment}/traces", params={"filter": "trace.status = 'ERROR'"}
    )
    assert _rows(errors.text) == [made.failed.id]
    tagged = studio.browser.get(
        f"/studio/experiments/{made.experiment}/traces", params={"filter": "tags.env = 'prod'"}
    )
    assert _rows(tagged.text) == [made.slow.id]
    bad = "nonsense.relevance = 'yes'"
    api = studio.owner.request(
        "POST", f"{V3}/traces/search", json={"experiment_ids": [made.experiment], "filter": bad}
    )
    assert api.status_code == 400, api.text
    page = studio.browser.get(f"/studio/experiments/{made.experiment}/traces", params={"filter": bad})
    assert page.status_code == 200 and 'role="alert"' in page.text
    assert api.json()["error_code"] in page.text
    assert str(escape(api.json()["message"])) in page.text
    assert _rows(page.text) == [] and f'value="{escape(bad)}"' in page.text


def test_an_empty_experiment_says_how_traces_arrive(studio: Studio) -> None:
    empty = _experiment(studio, "no-traces")
    page = studio.browser.get(f"/studio/experiments/{empty}/traces")
    assert page.status_code == 200 and _rows(page.text) == []
    assert "No traces in this experiment yet" in page.text and "@mlflow.trace" in page.text
    none = studio.browser.get(f"/studio/experiments/{empty}/traces", params={"filter": "tags.x = 'y'"})
    assert "No traces match" in none.text


def test_the_trace_page_draws_the_span_tree_as_a_waterfall(studio: Studio, made: Made) -> None:
    page = studio.browser.get(f"/studio/traces/{made.deep.id}")
    assert page.status_code == 200, page.text
    spans = re.findall(r'<li data-span="([0-9a-f]+)" data-depth="(\d+)"', page.text)
    assert spans == [
        ("00000000000000a1", "0"),
        ("00000000000000b1", "1"),
        ("00000000000000c1", "2"),
        ("00000000000000d1", "1"),
    ]
    # offsets and widths are shares of the trace's 100 ms; no script draws them
    retrieve = page.text.split('data-span="00000000000000b1"')[1].split("</li>")[0]
    assert (
        'style="left: 10.0%; width: 50.0%"' in retrieve and "RETRIEVER" in retrieve and "+10 ms" in retrieve
    )
    generate = page.text.split('data-span="00000000000000d1"')[1].split("</li>")[0]
    assert 'class="error"' in generate and "35 ms" in generate
    assert "1 ✓" in generate  # the expectation logged on that span
    # the root is selected by default: its inputs are the trace's, its breadcrumb the experiment's
    assert 'data-span="00000000000000a1" data-depth="0" aria-current="true"' in page.text
    assert f'href="/studio/experiments/{made.experiment}/traces">Traces</a>' in page.text
    assert f'href="/studio/runs/{made.run}"' in page.text


def test_a_selected_span_shows_inputs_outputs_attributes_and_events(studio: Studio, made: Made) -> None:
    page = studio.browser.get(f"/studio/traces/{made.deep.id}", params={"span": "00000000000000b1"})
    assert '<h2 id="span-detail">Span: retrieve</h2>' in page.text
    outputs = page.text.split('data-payload="outputs">')[1].split("</pre>")[0]
    assert json.loads(html.unescape(outputs)) == [{"doc": "shipyard", "score": 0.9}]
    assert "\n  {\n" in html.unescape(outputs)  # pretty-printed
    attributes = json.loads(
        html.unescape(page.text.split('data-payload="attributes">')[1].split("</pre>")[0])
    )
    assert attributes == {"mlflow.spanType": "RETRIEVER", "top_k": 3}
    failed = studio.browser.get(f"/studio/traces/{made.deep.id}", params={"span": "00000000000000d1"})
    assert 'class="status error">ERROR</span> boom' in failed.text
    assert "<h4>exception" in failed.text and "no luck &lt;b&gt;" in failed.text


def test_a_large_payload_is_cut_with_a_note(studio: Studio, made: Made) -> None:
    page = studio.browser.get(f"/studio/traces/{made.deep.id}", params={"span": "00000000000000c1"})
    shown = html.unescape(page.text.split('data-payload="inputs">')[1].split("</pre>")[0])
    assert len(shown) == 32 * 1024 and shown.startswith('{\n  "big": "xxx')
    assert "Showing the first 32,768 of 40,015 characters" in page.text


def test_assessments_sit_beside_the_tree(studio: Studio, made: Made) -> None:
    page = studio.browser.get(f"/studio/traces/{made.deep.id}")
    cards = dict(
        re.findall(r'<article class="assessment" data-assessment="([^"]+)">(.*?)</article>', page.text, re.S)
    )
    assert set(cards) == {"relevance", "expected_answer", "toxicity"}
    assert "feedback" in cards["relevance"] and '<code class="wrap">yes</code>' in cards["relevance"]
    assert (
        "The answer cites the retrieved doc." in cards["relevance"]
        and "LLM_JUDGE · judge-1" in cards["relevance"]
    )
    assert (
        "expectation" in cards["expected_answer"]
        and "&#34;answer&#34;: &#34;Shipyard&#34;" in cards["expected_answer"]
    )
    assert "on span" in cards["expected_answer"] and "00000000000000d1" in cards["expected_answer"]
    assert (
        "Error: RATE_LIMIT: judge unavailable" in cards["toxicity"]
        and "CODE · scorer.py" in cards["toxicity"]
    )
    assert '<th scope="row">mlflow.sourceRun</th>' in page.text  # metadata
    assert "mlflow.traceName" in page.text.split('class="system-tags"')[1]  # system tags folded


def test_a_traces_contents_are_shown_as_text_never_run(studio: Studio, made: Made) -> None:
    """Inputs, previews, tags: the user's data. A <script> in them is escaped wherever it shows."""
    listed = studio.browser.get(f"/studio/experiments/{made.experiment}/traces")
    trace = studio.browser.get(f"/studio/traces/{made.deep.id}", params={"span": "00000000000000b1"})
    for text in (listed.text, trace.text):
        assert "<script>window.__pwned" not in text
        assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in text
    inputs = trace.text.split('data-payload="inputs">')[1].split("</pre>")[0]
    assert json.loads(html.unescape(inputs)) == {"query": XSS}


def test_an_unknown_trace_is_a_404_page_with_the_apis_message(studio: Studio) -> None:
    api = studio.owner.request("GET", f"{V3}/traces/get", params={"trace_id": "tr-" + "0" * 32})
    assert api.status_code == 404, api.text
    page = studio.browser.get(f"/studio/traces/tr-{'0' * 32}")
    assert page.status_code == 404 and 'role="alert"' in page.text
    assert "RESOURCE_DOES_NOT_EXIST" in page.text and str(escape(api.json()["message"])) in page.text
    unknown_experiment = studio.browser.get("/studio/experiments/987654/traces")
    assert unknown_experiment.status_code == 404 and 'role="alert"' in unknown_experiment.text


def test_a_user_without_experiments_read_is_told_the_permission_and_roles(studio: Studio, made: Made) -> None:
    made_role = studio.owner.request(
        "POST",
        "/api/v1/roles",
        json={"name": "traces-none", "description": "jobs", "permissions": ["jobs:read"]},
    )
    assert made_role.status_code == 201, made_role.text
    browser = studio.client_for("traces-none")
    for path in (f"/studio/traces/{made.deep.id}", f"/studio/experiments/{made.experiment}/traces"):
        page = browser.get(path)
        assert page.status_code == 403, (path, page.text)
        assert "<code>experiments:read</code>" in page.text and "<code>reader</code>" in page.text, path
        assert "rag" not in page.text.split("<main")[1] and XSS not in page.text


def test_the_run_page_links_to_its_traces_only_when_it_has_some(studio: Studio, made: Made) -> None:
    run_page = studio.browser.get(f"/studio/runs/{made.run}")
    assert f'hx-get="/studio/experiments/{made.experiment}/traces/link?run_id={made.run}"' in run_page.text
    link = studio.browser.get(
        f"/studio/experiments/{made.experiment}/traces/link", params={"run_id": made.run}
    )
    assert link.status_code == 200 and "Traces of this run" in link.text
    target = html.unescape(re.search(r'href="([^"]+)"', link.text).group(1))  # type: ignore[union-attr]
    assert _rows(studio.browser.get(target).text) == [made.deep.id, made.slow.id]
    none = studio.browser.get(
        f"/studio/experiments/{made.experiment}/traces/link", params={"run_id": made.other_run}
    )
    assert none.status_code == 200 and none.text == ""
    odd = studio.browser.get(
        f"/studio/experiments/{made.experiment}/traces/link", params={"run_id": "x' or '1"}
    )
    assert odd.status_code == 200 and odd.text == ""


def test_a_spans_attachments_are_listed_and_images_drawn(studio: Studio) -> None:
    experiment = _experiment(studio, "attachments")
    image_id, pdf_id = str(uuid.uuid4()), str(uuid.uuid4())
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

    def ref(attachment_id: str, content_type: str, size: int) -> str:
        return f"mlflow-attachment://{attachment_id}?content_type={content_type}&trace_id=TRACE&size={size}"

    t0 = int(time.time() * 1000) * 1_000_000
    child = _span(
        "", "00000000000000e1", "caption", t0, t0 + 5_000_000, parent="00000000000000a1",
        attributes={"mlflow.spanInputs": {"image": ref(image_id, "image/png", len(png))},
                    "mlflow.spanOutputs": {"report": ref(pdf_id, "application/pdf", 3),
                                           "bogus": "mlflow-attachment://not-a-uuid?content_type=x"}},
    )  # fmt: skip
    trace = _log(studio, experiment, "with-attachments", spans=[child])
    location = f"default/{experiment}/traces/{trace.id}/artifacts/attachments"
    for attachment_id, content in ((image_id, png), (pdf_id, b"pdf")):
        put = studio.owner.request(
            "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{location}/{attachment_id}", content=content
        )
        assert put.status_code == 200, put.text
    page = studio.browser.get(f"/studio/traces/{trace.id}", params={"span": "00000000000000e1"})
    listed = page.text.split('id="span-attachments">')[1].split("</ul>")[0]
    assert listed.count("<li>") == 2  # the malformed reference is not a link
    url = f"/ajax-api/2.0/mlflow/get-trace-artifact?request_id={trace.id}&amp;path={image_id}"
    assert f'<img src="{url}"' in listed and f'path={pdf_id}" download>application/pdf</a>' in listed
    assert "(outputs, 3 bytes)" in listed and "(inputs, 72 bytes)" in listed
    # The page's session reads the bytes as the browser would, from the API's route.
    image = studio.browser.get(html.unescape(url))
    assert image.status_code == 200 and image.content == png
    assert image.headers["content-disposition"].startswith("attachment")
    root = studio.browser.get(f"/studio/traces/{trace.id}")
    assert 'id="span-attachments"' not in root.text  # the root span has none
