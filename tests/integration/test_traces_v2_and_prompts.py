"""MLflow 2.x's trace messages, ``link-prompts`` and the trace-search grammar's fuller half
(feedback, expectations, RLIKE, span attributes, full text, prompts), in-process over ASGI on
SQLite and PostgreSQL, with raw HTTP.

The v2 routes (``StartTrace``, ``EndTrace``, ``GetTraceInfo``, v2 ``SearchTraces``) are what
the MLflow 2.x client called; a 2.x client is not installed here (the tests' ``mlflow`` is
3.17, which calls them only against a server without the 3.x routes), so these tests send
the messages as that client did: ``message_to_json`` of its protobufs. The 3.17 client's own
use of ``link-prompts`` and of the grammar is in tests/e2e/mlflow/test_tracing.py.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.integration.test_access_matrix import SyncClient
from tests.integration.test_traces_api import _error, _experiment, _otlp, _send, _span
from tests.integration.test_traces_api import api as api  # noqa: PLC0414 - the fixture

V2 = "/api/2.0/mlflow"
V3 = "/api/3.0/mlflow"


# -- MLflow 2.x's trace messages ---------------------------------------------------------------


def _start_v2(api: SyncClient, experiment_id: str, **extra: Any) -> dict[str, Any]:
    body = {
        "experiment_id": experiment_id,
        "timestamp_ms": 1_700_000_000_000,
        "request_metadata": [{"key": "mlflow.traceInputs", "value": '{"q": 1}'}],
        "tags": [{"key": "mlflow.traceName", "value": "predict"}, {"key": "env", "value": "dev"}],
        **extra,
    }
    started = api.request("POST", f"{V2}/traces", json=body)
    assert started.status_code == 200, started.text
    return dict(started.json()["trace_info"])


def _pairs(items: list[dict[str, str]]) -> dict[str, str]:
    return {item["key"]: item["value"] for item in items}


def test_a_v2_trace_starts_ends_reads_and_is_searched(api: SyncClient) -> None:
    experiment_id = _experiment(api, "v2-traces")
    info = _start_v2(api, experiment_id)
    request_id = info["request_id"]
    assert len(request_id) == 32 and int(request_id, 16) >= 0  # MLflow's v2 ids: uuid4 hex
    assert info["experiment_id"] == experiment_id and info["timestamp_ms"] == 1_700_000_000_000
    assert info["status"] == "IN_PROGRESS" and "execution_time_ms" not in info
    assert _pairs(info["request_metadata"]) == {"mlflow.traceInputs": '{"q": 1}'}
    tags = _pairs(info["tags"])
    assert tags["env"] == "dev" and tags["mlflow.traceName"] == "predict"
    assert tags["mlflow.artifactLocation"].endswith(f"/traces/{request_id}/artifacts")
    # A 2.x client uploads the spans itself (traces.json): no spansLocation says otherwise.
    assert "mlflow.trace.spansLocation" not in tags

    ended = api.request(
        "PATCH",
        f"{V2}/traces/{request_id}",
        json={
            "request_id": request_id,
            "timestamp_ms": 1_700_000_000_250,
            "status": "OK",
            "request_metadata": [{"key": "mlflow.traceOutputs", "value": '"done"'}],
            "tags": [{"key": "env", "value": "prod"}],
        },
    )
    assert ended.status_code == 200, ended.text
    closed = ended.json()["trace_info"]
    assert closed["status"] == "OK" and closed["execution_time_ms"] == 250
    assert _pairs(closed["tags"])["env"] == "prod"
    assert set(_pairs(closed["request_metadata"])) == {"mlflow.traceInputs", "mlflow.traceOutputs"}

    got = api.get(f"{V2}/traces/{request_id}/info")
    assert got.status_code == 200 and got.json()["trace_info"] == closed
    # The same trace through the 3.x routes.
    v3 = api.get(f"{V3}/traces/{request_id}").json()["trace"]["trace_info"]
    assert v3["state"] == "OK" and v3["execution_duration"] == "0.250s"

    other = _start_v2(api, experiment_id, timestamp_ms=1_600_000_000_000)
    found = api.get(
        f"{V2}/traces",
        params={"experiment_ids": [experiment_id], "filter": "tags.env = 'prod'", "max_results": 5},
    )
    assert found.status_code == 200, found.text
    assert [t["request_id"] for t in found.json()["traces"]] == [request_id]
    paged = api.get(
        f"{V2}/traces",
        params={"experiment_ids": experiment_id, "max_results": 1, "order_by": "timestamp_ms ASC"},
    ).json()
    assert [t["request_id"] for t in paged["traces"]] == [other["request_id"]]
    rest = api.get(
        f"{V2}/traces",
        params={
            "experiment_ids": experiment_id,
            "max_results": 1,
            "order_by": "timestamp_ms ASC",
            "page_token": paged["next_page_token"],
        },
    ).json()
    assert [t["request_id"] for t in rest["traces"]] == [request_id]


def test_both_start_messages_stay_served_at_their_paths(api: SyncClient) -> None:
    """3.17 sends StartTraceV3 to 3.0; the 2.0 path takes StartTrace, and StartTraceV3 too
    (the message's ``trace`` field tells them apart)."""
    experiment_id = _experiment(api, "start-both")
    for version in ("3.0", "2.0"):
        trace_id = f"tr-{uuid.uuid4().hex}"
        info = {
            "trace_id": trace_id,
            "trace_location": {
                "type": "MLFLOW_EXPERIMENT",
                "mlflow_experiment": {"experiment_id": experiment_id},
            },
            "request_time": "2025-01-01T00:00:00.000Z",
            "execution_duration": "0.010s",
            "state": "OK",
        }
        made = api.request("POST", f"/api/{version}/mlflow/traces", json={"trace": {"trace_info": info}})
        assert made.status_code == 200, made.text
        assert made.json()["trace"]["trace_info"]["trace_id"] == trace_id
    message = _error(
        api.request("POST", f"{V3}/traces", json={"experiment_id": experiment_id}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "'trace'" in message


def test_bad_v2_messages_are_400s_and_unknown_traces_404s(api: SyncClient) -> None:
    experiment_id = _experiment(api, "v2-bad")
    for body, words in (
        ({"timestamp_ms": 1}, "'experiment_id'"),
        ({"experiment_id": experiment_id}, "'timestamp_ms'"),
        ({"experiment_id": experiment_id, "timestamp_ms": "soon"}, "timestamp_ms"),
        ({"experiment_id": experiment_id, "timestamp_ms": -5}, "request_time"),
        ({"experiment_id": experiment_id, "timestamp_ms": 1, "tags": [{"key": "", "value": "x"}]}, "tag"),
        ({"experiment_id": experiment_id, "timestamp_ms": 1, "tags": {"a": "b"}}, "tags"),
    ):
        message = _error(api.request("POST", f"{V2}/traces", json=body), 400, "INVALID_PARAMETER_VALUE")
        assert words in message, (body, message)
    _error(
        api.request("POST", f"{V2}/traces", json={"experiment_id": "999999", "timestamp_ms": 1}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )

    request_id = _start_v2(api, experiment_id)["request_id"]
    end = f"{V2}/traces/{request_id}"
    for body, words in (
        ({"status": "OK"}, "'timestamp_ms'"),
        ({"timestamp_ms": 1, "status": "OK"}, "before the trace started"),
        ({"timestamp_ms": 1_700_000_000_001, "status": "DONE"}, "trace status must be one of"),
    ):
        message = _error(api.request("PATCH", end, json=body), 400, "INVALID_PARAMETER_VALUE")
        assert words in message, (body, message)
    # Nothing of a refused EndTrace was kept.
    assert api.get(f"{end}/info").json()["trace_info"]["status"] == "IN_PROGRESS"

    missing = uuid.uuid4().hex
    _error(api.get(f"{V2}/traces/{missing}/info"), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(
        api.request("PATCH", f"{V2}/traces/{missing}", json={"timestamp_ms": 1, "status": "OK"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    _error(api.get(f"{V2}/traces"), 400, "INVALID_PARAMETER_VALUE")
    _error(
        api.get(f"{V2}/traces", params={"experiment_ids": experiment_id, "max_results": 501}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    _error(
        api.get(f"{V2}/traces", params={"experiment_ids": experiment_id, "filter": "feedback.x >"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )


# -- link-prompts ------------------------------------------------------------------------------


def _trace(api: SyncClient, experiment_id: str, *spans: dict[str, Any]) -> str:
    trace_hex = uuid.uuid4().hex
    sent = _send(api, experiment_id, _otlp(*[{**s, "traceId": trace_hex} for s in spans]))
    assert sent.status_code == 200, sent.text
    return f"tr-{trace_hex}"


def _root(name: str = "root", **extra: Any) -> dict[str, Any]:
    return _span("0" * 32, "00000000000000a1", name=name, **extra)


def _search(api: SyncClient, experiment_id: str, text: str) -> list[str]:
    found = api.request(
        "POST",
        f"{V3}/traces/search",
        json={"locations": [{"mlflow_experiment": {"experiment_id": experiment_id}}], "filter": text},
    )
    assert found.status_code == 200, (text, found.text)
    return sorted(t["trace_id"] for t in found.json()["traces"])


def _link(api: SyncClient, trace_id: str, *versions: tuple[str, Any]) -> httpx.Response:
    return api.request(
        "POST",
        f"{V2}/traces/link-prompts",
        json={"trace_id": trace_id, "prompt_versions": [{"name": n, "version": v} for n, v in versions]},
    )


def test_prompts_are_linked_once_and_found_by_prompt_filter(api: SyncClient) -> None:
    experiment_id = _experiment(api, "prompts")
    first, second = _trace(api, experiment_id, _root()), _trace(api, experiment_id, _root())
    assert _link(api, first, ("qa", "1"), ("summary", 3)).status_code == 200
    assert _link(api, first, ("qa", "1")).status_code == 200  # again: no duplicate
    assert _link(api, second, ("qa", "2")).status_code == 200
    tags = api.get(f"{V3}/traces/{first}").json()["trace"]["trace_info"]["tags"]
    assert json.loads(tags["mlflow.linkedPrompts"]) == [
        {"name": "qa", "version": "1"},
        {"name": "summary", "version": "3"},
    ]
    assert _search(api, experiment_id, "prompt = 'qa/1'") == [first]
    assert _search(api, experiment_id, "prompt = 'qa/2'") == [second]
    assert _search(api, experiment_id, "prompt = 'summary/3' AND prompt = 'qa/1'") == [first]
    assert _search(api, experiment_id, "prompt = 'q_/1'") == []  # '_' is no wildcard here

    # The tag the client writes itself (same JSON) is what the filter reads too.
    third = _trace(api, experiment_id, _root())
    tagged = api.request(
        "PATCH",
        f"{V3}/traces/{third}/tags",
        json={"key": "mlflow.linkedPrompts", "value": json.dumps([{"name": "qa", "version": "1"}])},
    )
    assert tagged.status_code == 200
    assert _search(api, experiment_id, "prompt = 'qa/1'") == sorted([first, third])


def test_bad_prompt_links_are_refused(api: SyncClient) -> None:
    experiment_id = _experiment(api, "prompts-bad")
    trace_id = _trace(api, experiment_id, _root())
    for versions, words in (
        ([("qa", "one")], "positive integer"),
        ([("qa", -1)], "positive integer"),
        ([("no spaces", "1")], "prompt name"),
        ([("", "1")], "prompt name"),
    ):
        message = _error(_link(api, trace_id, *versions), 400, "INVALID_PARAMETER_VALUE")
        assert words in message, message
    _error(
        api.request("POST", f"{V2}/traces/link-prompts", json={"trace_id": trace_id}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "'prompt_versions'" in _error(_link(api, trace_id), 400, "INVALID_PARAMETER_VALUE")
    _error(_link(api, f"tr-{uuid.uuid4().hex}", ("qa", "1")), 404, "RESOURCE_DOES_NOT_EXIST")
    api.request(
        "PATCH", f"{V3}/traces/{trace_id}/tags", json={"key": "mlflow.linkedPrompts", "value": "not json"}
    )
    message = _error(_link(api, trace_id, ("qa", "1")), 400, "INVALID_PARAMETER_VALUE")
    assert "not a JSON list" in message
    assert (
        api.get(f"{V3}/traces/{trace_id}").json()["trace"]["trace_info"]["tags"]["mlflow.linkedPrompts"]
        == "not json"
    )


# -- the grammar's fuller half, compiled to SQL --------------------------------------------------


def _attribute(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        encoded = {
            "kvlistValue": {"values": [{"key": k, "value": {"stringValue": v}} for k, v in value.items()]}
        }
    elif isinstance(value, int):
        encoded = {"intValue": str(value)}
    else:
        encoded = {"stringValue": value}
    return {"key": key, "value": encoded}


def _assess(api: SyncClient, trace_id: str, name: str, kind: str, value: Any, **extra: Any) -> str:
    made = api.request(
        "POST",
        f"{V3}/traces/{trace_id}/assessments",
        json={
            "assessment": {
                "assessment_name": name,
                kind: {"value": value},
                "source": {"source_type": "HUMAN", "source_id": "me"},
                **extra,
            }
        },
    )
    assert made.status_code == 200, made.text
    return str(made.json()["assessment"]["assessment_id"])


@pytest.fixture
def corpus(api: SyncClient) -> tuple[str, dict[str, str]]:
    experiment_id = _experiment(api, f"grammar-{uuid.uuid4().hex[:6]}")
    good = _trace(
        api,
        experiment_id,
        _root(
            "chat",
            attributes=[
                _attribute("model", "gpt-4o"),
                _attribute("mlflow.spanType", "LLM"),
                _attribute("k", 3),
                _attribute("mlflow.spanInputs", {"question": "Where is the shipyard?"}),
            ],
        ),
    )
    bad = _trace(
        api,
        experiment_id,
        _root(
            "retrieve",
            attributes=[_attribute("model", "claude"), _attribute("mlflow.spanOutputs", {"doc": "harbour"})],
        ),
    )
    plain = _trace(api, experiment_id, _root("noop"))
    for trace_id, env in ((good, "production"), (bad, "prod-eu"), (plain, "dev")):
        api.request("PATCH", f"{V3}/traces/{trace_id}/tags", json={"key": "env", "value": env})
    _assess(api, good, "correct", "feedback", "yes")
    _assess(api, good, "score", "feedback", 4.5)
    _assess(api, good, "safe", "feedback", True)
    _assess(api, good, "answer", "expectation", "Rotterdam")
    _assess(api, bad, "correct", "feedback", "no")
    _assess(api, bad, "score", "feedback", 2)
    overridden = _assess(api, bad, "safe", "feedback", True)
    # A newer verdict overrides it: the old one is no longer valid and no longer matches.
    _assess(api, bad, "safe", "feedback", False, overrides=overridden)
    return experiment_id, {"good": good, "bad": bad, "plain": plain}


# filter → the traces of the corpus it finds (as MLflow's SQL store finds them)
_FOUND = [
    ("feedback.correct = 'yes'", ["good"]),
    ("feedback.correct != 'yes'", ["bad"]),
    ("feedback.score > 3", ["good"]),
    ("feedback.score <= '2'", ["bad"]),
    ("feedback.score = 2", ["bad"]),
    ("feedback.safe = 'true'", ["good"]),
    ("feedback.safe = 'false'", ["bad"]),
    ("feedback.correct IS NULL", ["plain"]),
    ("feedback.correct IS NOT NULL AND feedback.score >= 2", ["bad", "good"]),
    ("feedback.correct LIKE 'y%'", ["good"]),
    ("feedback.correct RLIKE '^n'", ["bad"]),
    ("expectation.answer = 'Rotterdam'", ["good"]),
    ("expectation.answer ILIKE 'rotter%'", ["good"]),
    ("feedback.answer = 'Rotterdam'", []),
    ("tags.env RLIKE '^prod'", ["bad", "good"]),
    ("tags.env RLIKE 'prod$|^dev$'", ["plain"]),
    ("trace.status RLIKE '^O'", ["bad", "good", "plain"]),
    ("name RLIKE '^(chat|noop)$'", ["good", "plain"]),
    ("span.name RLIKE 'ret.*e'", ["bad"]),
    ("span.type RLIKE 'LL'", ["good"]),
    ("span.attributes.model = 'gpt-4o'", ["good"]),
    ("span.attributes.model != 'gpt-4o'", ["bad"]),
    ("span.attributes.model LIKE 'gpt%'", ["good"]),
    ("span.attributes.model RLIKE '^(gpt|claude)'", ["bad", "good"]),
    ("span.attributes.model IN ('claude', 'llama')", ["bad"]),
    ("span.attributes.k = '3'", ["good"]),
    ("span.attributes.mlflow.spanType = 'LLM'", ["good"]),  # a dotted key
    ("span.attributes.mlflow.spanInputs LIKE '%shipyard%'", ["good"]),
    ("span.attributes.mlflow.spanOutputs LIKE '%harbour%'", ["bad"]),
    ("trace.text LIKE '%shipyard%'", ["good"]),
    ("trace.text LIKE '%harbour%' AND tags.env = 'prod-eu'", ["bad"]),
    ("span.content ILIKE '%NOOP%'", ["plain"]),
    ("trace.text LIKE '%nowhere to be found%'", []),
]


def test_filters_find_what_mlflow_finds(api: SyncClient, corpus: tuple[str, dict[str, str]]) -> None:
    experiment_id, ids = corpus
    names = {v: k for k, v in ids.items()}
    for text, expected in _FOUND:
        assert sorted(names[i] for i in _search(api, experiment_id, text)) == sorted(expected), text


def test_bad_filters_are_400s_never_500s(
    api: SyncClient, corpus: tuple[str, dict[str, str]], database_url: str
) -> None:
    experiment_id, _ = corpus
    search = f"{V3}/traces/search"
    where = {"locations": [{"mlflow_experiment": {"experiment_id": experiment_id}}]}
    for text, words in (
        ("tags.env RLIKE '(a+)+$'", "exponential time"),
        ("tags.env RLIKE '['", "not a valid regular expression"),
        ("feedback.score > 'high'", "compares numbers"),
        ("issue.id = 'x'", "issue references"),
        ("prompt = 'qa'", "name/version"),
        ("trace.text = 'x'", "LIKE or ILIKE"),
    ):
        message = _error(
            api.request("POST", search, json={**where, "filter": text}), 400, "INVALID_PARAMETER_VALUE"
        )
        assert words in message, (text, message)
    # A pattern Python takes but PostgreSQL does not: a 400 there, a search here.
    named = api.request("POST", search, json={**where, "filter": "tags.env RLIKE '(?P<x>prod)'"})
    if database_url.startswith("postgresql"):
        assert "PostgreSQL refuses the RLIKE pattern" in _error(named, 400, "INVALID_PARAMETER_VALUE")
    else:
        assert named.status_code == 200 and len(named.json()["traces"]) == 2
    # The correlation route compiles the same clauses (RLIKE on SQLite needs its function there too).
    correlated = api.request(
        "POST",
        f"{V3}/traces/calculate-filter-correlation",
        json={
            "experiment_ids": [experiment_id],
            "filter_string1": "tags.env RLIKE '^prod'",
            "filter_string2": "feedback.correct = 'yes'",
        },
    )
    assert correlated.status_code == 200, correlated.text
    assert (correlated.json()["filter1_count"], correlated.json()["joint_count"]) == (2, 1)


def test_a_long_value_does_not_slow_rlike_past_reason(
    api: SyncClient, corpus: tuple[str, dict[str, str]]
) -> None:
    """A value of 100,000 characters against a pattern the grammar takes: linear, not stuck."""
    experiment_id, ids = corpus
    api.request("PATCH", f"{V3}/traces/{ids['plain']}/tags", json={"key": "blob", "value": "a" * 7_999 + "!"})
    started = time.monotonic()
    assert _search(api, experiment_id, "tags.blob RLIKE '^a+b'") == []
    assert time.monotonic() - started < 5


def test_traces_order_by_tags_and_metadata_with_the_unset_last(
    api: SyncClient, corpus: tuple[str, dict[str, str]]
) -> None:
    experiment_id, ids = corpus
    names = {v: k for k, v in ids.items()}
    api.request("PATCH", f"{V3}/traces/{ids['good']}/tags", json={"key": "rank", "value": "b"})
    api.request("PATCH", f"{V3}/traces/{ids['bad']}/tags", json={"key": "rank", "value": "a"})

    def ordered(*order_by: str) -> list[str]:
        found = api.request(
            "POST",
            f"{V3}/traces/search",
            json={"experiment_ids": [experiment_id], "order_by": list(order_by)},
        )
        assert found.status_code == 200, found.text
        return [names[t["trace_id"]] for t in found.json()["traces"]]

    assert ordered("tags.rank") == ["bad", "good", "plain"]
    assert ordered("tags.rank DESC") == ["good", "bad", "plain"]
    assert ordered("tags.env DESC", "timestamp_ms") == ["good", "bad", "plain"]  # production > prod-eu > dev
    assert ordered("metadata.nobody", "tags.env") == ["plain", "bad", "good"]
    message = _error(
        api.request(
            "POST",
            f"{V3}/traces/search",
            json={"experiment_ids": [experiment_id], "order_by": ["tags.rank", "tags.rank DESC"]},
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "duplicate fields" in message


def test_an_assessment_of_a_session_speaks_for_each_of_its_traces(api: SyncClient) -> None:
    """MLflow 3.17: feedback whose metadata names the session (``mlflow.trace.session``),
    logged on one trace of it, matches every trace of that session in the experiment."""
    experiment_id = _experiment(api, "sessions")
    other_experiment = _experiment(api, "sessions-elsewhere")

    def in_session(experiment: str, session: str) -> str:
        metadata = [{"key": "mlflow.trace.session", "value": session}]
        return str(_start_v2(api, experiment, request_metadata=metadata)["request_id"])

    first, second, apart = (
        in_session(experiment_id, "s1"),
        in_session(experiment_id, "s1"),
        in_session(experiment_id, "s2"),
    )
    elsewhere = in_session(other_experiment, "s1")
    _assess(api, first, "resolved", "feedback", "yes", metadata={"mlflow.trace.session": "s1"})
    _assess(api, apart, "resolved", "feedback", "no")  # of the trace only
    _assess(api, elsewhere, "resolved", "feedback", "maybe", metadata={"mlflow.trace.session": "s1"})
    assert _search(api, experiment_id, "feedback.resolved = 'yes'") == sorted([first, second])
    assert _search(api, experiment_id, "feedback.resolved IS NOT NULL") == sorted([first, second, apart])
    assert _search(api, experiment_id, "feedback.resolved = 'maybe'") == []  # another experiment's
    assert _search(api, experiment_id, "feedback.resolved != 'yes'") == [apart]
    plain = in_session(experiment_id, "s3")
    assert _search(api, experiment_id, "feedback.resolved IS NULL") == [plain]


def test_end_time_of_an_open_trace_and_run_id_patterns(api: SyncClient) -> None:
    experiment_id = _experiment(api, "end-and-run")
    source = [{"key": "mlflow.sourceRun", "value": "abc123"}]
    open_trace = _start_v2(api, experiment_id, request_metadata=source)["request_id"]
    # Still in progress: it ends at its start, as in MLflow's store.
    assert _search(api, experiment_id, "trace.end_time_ms = 1700000000000") == [open_trace]
    assert _search(api, experiment_id, "run_id LIKE 'abc%'") == [open_trace]
    assert _search(api, experiment_id, "run_id RLIKE '^ab.*3$'") == [open_trace]
    assert _search(api, experiment_id, "run_id ILIKE 'X%'") == []
