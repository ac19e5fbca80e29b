"""Bad input against a real server: a clear 4xx with a stable code, nothing written, never a 500.

One server serves the whole module. Every request is followed by a snapshot of everything a
client can see (runs, experiments, models, metric history, artifact listings) and of every
file under the test's folder, compared with the one taken before it.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

import shipyard
from shipyard.client.client import Client
from tests.conftest import AUTH, ServerProcess

pytestmark = pytest.mark.slow

UNKNOWN_RUN = "0" * 32
SECRET = b"TOP-SECRET: must never be served"
_DB_FILES = ("shipyard.db", "shipyard.db-wal", "shipyard.db-shm")


@dataclass
class Live:
    proc: ServerProcess
    http: httpx.Client
    root: Path
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        """Where the seeded run's artifacts live on disk."""
        return self.proc.home / "artifacts" / "default" / self.ids["exp"] / self.ids["run"] / "artifacts"

    def raw(self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
        """Send ``target`` byte for byte (httpx would normalise ``..`` away before sending)."""
        url = urlsplit(self.proc.url)
        conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
        try:
            conn.request(method, target, body=body, headers={**AUTH, **(headers or {})})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


def _batch(
    key: str, steps: list[int], values: list[Any], timestamps: list[int] | None = None
) -> dict[str, Any]:
    stamps = timestamps if timestamps is not None else [1_700_000_000_000 + s for s in steps]
    return {"metrics": [{"key": key, "steps": steps, "values": values, "timestamps": stamps}]}


def _ok(response: httpx.Response) -> Any:
    assert response.is_success, response.text
    return response.json() if response.content else None


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("bad-input")
    (root / "outside").mkdir()
    (root / "outside" / "secret.txt").write_bytes(SECRET)
    proc = ServerProcess(root / "home").start()
    client = httpx.Client(base_url=proc.url, timeout=60, headers=AUTH)
    live = Live(proc, client, root)
    try:
        exp = _ok(client.post("/api/v1/experiments", json={"name": "seeded"}))
        other = _ok(client.post("/api/v1/experiments", json={"name": "other"}))
        run = _ok(
            client.post(
                "/api/v1/runs",
                json={"experiment_id": exp["id"], "params": {"lr": "0.1"}, "tags": {"team": "a"}},
            )
        )
        second = _ok(client.post("/api/v1/runs", json={"experiment_id": exp["id"], "name": "second"}))
        _ok(client.post(f"/api/v1/runs/{run['id']}/metrics", json=_batch("loss", [0, 1, 2], [0.9, 0.5, 0.2])))
        _ok(client.put(f"/api/v1/runs/{run['id']}/artifacts/model/weights.bin", content=b"weights-v1"))
        _ok(
            client.post(
                "/api/v1/models/seeded-model/versions", json={"run_id": run["id"], "artifact_path": "model"}
            )
        )
        live.ids.update(
            exp=exp["id"], other=other["id"], run=run["id"], second=second["id"], model="seeded-model"
        )
        yield live
    finally:
        client.close()
        proc.stop()


def snapshot(live: Live) -> dict[str, Any]:
    """Everything a client can observe, plus every file under the module's folder."""
    h, ids = live.http, live.ids
    state: dict[str, Any] = {
        "experiments": h.get("/api/v1/experiments", params={"view": "all"}).json(),
        "runs": h.post(
            "/api/v1/runs/search", json={"experiment_ids": [ids["exp"], ids["other"]], "view": "all"}
        ).json(),
        "history": h.get(f"/api/v1/runs/{ids['run']}/metrics/history", params={"key": "loss"}).json(),
        "root_listing": h.get(f"/api/v1/runs/{ids['run']}/artifacts").json(),
        "model_listing": h.get(f"/api/v1/runs/{ids['run']}/artifacts", params={"path": "model"}).json(),
        "models": h.get("/api/v1/models").json(),
        "versions": h.get("/api/v1/models/seeded-model/versions").json(),
        "model_history": h.get("/api/v1/models/seeded-model/history").json(),
    }
    files = {}
    for dirpath, _dirs, names in os.walk(live.root):
        for name in names:
            path = Path(dirpath, name)
            if name in _DB_FILES or Path(dirpath).name == "shipyard.db-hosts":
                continue  # the database, and the server's claim on it (rewritten every 10 s)
            content = path.read_bytes() if path.is_file() else b"<dangling>"
            files[str(path.relative_to(live.root))] = hashlib.sha256(content).hexdigest()
    state["files"] = files
    return state


def _no_crash_since(live: Live, mark: int) -> None:
    logged = "".join(live.proc.output[mark:])
    assert "Traceback" not in logged and "unhandled error" not in logged, logged


def _format(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {_format(k, ids): _format(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_format(v, ids) for v in value]
    return value


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    status: int
    code: str
    hint: str  # the message names what to fix
    json: Any = None
    content: bytes | None = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


JSON = {"Content-Type": "application/json"}
RUN = "/api/v1/runs/{run}"
BATCH = f"{RUN}/metrics"

CASES = [
    # -- unknown ids: 404 NOT_FOUND ---------------------------------------------------
    Case("get unknown run", "GET", f"/api/v1/runs/{UNKNOWN_RUN}", 404, "NOT_FOUND", "no run"),
    Case("params on unknown run", "POST", f"/api/v1/runs/{UNKNOWN_RUN}/params", 404, "NOT_FOUND", "no run",
         json={"params": {"a": "1"}}),
    Case("tags on unknown run", "POST", f"/api/v1/runs/{UNKNOWN_RUN}/tags", 404, "NOT_FOUND", "no run",
         json={"tags": {"a": "1"}}),
    Case("metrics on unknown run", "POST", f"/api/v1/runs/{UNKNOWN_RUN}/metrics", 404, "NOT_FOUND", "no run",
         json=_batch("loss", [0], [1.0])),
    Case("history of unknown run", "GET", f"/api/v1/runs/{UNKNOWN_RUN}/metrics/history", 404, "NOT_FOUND",
         "no run", params={"key": "loss"}),
    Case("finish unknown run", "PATCH", f"/api/v1/runs/{UNKNOWN_RUN}", 404, "NOT_FOUND", "no run",
         json={"status": "FINISHED"}),
    Case("delete unknown run", "DELETE", f"/api/v1/runs/{UNKNOWN_RUN}", 404, "NOT_FOUND", "no run"),
    Case("upload to unknown run", "PUT", f"/api/v1/runs/{UNKNOWN_RUN}/artifacts/a.txt", 404, "NOT_FOUND",
         "no run", content=b"x"),
    Case("run in unknown experiment", "POST", "/api/v1/runs", 404, "NOT_FOUND", "no experiment",
         json={"experiment_id": "424242"}),
    Case("get unknown experiment", "GET", "/api/v1/experiments/424242", 404, "NOT_FOUND", "no experiment"),
    Case("experiment id not a number", "GET", "/api/v1/experiments/abc", 404, "NOT_FOUND", "no experiment"),
    Case("experiment id too big", "GET", "/api/v1/experiments/" + "9" * 30, 404, "NOT_FOUND", "no experiment"),
    Case("experiment id unicode digit", "GET", "/api/v1/experiments/%C2%B2", 404, "NOT_FOUND", "no experiment"),
    Case("search unknown experiment", "POST", "/api/v1/runs/search", 404, "NOT_FOUND", "no experiment",
         json={"experiment_ids": ["424242"]}),
    Case("get unknown model", "GET", "/api/v1/models/nope", 404, "NOT_FOUND", "no registered model"),
    Case("versions of unknown model", "GET", "/api/v1/models/nope/versions", 404, "NOT_FOUND", "nope"),
    Case("history of unknown model", "GET", "/api/v1/models/nope/history", 404, "NOT_FOUND", "nope"),
    Case("alias on unknown model", "PUT", "/api/v1/models/nope/aliases/champion", 404, "NOT_FOUND", "nope",
         json={"version": 1}),
    Case("unknown version", "GET", "/api/v1/models/{model}/versions/99", 404, "NOT_FOUND", "no version"),
    Case("version too big", "GET", "/api/v1/models/{model}/versions/" + "9" * 30, 404, "NOT_FOUND", "version"),
    Case("patch version too big", "PATCH", "/api/v1/models/{model}/versions/" + "9" * 30, 404, "NOT_FOUND",
         "version", json={"description": "x"}),
    Case("alias to version too big", "PUT", "/api/v1/models/{model}/aliases/champion", 404, "NOT_FOUND",
         "version", json={"version": 2**40}),
    Case("unknown alias", "GET", "/api/v1/models/{model}/versions/nope", 404, "NOT_FOUND", "no alias"),
    Case("register from unknown run", "POST", "/api/v1/models/{model}/versions", 404, "NOT_FOUND", "no run",
         json={"run_id": UNKNOWN_RUN, "artifact_path": "model"}),
    Case("register missing artifact", "POST", "/api/v1/models/{model}/versions", 404, "NOT_FOUND",
         "upload it before registering", json={"run_id": "{run}", "artifact_path": "nothing-here"}),
    Case("download missing artifact", "GET", f"{RUN}/artifacts/nothing.bin", 404, "NOT_FOUND", "does not exist"),
    Case("list missing artifact folder", "GET", f"{RUN}/artifacts", 404, "NOT_FOUND", "no artifact folder",
         params={"path": "nothing"}),
    Case("unknown endpoint", "GET", "/api/v1/nope", 404, "NOT_FOUND", "no such endpoint"),
    Case("unknown api version", "POST", "/api/v9/runs", 404, "NOT_FOUND", "no such endpoint", json={}),
    # -- conflicts: 409 ---------------------------------------------------------------
    Case("param re-set", "POST", f"{RUN}/params", 409, "PARAM_ALREADY_SET", "immutable",
         json={"params": {"lr": "0.2"}}),
    Case("param re-set with a new one", "POST", f"{RUN}/params", 409, "PARAM_ALREADY_SET", "immutable",
         json={"params": {"fresh": "1", "lr": "0.2"}}),
    Case("duplicate experiment", "POST", "/api/v1/experiments", 409, "ALREADY_EXISTS", "already exists",
         json={"name": "seeded"}),
    Case("rename to a taken name", "PATCH", "/api/v1/experiments/{other}", 409, "ALREADY_EXISTS",
         "already exists", json={"name": "seeded"}),
    Case("duplicate model", "POST", "/api/v1/models", 409, "ALREADY_EXISTS", "already exists",
         json={"name": "{model}"}),
    # -- limits and key syntax: 400 ---------------------------------------------------
    Case("param key too long", "POST", f"{RUN}/params", 400, "INVALID_ARGUMENT", "limit is 250",
         json={"params": {"k" * 251: "v"}}),
    Case("param value too long", "POST", f"{RUN}/params", 400, "INVALID_ARGUMENT", "limit is 6000",
         json={"params": {"fresh": "v" * 6001}}),
    Case("tag key too long", "POST", f"{RUN}/tags", 400, "INVALID_ARGUMENT", "limit is 250",
         json={"tags": {"k" * 251: "v"}}),
    Case("tag value too long", "POST", f"{RUN}/tags", 400, "INVALID_ARGUMENT", "limit is 8000",
         json={"tags": {"team": "v" * 8001}}),
    Case("metric key too long", "POST", BATCH, 400, "INVALID_ARGUMENT", "limit is 250",
         json=_batch("k" * 251, [0], [1.0])),
    Case("param key with a star", "POST", f"{RUN}/params", 400, "INVALID_ARGUMENT", "may only contain",
         json={"params": {"bad*key": "1"}}),
    Case("tag key with a newline", "POST", f"{RUN}/tags", 400, "INVALID_ARGUMENT", "may only contain",
         json={"tags": {"bad\nkey": "1"}}),
    Case("metric key with a quote", "POST", BATCH, 400, "INVALID_ARGUMENT", "may only contain",
         json=_batch("it's", [0], [1.0])),
    Case("metric key climbing up", "POST", BATCH, 400, "INVALID_ARGUMENT", "may only contain",
         json=_batch("../loss", [0], [1.0])),
    Case("experiment name too long", "POST", "/api/v1/experiments", 400, "INVALID_ARGUMENT", "longer than 256",
         json={"name": "x" * 300}),
    Case("run name with control character", "PATCH", RUN, 400, "INVALID_ARGUMENT", "control character",
         json={"name": "a\x07b"}),
    Case("invalid status", "PATCH", RUN, 400, "INVALID_ARGUMENT", "RUNNING, SCHEDULED, FINISHED",
         json={"status": "DONE"}),
    Case("start time out of range", "POST", "/api/v1/runs", 400, "INVALID_ARGUMENT", "start_time",
         json={"experiment_id": "{exp}", "start_time": 2**64}),
    Case("negative end time", "PATCH", RUN, 400, "INVALID_ARGUMENT", "end_time", json={"end_time": -5}),
    Case("model description too long", "POST", "/api/v1/models", 400, "INVALID_ARGUMENT", "the limit is 65536",
         json={"name": "huge-description", "description": "d" * 70_000}),
    Case("model name with a slash", "POST", "/api/v1/models", 400, "INVALID_ARGUMENT", "cannot contain '/'",
         json={"name": "team/churn"}),
    Case("reserved alias", "PUT", "/api/v1/models/{model}/aliases/latest", 400, "INVALID_ARGUMENT", "reserved",
         json={"version": 1}),
    Case("bad workspace header", "GET", "/api/v1/experiments", 400, "INVALID_ARGUMENT", "Shipyard-Workspace",
         headers={"Shipyard-Workspace": "Bad Space!"}),
    Case("workspace header too long", "POST", "/api/v1/experiments", 400, "INVALID_ARGUMENT",
         "Shipyard-Workspace", json={"name": "new"}, headers={"Shipyard-Workspace": "w" * 100}),
    Case("unknown view", "GET", "/api/v1/experiments", 400, "INVALID_ARGUMENT", "view must be one of",
         params={"view": "sideways"}),
    # -- malformed bodies: 400 --------------------------------------------------------
    Case("malformed json", "POST", "/api/v1/runs", 400, "INVALID_ARGUMENT", "json",
         content=b'{"experiment_id": ', headers=JSON),
    Case("malformed json params", "POST", f"{RUN}/params", 400, "INVALID_ARGUMENT", "json",
         content=b'{"params": {"a": "1",}}', headers=JSON),
    Case("malformed json batch", "POST", BATCH, 400, "INVALID_ARGUMENT", "json",
         content=b'{"metrics": [', headers=JSON),
    Case("empty batch body", "POST", BATCH, 400, "INVALID_ARGUMENT", "json", content=b"", headers=JSON),
    Case("param value not a string", "POST", f"{RUN}/params", 400, "INVALID_ARGUMENT", "params.a",
         json={"params": {"a": 1}}),
    Case("params not an object", "POST", f"{RUN}/params", 400, "INVALID_ARGUMENT", "params",
         json={"params": ["a"]}),
    Case("body not an object", "POST", f"{RUN}/tags", 400, "INVALID_ARGUMENT", "body", json=[1, 2]),
    Case("experiment id a number", "POST", "/api/v1/runs", 400, "INVALID_ARGUMENT", "experiment_id",
         json={"experiment_id": 1}),
    Case("unknown field", "POST", "/api/v1/experiments", 400, "INVALID_ARGUMENT", "colour",
         json={"name": "new", "colour": "red"}),
    Case("experiment ids not a list", "POST", "/api/v1/runs/search", 400, "INVALID_ARGUMENT", "experiment_ids",
         json={"experiment_ids": "{exp}"}),
    Case("max_results not a number", "POST", "/api/v1/runs/search", 400, "INVALID_ARGUMENT", "max_results",
         json={"experiment_ids": ["{exp}"], "max_results": "many"}),
    Case("alias version a string", "PUT", "/api/v1/models/{model}/aliases/champion", 400, "INVALID_ARGUMENT",
         "version", json={"version": "one"}),
    # -- metric batches: 400 ----------------------------------------------------------
    Case("batch lengths differ", "POST", BATCH, 400, "INVALID_ARGUMENT", "same length",
         json=_batch("loss", [10, 11], [1.0], [1, 2])),
    Case("batch value not a number", "POST", BATCH, 400, "INVALID_ARGUMENT", "values",
         json=_batch("loss", [10], ["abc"])),
    Case("batch value null", "POST", BATCH, 400, "INVALID_ARGUMENT", "values", json=_batch("loss", [10], [None])),
    Case("batch step too big", "POST", BATCH, 400, "INVALID_ARGUMENT", "64 bits",
         json=_batch("loss", [2**64], [1.0], [1])),
    Case("batch step fractional", "POST", BATCH, 400, "INVALID_ARGUMENT", "steps",
         json=_batch("loss", [1.5], [1.0], [1])),  # type: ignore[list-item]
    Case("batch step a boolean", "POST", BATCH, 400, "INVALID_ARGUMENT", "steps",
         json=_batch("loss", [True], [1.0], [1])),  # type: ignore[list-item]
    Case("batch value a boolean", "POST", BATCH, 400, "INVALID_ARGUMENT", "values", json=_batch("loss", [10], [True])),
    Case("batch value a numeric string", "POST", BATCH, 400, "INVALID_ARGUMENT", "values",
         json=_batch("loss", [10], ["1.5"])),
    Case("batch negative timestamp", "POST", BATCH, 400, "INVALID_ARGUMENT", "milliseconds since the epoch",
         json=_batch("loss", [10], [1.0], [-1])),
    Case("batch without metrics", "POST", BATCH, 400, "INVALID_ARGUMENT", "metrics", json={"points": []}),
    Case("idempotency key too short", "POST", BATCH, 400, "INVALID_ARGUMENT", "8 to 64",
         json=_batch("loss", [10], [1.0]), headers={"Idempotency-Key": "abc"}),
    Case("idempotency key too long", "POST", BATCH, 400, "INVALID_ARGUMENT", "8 to 64",
         json=_batch("loss", [10], [1.0]), headers={"Idempotency-Key": "k" * 65}),
    # -- search: filters, order, pages, sizes: 400 ------------------------------------
    *[
        Case(f"filter {text!r}", "POST", "/api/v1/runs/search", 400, "INVALID_FILTER", hint,
             json={"experiment_ids": ["{exp}"], "filter": text})
        for text, hint in [
            ("metrics.loss < 1 OR params.lr = '0.1'", "OR is not supported"),
            ("colour.loss < 1", "unknown entity"),
            ("metrics.loss <", "ends early"),
            ("params.lr = '0.1", "cannot parse"),
            ("metrics.loss < 'low'", "compares with a number"),
            ("attributes.start_time > 1e30", "out of range"),
            ("); DROP TABLE runs; --", "cannot parse"),
        ]
    ],
    Case("order_by garbage", "POST", "/api/v1/runs/search", 400, "INVALID_FILTER", "order_by",
         json={"experiment_ids": ["{exp}"], "order_by": ["metrics.loss SIDEWAYS"]}),
    Case("order_by too long", "POST", "/api/v1/runs/search", 400, "INVALID_FILTER", "at most 10",
         json={"experiment_ids": ["{exp}"], "order_by": ["metrics.loss DESC"] * 11}),
    Case("filter too long", "POST", "/api/v1/runs/search", 400, "INVALID_FILTER", "at most 40",
         json={"experiment_ids": ["{exp}"], "filter": " AND ".join(["metrics.loss > 0"] * 41)}),
    Case("too many experiments", "POST", "/api/v1/runs/search", 400, "INVALID_ARGUMENT", "at most 1000",
         json={"experiment_ids": ["{exp}"] * 1001}),
    Case("search page token garbage", "POST", "/api/v1/runs/search", 400, "INVALID_PAGE_TOKEN", "page_token",
         json={"experiment_ids": ["{exp}"], "page_token": "not-a-token!!"}),
    Case("experiments page token garbage", "GET", "/api/v1/experiments", 400, "INVALID_PAGE_TOKEN",
         "page_token", params={"page_token": "bm90IGpzb24"}),
    Case("history page token garbage", "GET", f"{RUN}/metrics/history", 400, "INVALID_PAGE_TOKEN",
         "page_token", params={"key": "loss", "page_token": "%%%"}),
    Case("search max_results zero", "POST", "/api/v1/runs/search", 400, "INVALID_ARGUMENT", "max_results",
         json={"experiment_ids": ["{exp}"], "max_results": 0}),
    Case("search max_results huge", "POST", "/api/v1/runs/search", 400, "INVALID_ARGUMENT", "max_results",
         json={"experiment_ids": ["{exp}"], "max_results": 10**9}),
    Case("experiments max_results zero", "GET", "/api/v1/experiments", 400, "INVALID_ARGUMENT", "max_results",
         params={"max_results": 0}),
    Case("experiments max_results huge", "GET", "/api/v1/experiments", 400, "INVALID_ARGUMENT", "max_results",
         params={"max_results": 5000}),
    Case("history max_results zero", "GET", f"{RUN}/metrics/history", 400, "INVALID_ARGUMENT", "max_results",
         params={"key": "loss", "max_results": 0}),
    Case("history max_points one", "GET", f"{RUN}/metrics/history", 400, "INVALID_ARGUMENT", "max_points",
         params={"key": "loss", "max_points": 1}),
    Case("models max_results zero", "GET", "/api/v1/models", 400, "INVALID_ARGUMENT", "max_results",
         params={"max_results": 0}),
    Case("models offset huge", "GET", "/api/v1/models", 400, "INVALID_ARGUMENT", "offset",
         params={"offset": 10**30}),
    Case("model history offset huge", "GET", "/api/v1/models/{model}/history", 400, "INVALID_ARGUMENT",
         "offset", params={"offset": 10**30}),
    # -- artifacts: 400 ---------------------------------------------------------------
    Case("sha256 mismatch", "PUT", f"{RUN}/artifacts/model/weights.bin", 400, "INVALID_ARGUMENT", "sha256",
         content=b"weights-v2", headers={"X-Content-SHA256": hashlib.sha256(b"other").hexdigest()}),
    Case("sha256 malformed", "PUT", f"{RUN}/artifacts/new.bin", 400, "INVALID_ARGUMENT", "64 hex",
         content=b"data", headers={"X-Content-SHA256": "xyz"}),
    Case("upload below a file", "PUT", f"{RUN}/artifacts/model/weights.bin/inner", 400, "INVALID_PATH",
         "file already exists", content=b"data"),
    Case("upload over a folder", "PUT", f"{RUN}/artifacts/model", 400, "INVALID_PATH", "folder",
         content=b"data"),
    Case("artifact name too long", "PUT", f"{RUN}/artifacts/" + "n" * 300, 400, "INVALID_PATH", "255",
         content=b"data"),
    Case("artifact path too long", "PUT", f"{RUN}/artifacts/" + "d/" * 600 + "f", 400, "INVALID_PATH", "1024",
         content=b"data"),
    Case("list a file as a folder", "GET", f"{RUN}/artifacts", 400, "INVALID_ARGUMENT", "is a file",
         params={"path": "model/weights.bin"}),
    Case("list above the root", "GET", f"{RUN}/artifacts", 400, "INVALID_PATH", "'..'",
         params={"path": "../../.."}),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_request_is_a_clear_4xx_and_writes_nothing(live: Live, case: Case) -> None:
    before = snapshot(live)
    mark = len(live.proc.output)
    response = live.http.request(
        case.method,
        _format(case.path, live.ids),
        json=_format(case.json, live.ids),
        content=case.content,
        params=case.params,
        headers=case.headers,
    )
    assert response.status_code < 500, response.text
    assert response.status_code == case.status, response.text
    body = response.json()
    assert list(body) == ["error"] and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == case.code, body
    assert case.hint.lower() in body["error"]["message"].lower(), body
    assert snapshot(live) == before
    _no_crash_since(live, mark)


def test_oversized_batch_is_refused_whole(live: Live) -> None:
    before = snapshot(live)
    n = 200_001
    payload = json.dumps(_batch("big", list(range(n)), [0.0] * n, [1] * n)).encode()
    response = live.http.post(f"/api/v1/runs/{live.ids['run']}/metrics", content=payload, headers=JSON)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "split the batch" in response.json()["error"]["message"]
    assert snapshot(live) == before


def test_page_token_from_another_query_is_refused(live: Live) -> None:
    h, ids = live.http, live.ids
    search = {"experiment_ids": [ids["exp"]], "max_results": 1}
    token = _ok(h.post("/api/v1/runs/search", json=search))["next_page_token"]
    assert token
    for other in (
        {**search, "filter": "attributes.run_name = 'second'"},
        {**search, "order_by": ["metrics.loss"]},
    ):
        response = h.post("/api/v1/runs/search", json={**other, "page_token": token})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "INVALID_PAGE_TOKEN"
        assert "different query" in response.json()["error"]["message"]
    history = h.get(f"/api/v1/runs/{ids['run']}/metrics/history", params={"key": "loss", "max_results": 1})
    history_token = _ok(history)["next_page_token"]
    for params in ({"key": "acc"}, {"key": "loss", "max_results": 1}):
        response = h.get(
            f"/api/v1/runs/{ids['second']}/metrics/history", params={**params, "page_token": history_token}
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "INVALID_PAGE_TOKEN"
    response = h.get("/api/v1/experiments", params={"page_token": token})
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_PAGE_TOKEN"


def test_experiment_names_with_slashes_work_through_the_sdk(live: Live) -> None:
    """Names like MLflow's "/Users/me/exp" are good input: found by name, reused by start_run."""
    shipyard.connect(live.proc.url)
    ids = set()
    for name in ("team/churn", "/Users/alice/exp"):
        for _ in range(2):  # the second start_run must find the experiment the first created
            with shipyard.start_run(experiment=name) as run:
                run.log_metric("loss", 0.5)
            ids.add((name, run.info.experiment_id))
    assert len(ids) == 2
    client = Client(live.proc.url)
    for name, experiment_id in ids:
        assert client.get_experiment_by_name(name).id == experiment_id
        assert len(client.search_runs([experiment_id])) == 2
    client.close()


# -- artifact paths that try to leave the run's folder ---------------------------------

UP = "../" * 6  # from the run's artifact folder up to the module's folder, holding outside/
TRICKS = {
    "dot-dot": f"{UP}outside/pwned.txt",
    "dot-dot inside": "model/../../../../../../../outside/pwned.txt",
    "absolute": "/tmp/pwned.txt",
    "absolute encoded": "%2Ftmp%2Fpwned.txt",
    "encoded dot-dot": "%2e%2e%2f" * 6 + "outside/pwned.txt",
    "double-encoded dot-dot": "%252e%252e%252f" * 6 + "outside/pwned.txt",
    "backslashes": "..\\" * 6 + "outside\\pwned.txt",
    "encoded backslashes": "..%5C" * 6 + "outside%5Cpwned.txt",
    "nul byte": "pwned.txt%00.png",
    "drive letter": "C:/pwned.txt",
    "home": "~/pwned.txt",
}
SECRET_TRICKS = {name: path.replace("pwned.txt", "secret.txt") for name, path in TRICKS.items()}


def _no_pwned_file(live: Live) -> None:
    for folder in [live.run_dir, *live.run_dir.parents]:
        assert not (folder / "pwned.txt").exists(), folder
        assert not (folder / "outside" / "pwned.txt").exists(), folder


def _assert_refused(live: Live, status: int, body: bytes) -> None:
    assert status == 400, body
    assert SECRET not in body
    error = json.loads(body)["error"]
    assert error["code"] == "INVALID_PATH", error
    assert error["message"]


@pytest.mark.parametrize("trick", list(TRICKS), ids=list(TRICKS))
def test_upload_cannot_leave_the_artifact_root(live: Live, trick: str) -> None:
    before = snapshot(live)
    mark = len(live.proc.output)
    target = f"/api/v1/runs/{live.ids['run']}/artifacts/{TRICKS[trick]}"
    status, body = live.raw("PUT", target, b"pwned", {"Content-Type": "application/octet-stream"})
    _assert_refused(live, status, body)
    assert snapshot(live) == before
    _no_pwned_file(live)
    _no_crash_since(live, mark)


@pytest.mark.parametrize("trick", list(SECRET_TRICKS), ids=list(SECRET_TRICKS))
def test_download_cannot_leave_the_artifact_root(live: Live, trick: str) -> None:
    before = snapshot(live)
    mark = len(live.proc.output)
    status, body = live.raw("GET", f"/api/v1/runs/{live.ids['run']}/artifacts/{SECRET_TRICKS[trick]}")
    _assert_refused(live, status, body)
    assert snapshot(live) == before
    _no_crash_since(live, mark)


def test_symlinks_planted_in_the_artifact_root_lead_nowhere(live: Live) -> None:
    outside = live.root / "outside"
    escape, leak = live.run_dir / "escape", live.run_dir / "leak.txt"
    escape.symlink_to(outside, target_is_directory=True)
    leak.symlink_to(outside / "secret.txt")
    try:
        before = snapshot(live)
        mark = len(live.proc.output)
        run = f"/api/v1/runs/{live.ids['run']}/artifacts"
        for method, path in [
            ("PUT", "escape/pwned.txt"),
            ("PUT", "leak.txt"),
            ("PUT", "escape/secret.txt"),
            ("GET", "escape/secret.txt"),
            ("GET", "leak.txt"),
        ]:
            status, body = live.raw(method, f"{run}/{path}", b"overwritten" if method == "PUT" else b"")
            _assert_refused(live, status, body)
            assert snapshot(live) == before, (method, path)
        assert (outside / "secret.txt").read_bytes() == SECRET
        assert not (outside / "pwned.txt").exists()
        listing = live.http.get(run, params={"path": "escape"})
        assert listing.status_code == 404  # the index never heard of it
        _no_crash_since(live, mark)
    finally:
        escape.unlink()
        leak.unlink()


def test_failed_upload_keeps_the_previous_file_intact(live: Live) -> None:
    url = f"/api/v1/runs/{live.ids['run']}/artifacts/model/weights.bin"
    response = live.http.put(url, content=b"corrupted", headers={"X-Content-SHA256": "0" * 64})
    assert response.status_code == 400 and "corrupted in transit" in response.json()["error"]["message"]
    download = live.http.get(url)
    assert download.content == b"weights-v1"
    assert download.headers["X-Content-SHA256"] == hashlib.sha256(b"weights-v1").hexdigest()
    staging = live.proc.home / "artifacts" / ".staging"
    assert list(staging.iterdir()) == []


# Issue 10's probing: each of these answered 500, and the next request on the same keep-alive
# connection was reset. Sent byte for byte (JSON escapes as clients write them) on one connection.
HARDENING = [
    ("POST", "/api/v1/experiments", '{"name": "\\ud800"}', "U+D800, a lone surrogate"),
    ("POST", "/api/v1/runs/{run}/tags", '{"tags": {"team": "a\\ud800"}}', "tags.team: text contains U+D800"),
    ("PATCH", "/api/v1/runs/{run}", '{"name": "\\udfff"}', "name: text contains U+DFFF"),
    ("POST", "/api/v1/jobs", '{"spec": {"command": "echo", "limits": {"timeout": 99999999999999999999999}}}',
     "spec.limits.timeout: integer 99999999999999999999999 does not fit in 64 bits"),
    ("POST", "/api/v1/jobs", '{"spec": {"command": "echo", "tags": {"k": -9223372036854775809}}}',
     "spec.tags.k: integer -9223372036854775809 does not fit in 64 bits"),
    ("POST", "/api/v1/jobs", '{"spec": {"command": "echo", "limits": {"timeout": 9223372036854775807}}}',
     "less than or equal to 31536000"),
    ("POST", "/api/v1/experiments", '{"name": "invoice\\u202etxt.exe"}', "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ("POST", "/api/v1/models", '{"name": "seeded\\u200b-model"}', "U+200B (ZERO WIDTH SPACE)"),
    ("POST", "/api/v1/runs/{run}/params", '{"params": {"lr\\u2066": "1"}}', "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
]  # fmt: skip


def test_probed_500s_are_clear_400s_on_one_live_connection(live: Live) -> None:
    before = snapshot(live)
    jobs_before = _ok(live.http.get("/api/v1/jobs"))
    mark = len(live.proc.output)
    url = urlsplit(live.proc.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    headers = {**AUTH, "Content-Type": "application/json"}
    try:
        for method, path, body, expected in HARDENING:
            conn.request(method, path.format(**live.ids), body=body.encode("ascii"), headers=headers)
            response = conn.getresponse()
            payload = json.loads(response.read())
            assert response.status == 400, (path, body, payload)
            assert payload["error"]["code"] in ("INVALID_ARGUMENT", "INVALID_SPEC"), payload
            assert expected in payload["error"]["message"], payload
    finally:
        conn.close()
    assert snapshot(live) == before
    assert _ok(live.http.get("/api/v1/jobs")) == jobs_before
    _no_crash_since(live, mark)
