"""Requests that reach a worker together are scored by one model call: each still gets the
answer (or the error) it would have got alone."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from shipyard.services.serving_ports import DeploymentKey
from shipyard.serving._errors import PayloadError
from shipyard.serving.local import LocalProcessRuntime
from shipyard.serving.scorers import MlflowScorer

from ._helpers import client, mlflow_plan
from .conftest import COLUMNS

rng = random.Random(7)


def _rows(n: int) -> list[list[float]]:
    return [[round(rng.uniform(4, 8), 1), round(rng.uniform(2, 4.5), 1), round(rng.uniform(1, 7), 1),
             round(rng.uniform(0.1, 2.5), 1)] for _ in range(n)]  # fmt: skip


def _bodies(count: int) -> list[bytes]:
    """Every format, each request its own rows (1 to 7 of them)."""
    out = []
    for i in range(count):
        rows = _rows(1 + i % 7)
        records = [dict(zip(COLUMNS, r, strict=True)) for r in rows]
        doc: dict[str, Any] = [
            {"dataframe_split": {"columns": COLUMNS, "data": rows}},
            {"input_data": {"columns": COLUMNS, "index": list(range(100, 100 + len(rows))), "data": rows}},
            {"dataframe_records": records},
            {"instances": rows},
        ][i % 4]
        out.append(orjson.dumps(doc))
    return out


@pytest.fixture(scope="module")
def scorer(sklearn_model_dir: Path) -> MlflowScorer:
    s = MlflowScorer(sklearn_model_dir)
    s.load()
    return s


def test_a_batch_answers_each_request_as_if_it_came_alone(scorer: MlflowScorer) -> None:
    assert scorer.batchable  # an mlflow.sklearn model whose signature names every column
    bodies = _bodies(24)
    assert scorer.score_many(bodies) == [scorer.score(b) for b in bodies]


def test_a_bad_request_in_a_batch_fails_alone(scorer: MlflowScorer) -> None:
    good = _bodies(3)
    bad_json, missing = (
        b"{oops",
        orjson.dumps({"dataframe_split": {"columns": COLUMNS[:3], "data": [[1, 2, 3]]}}),
    )
    answers = scorer.score_many([good[0], bad_json, good[1], missing, good[2]])
    assert [answers[0], answers[2], answers[4]] == [scorer.score(b) for b in good]
    assert isinstance(answers[1], PayloadError)
    assert "not valid JSON" in answers[1].message
    assert isinstance(answers[3], PayloadError)
    assert "petal_width" in answers[3].message


def test_when_the_batched_call_fails_each_request_is_scored_on_its_own(
    scorer: MlflowScorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model that answers one value per call (not per row) cannot be batched: the rows do
    not split back, and every request is scored again alone."""
    bodies = _bodies(4)
    alone = [scorer.score(b) for b in bodies]
    real = scorer._direct
    calls: list[int] = []

    def per_call(frame: Any) -> Any:
        calls.append(len(frame))
        return real(frame)[:1] if len(calls) == 1 else real(frame)

    monkeypatch.setattr(scorer, "_direct", per_call)
    assert scorer.score_many(bodies) == alone
    assert calls[0] == sum(1 + i % 7 for i in range(4))  # one stacked call first, then one each
    assert len(calls) == 1 + len(bodies)


def test_a_worker_under_concurrent_load_gives_every_request_its_own_answer(
    tmp_path: Path, sklearn_model_dir: Path, scorer: MlflowScorer
) -> None:
    """64 requests, 16 at a time, into one worker that batches: no answer goes to the wrong
    request, and the worker's log says it batches."""
    key = DeploymentKey("default", "batching", "blue")
    runtime = LocalProcessRuntime(tmp_path / "rt", handoff_s=0.3, drain_s=3.0)
    try:
        runtime.apply(
            mlflow_plan(key, sklearn_model_dir, max_concurrent_requests_per_instance=16, max_batch_size=16)
        )
        (instance,) = runtime.wait_ready(key, 60)
        bodies = _bodies(64)
        expected = [(200, scorer.score(b)) for b in bodies]
        with client(instance.address) as c:

            def post(body: bytes) -> tuple[int, bytes]:
                r: httpx.Response = c.post("/score", content=body)
                return r.status_code, r.content

            with ThreadPoolExecutor(16) as pool:
                got = list(pool.map(post, bodies))
        assert got == expected
        assert "scored together, up to 16" in runtime.logs(key, 200)
    finally:
        runtime.close()
