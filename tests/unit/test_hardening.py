"""Client mistakes found while probing (issue 10): each is a 400 naming the problem, never a 500,
and nothing is written.

- a lone surrogate (JSON ``"\\ud800"``) anywhere in a body, native or MLflow;
- an integer past 64 bits anywhere in a body (job specs included), and a job timeout so far
  away that its deadline overflowed the local target's wait;
- an invisible or control character (bidi override, zero-width, …) in any resource name or key,
  named by its code point.

The app runs in-process (httpx over ASGI, no lifespan: nothing runs the queued jobs).
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from shipyard.domain.validation import (
    INT64_MAX,
    INT64_MIN,
    check_key,
    check_name,
    check_storable,
    find_invisible,
)
from shipyard.errors import InvalidArgument
from shipyard.server.app import create_app
from shipyard.server.mlflow._route import MlflowIn
from shipyard.server.schemas import Dto
from shipyard.settings import Settings
from shipyard.specs import CommandJobSpec, parse_spec
from shipyard.specs.job import MAX_TIMEOUT_S
from tests.conftest import AUTH

V1 = "/api/v1"
MLFLOW = "/api/2.0/mlflow"
SURROGATE = "\ud800"
# The characters issue 10 names, and a few more that render as nothing.
INVISIBLE = [
    *(chr(c) for c in range(0x202A, 0x202F)),  # bidi embeddings and overrides
    *(chr(c) for c in range(0x2066, 0x206A)),  # bidi isolates
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",  # zero-width space, joiners, BOM
    "\u200e", "\u00ad", "\u3164", "\u115f", "\u2028", "\x7f", "\x85", "\x07",
]  # fmt: skip


def code_point(ch: str) -> str:
    return f"U+{ord(ch):04X}"


# -- the one validation point --------------------------------------------------------


@pytest.mark.parametrize("ch", INVISIBLE, ids=code_point)
def test_names_and_keys_refuse_each_invisible_character_by_its_code_point(ch: str) -> None:
    assert find_invisible(f"model{ch}") == ch
    with pytest.raises(InvalidArgument, match=re.escape(code_point(ch))) as name_error:
        check_name("model", f"prod{ch}")
    with pytest.raises(InvalidArgument, match=re.escape(code_point(ch))) as key_error:
        check_key("tag", f"team{ch}")
    assert name_error.value.details["character"] == key_error.value.details["character"] == code_point(ch)


def test_the_message_spells_the_character_out_and_never_contains_it() -> None:
    with pytest.raises(InvalidArgument) as info:
        check_name("experiment", "invoice\u202etxt.exe")
    assert "U+202E (RIGHT-TO-LEFT OVERRIDE)" in info.value.message
    assert "\u202e" not in info.value.message


@pytest.mark.parametrize("name", ["iris", "Träning 2024", "モデル", "e\u0301te", "a b", "❤️"])
def test_visible_names_in_any_script_are_still_accepted(name: str) -> None:
    assert check_name("experiment", name) == name


def test_a_surrogate_key_is_refused_with_an_error_body_that_can_be_encoded() -> None:
    with pytest.raises(InvalidArgument) as info:
        check_key("tag", SURROGATE)
    json.dumps(info.value.to_payload(), ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"spec": {"limits": {"timeout": 10**23}}}, "spec.limits.timeout"),
        ({"tags": {"k": INT64_MAX + 1}}, "tags.k"),
        ({"inputs": [1, INT64_MIN - 1]}, "inputs.1"),
        ({"a": {"b": ["ok", f"x{SURROGATE}"]}}, "a.b.1"),
        ({"tags": {SURROGATE: "v"}}, "tags"),
    ],
)
def test_check_storable_names_where_the_bad_value_is(data: object, where: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        check_storable(data)
    assert info.value.message.startswith(where)


def test_check_storable_accepts_the_full_64_bit_range_and_walks_deep_values() -> None:
    check_storable({"a": [INT64_MIN, INT64_MAX, True, 1.5e300, "é", None]})
    deep: Any = 2**64
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(InvalidArgument, match="does not fit in 64 bits"):
        check_storable(deep)


def test_every_request_model_checks_its_body() -> None:
    """The check lives on the base classes, so a new DTO cannot forget it."""
    with pytest.raises(InvalidArgument):
        Dto.model_validate({"x": 2**64})
    with pytest.raises(InvalidArgument):
        MlflowIn.model_validate({"x": 2**64})


def test_a_job_timeout_past_a_year_is_refused_with_its_line() -> None:
    err_text = f"command: echo\nlimits:\n  timeout: {MAX_TIMEOUT_S + 1}\n"
    with pytest.raises(InvalidArgument) as info:
        parse_spec(err_text, CommandJobSpec, "job.yml")
    assert info.value.details["line"] == 3
    assert str(MAX_TIMEOUT_S) in info.value.message
    assert parse_spec("command: echo\nlimits:\n  timeout: 3600\n", CommandJobSpec).limits is not None


# -- over HTTP, in-process -------------------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(Settings(home=tmp_path_factory.mktemp("hardening"), roles="api"))


class InProcess:
    """A blocking face on httpx over ASGI (no lifespan: nothing starts the queued jobs)."""

    def __init__(self, portal: BlockingPortal, client: httpx.AsyncClient) -> None:
        self.portal = portal
        self.client = client

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.portal.call(functools.partial(self.client.request, method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[InProcess]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    with start_blocking_portal() as portal:
        http = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=AUTH)
        yield InProcess(portal, http)
        portal.call(http.aclose)


@pytest.fixture(scope="module")
def seeded(client: InProcess) -> dict[str, str]:
    exp = ok(send(client, "POST", f"{V1}/experiments", {"name": "hardening"}))
    run = ok(send(client, "POST", f"{V1}/runs", {"experiment_id": exp["id"]}))
    ok(send(client, "POST", f"{V1}/models", {"name": "hardened"}))
    return {"exp": exp["id"], "run": run["id"]}


def send(client: InProcess, method: str, path: str, body: object = None) -> Any:
    """``body`` as JSON with ``\\uXXXX`` escapes: a lone surrogate travels as clients send it."""
    content = None if body is None else json.dumps(body).encode("ascii")
    headers = {"Content-Type": "application/json"} if body is not None else {}
    return client.request(method, path, content=content, headers=headers)


def ok(response: httpx.Response) -> Any:
    assert response.is_success, response.text
    return response.json() if response.content else None


def refused(response: httpx.Response, code: str = "INVALID_ARGUMENT", status: int = 400) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    if "error" in body:  # the native API
        assert body["error"]["code"] == code, body
        return str(body["error"]["message"])
    return str(body["message"])  # the MLflow API: its own codes


def snapshot(client: InProcess, seeded: dict[str, str]) -> list[Any]:
    """What a client sees of everything the requests below could have written."""
    return [
        ok(client.get(f"{V1}/experiments", params={"view": "all"})),
        ok(client.get(f"{V1}/runs/{seeded['run']}")),
        ok(client.get(f"{V1}/models")),
        ok(client.get(f"{V1}/models/hardened/versions")),
        ok(client.get(f"{V1}/data")),
        ok(client.get(f"{V1}/environments")),
        ok(client.get(f"{V1}/computes")),
        ok(client.get(f"{V1}/jobs")),
        ok(client.get(f"{V1}/online-endpoints")),
        ok(client.get(f"{V1}/batch-endpoints")),
    ]


def _job(**fields: Any) -> dict[str, Any]:
    return {"spec": {"command": "echo hi", **fields}}


S = SURROGATE
# (method, path, body); "{run}" and "{exp}" are the seeded run and experiment.
BAD_TEXT = [
    ("POST", f"{V1}/experiments", {"name": S}),
    ("POST", f"{V1}/experiments", {"name": "t", "tags": {"k": S}}),
    ("PATCH", f"{V1}/experiments/{{exp}}", {"name": f"x{S}"}),
    ("POST", f"{V1}/runs", {"experiment_id": "{exp}", "name": S}),
    ("PATCH", f"{V1}/runs/{{run}}", {"name": S}),
    ("PATCH", f"{V1}/runs/{{run}}", {"status": S}),
    ("POST", f"{V1}/runs/{{run}}/tags", {"tags": {S: "v"}}),
    ("POST", f"{V1}/runs/{{run}}/tags", {"tags": {"k": S}}),
    ("POST", f"{V1}/runs/{{run}}/params", {"params": {"p": S}}),
    ("POST", f"{V1}/runs/search", {"experiment_ids": ["{exp}"], "filter": f"params.a = '{S}'"}),
    ("POST", f"{V1}/runs/search", {"experiment_ids": ["{exp}"], "order_by": [S]}),
    ("POST", f"{V1}/models", {"name": S}),
    ("POST", f"{V1}/models", {"name": "m2", "description": S}),
    ("PATCH", f"{V1}/models/hardened", {"tags": {S: "v"}}),
    ("POST", f"{V1}/models/hardened/versions", {"run_id": "{run}", "artifact_path": S}),
    ("POST", f"{V1}/data", {"name": "d", "path": f"s3://b/{S}"}),
    ("POST", f"{V1}/data", {"name": "d", "version": S, "path": "s3://b/x"}),
    ("POST", f"{V1}/environments", {"name": "env", "requirements": [S]}),
    ("POST", f"{V1}/environments", {"name": "env", "version": S}),
    ("POST", f"{V1}/computes", {"name": "c1", "type": "local", "description": S}),
    ("POST", f"{V1}/jobs", _job(command=S)),
    ("POST", f"{V1}/jobs", _job(display_name=S)),
    ("POST", f"{V1}/jobs", _job(experiment_name=S)),
    ("POST", f"{V1}/jobs", _job(tags={"k": S})),
    ("POST", f"{V1}/jobs", _job(environment_variables={"K": S})),
    ("POST", f"{V1}/jobs", _job(inputs={"a": S})),
    ("POST", f"{V1}/jobs", {**_job(), "git": {"commit": S}}),
    ("POST", f"{V1}/jobs", {**_job(), "source": S}),
    ("POST", f"{V1}/online-endpoints", {"spec": {"name": "ep-one", "description": S}}),
    ("POST", f"{V1}/batch-endpoints", {"spec": {"name": "bep-one", "description": S}}),
]


@pytest.mark.parametrize(("method", "path", "body"), BAD_TEXT)
def test_a_lone_surrogate_in_a_native_body_is_a_400_and_writes_nothing(
    client: InProcess, seeded: dict[str, str], method: str, path: str, body: dict[str, Any]
) -> None:
    before = snapshot(client, seeded)
    target = path.format(**seeded)
    filled = json.loads(json.dumps(body).replace("{run}", seeded["run"]).replace("{exp}", seeded["exp"]))
    message = refused(send(client, method, target, filled))
    assert "U+D800, a lone surrogate" in message
    assert snapshot(client, seeded) == before


BIG = [10**23, INT64_MAX + 1, INT64_MIN - 1]
BAD_INTS = [
    ("POST", f"{V1}/jobs", lambda n: _job(limits={"timeout": n}), "spec.limits.timeout"),
    ("POST", f"{V1}/jobs", lambda n: _job(tags={"k": n}), "spec.tags.k"),
    ("POST", f"{V1}/jobs", lambda n: _job(inputs={"a": n}), "spec.inputs.a"),
    ("POST", f"{V1}/jobs", lambda n: _job(environment_variables={"K": n}), "spec.environment_variables.K"),
    (
        "POST",
        f"{V1}/online-endpoints",
        lambda n: {"spec": {"name": "ep-two", "tags": {"a": n}}},
        "spec.tags.a",
    ),
    ("POST", f"{V1}/runs", lambda n: {"experiment_id": "{exp}", "start_time": n}, "start_time"),
    ("PATCH", f"{V1}/runs/{{run}}", lambda n: {"end_time": n}, "end_time"),
    ("POST", f"{V1}/runs/search", lambda n: {"experiment_ids": ["{exp}"], "max_results": n}, "max_results"),
    ("PUT", f"{V1}/models/hardened/aliases/champion", lambda n: {"version": n}, "version"),
    (
        "POST",
        f"{V1}/computes",
        lambda n: {"name": "c2", "type": "local", "max_concurrent": n},
        "max_concurrent",
    ),
]


@pytest.mark.parametrize("number", BIG, ids=["1e23", "2^63", "-2^63-1"])
@pytest.mark.parametrize(("method", "path", "make", "where"), BAD_INTS, ids=[b[3] for b in BAD_INTS])
def test_an_integer_past_64_bits_is_a_400_naming_its_field_and_writes_nothing(
    client: InProcess, seeded: dict[str, str], method: str, path: str, make: Any, where: str, number: int
) -> None:
    before = snapshot(client, seeded)
    body = json.loads(json.dumps(make(number)).replace("{exp}", seeded["exp"]))
    message = refused(send(client, method, path.format(**seeded), body))
    assert message.startswith(f"{where}: integer "), message
    assert "does not fit in 64 bits" in message
    assert snapshot(client, seeded) == before


def test_a_job_timeout_beyond_a_year_is_refused_and_a_year_is_accepted(
    client: InProcess, seeded: dict[str, str]
) -> None:
    before = snapshot(client, seeded)
    message = refused(send(client, "POST", f"{V1}/jobs", _job(limits={"timeout": INT64_MAX})), "INVALID_SPEC")
    assert "limits.timeout" in message and f"{MAX_TIMEOUT_S}" in message
    assert snapshot(client, seeded) == before
    job = ok(send(client, "POST", f"{V1}/jobs", _job(limits={"timeout": MAX_TIMEOUT_S})))
    assert job["timeout_s"] == MAX_TIMEOUT_S


def test_mlflow_refuses_a_lone_surrogate_and_a_65_bit_step(client: InProcess, seeded: dict[str, str]) -> None:
    before = snapshot(client, seeded)
    for body in (
        {"name": SURROGATE},
        {"name": "fine", "tags": [{"key": "k", "value": SURROGATE}]},
    ):
        response = send(client, "POST", f"{MLFLOW}/experiments/create", body)
        assert "surrogate" in refused(response)
    run = seeded["run"]
    for step in (INT64_MAX + 1, 2**64 - 1):
        metric = {"run_id": run, "key": "m", "value": 1.0, "timestamp": 1, "step": step}
        response = send(client, "POST", f"{MLFLOW}/runs/log-metric", metric)
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "64 bits" in refused(response)
    assert snapshot(client, seeded) == before


NAME_CASES = [
    ("POST", f"{V1}/experiments", lambda n: {"name": n}),
    ("PATCH", f"{V1}/experiments/{{exp}}", lambda n: {"name": n}),
    ("POST", f"{V1}/runs", lambda n: {"experiment_id": "{exp}", "name": n}),
    ("PATCH", f"{V1}/runs/{{run}}", lambda n: {"name": n}),
    ("POST", f"{V1}/runs/{{run}}/tags", lambda n: {"tags": {n: "v"}}),
    ("POST", f"{V1}/runs/{{run}}/params", lambda n: {"params": {n: "v"}}),
    (
        "POST",
        f"{V1}/runs/{{run}}/metrics",
        lambda n: {"metrics": [{"key": n, "steps": [0], "values": [1.0], "timestamps": [1]}]},
    ),
    ("POST", f"{V1}/models", lambda n: {"name": n}),
    ("PATCH", f"{V1}/models/hardened", lambda n: {"tags": {n: "v"}}),
    ("PUT", f"{V1}/models/hardened/aliases/{{name}}", lambda n: {"version": 1}),
    ("POST", f"{V1}/data", lambda n: {"name": n, "path": "s3://bucket/x"}),
    ("POST", f"{V1}/environments", lambda n: {"name": n}),
    ("POST", f"{V1}/computes", lambda n: {"name": n, "type": "local"}),
    ("POST", f"{V1}/jobs", lambda n: _job(name=n)),
    ("POST", f"{V1}/jobs", lambda n: _job(display_name=n)),
    ("POST", f"{V1}/jobs", lambda n: _job(experiment_name=n)),
    ("POST", f"{V1}/jobs", lambda n: _job(tags={n: "v"})),
    ("POST", f"{V1}/jobs", lambda n: _job(outputs={"model": {"type": "uri_folder", "name": n}})),
    ("POST", f"{V1}/online-endpoints", lambda n: {"spec": {"name": n}}),
    ("POST", f"{V1}/online-endpoints", lambda n: {"spec": {"name": "ep-three", "tags": {n: "v"}}}),
    (
        "PUT",
        f"{V1}/online-endpoints/ep-four/deployments/blue",
        lambda n: {"spec": {"name": n, "endpoint_name": "ep-four"}},
    ),
    ("POST", f"{V1}/batch-endpoints", lambda n: {"spec": {"name": n}}),
    (
        "POST",
        f"{V1}/batch-endpoints/bep-two/deployments",
        lambda n: {"spec": {"name": n, "endpoint_name": "bep-two"}},
    ),
    ("POST", f"{MLFLOW}/experiments/create", lambda n: {"name": n}),
    ("POST", f"{MLFLOW}/experiments/update", lambda n: {"experiment_id": "{exp}", "new_name": n}),
    ("POST", f"{MLFLOW}/runs/create", lambda n: {"experiment_id": "{exp}", "run_name": n}),
    ("POST", f"{MLFLOW}/runs/set-tag", lambda n: {"run_id": "{run}", "key": n, "value": "v"}),
    ("POST", f"{MLFLOW}/registered-models/create", lambda n: {"name": n}),
    ("POST", f"{MLFLOW}/registered-models/rename", lambda n: {"name": "hardened", "new_name": n}),
    ("POST", f"{MLFLOW}/logged-models", lambda n: {"experiment_id": "{exp}", "name": n}),
    (
        "POST",
        f"{MLFLOW}/runs/log-inputs",
        lambda n: {
            "run_id": "{run}",
            "datasets": [{"dataset": {"name": n, "digest": "d", "source_type": "local", "source": "{}"}}],
        },
    ),
]


@pytest.mark.parametrize(("method", "path", "make"), NAME_CASES, ids=[f"{m} {p}" for m, p, _ in NAME_CASES])
@pytest.mark.parametrize("ch", ["\u202e", "\u2066", "\u200b", "\ufeff"], ids=code_point)
def test_every_resource_name_and_key_refuses_invisible_characters_by_code_point(
    client: InProcess, seeded: dict[str, str], method: str, path: str, make: Any, ch: str
) -> None:
    before = snapshot(client, seeded)
    name = f"abc{ch}def"
    body = json.loads(json.dumps(make(name)).replace("{exp}", seeded["exp"]).replace("{run}", seeded["run"]))
    response = send(client, method, path.format(name=name, **seeded), body)
    assert response.status_code == 400, response.text
    assert f"{code_point(ch)} ({unicodedata.name(ch)})" in response.text
    assert snapshot(client, seeded) == before


def test_every_native_and_mlflow_request_body_is_a_checked_model(app: FastAPI) -> None:
    """A handler taking a bare dict or list body would skip the surrogate and 64-bit check
    (MLflow handlers parse theirs into an MlflowIn through a dependency, no body field)."""
    bodies = 0
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.body_field is not None:
            annotation = route.body_field.field_info.annotation
            assert isinstance(annotation, type), context.path_format
            assert issubclass(annotation, Dto | MlflowIn), context.path_format
            bodies += 1
    assert bodies >= 30


def test_names_read_from_yaml_refuse_invisible_characters_with_their_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_spec('command: echo\ndisplay_name: "a\\u202eb"\n', CommandJobSpec, "job.yml")
    assert info.value.details["line"] == 2
    assert "U+202E (RIGHT-TO-LEFT OVERRIDE)" in info.value.message


def test_offsets_past_64_bits_in_query_strings_are_not_500s(app: FastAPI, client: InProcess) -> None:
    refused(client.get(f"{V1}/data", params={"offset": 2**63}))
    job = ok(send(client, "POST", f"{V1}/jobs", _job(name="logged")))
    log = app.state.settings.jobs_dir / "default" / job["name"] / "stream.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"hello\n")
    for offset in (3, 2**63 - 1, 2**70):  # seek() raised ValueError, then OSError, past the end
        response = client.get(f"{V1}/jobs/{job['name']}/logs", params={"offset": offset})
        assert response.status_code == 200, response.text
        assert response.content == (b"lo\n" if offset == 3 else b"")


@pytest.mark.parametrize(
    ("method", "path", "filter_"),
    [
        ("GET", f"{MLFLOW}/model-versions/search", "version_number > 99999999999999999999999"),
        ("GET", f"{MLFLOW}/model-versions/search", "name = 'x' and version_number = -9223372036854775809"),
        ("POST", f"{MLFLOW}/experiments/search", "creation_time > 99999999999999999999999"),
        ("POST", f"{MLFLOW}/experiments/search", "last_update_time < 1e30"),
        ("POST", f"{V1}/runs/search", "attributes.start_time > 99999999999999999999999"),
    ],
)
def test_a_filter_number_past_64_bits_is_a_400(
    client: InProcess, seeded: dict[str, str], method: str, path: str, filter_: str
) -> None:
    if method == "GET":
        response = client.get(path, params={"filter": filter_})
    elif path.startswith(V1):
        response = send(client, method, path, {"experiment_ids": [seeded["exp"]], "filter": filter_})
    else:
        response = send(client, method, path, {"filter": filter_})
    assert "out of range" in refused(response, "INVALID_FILTER")
