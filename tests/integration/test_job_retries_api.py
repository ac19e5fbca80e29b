"""A job submitted over HTTP with a bad ``retries:`` is a 400 INVALID_SPEC naming the field,
never a 500 and never a job (in-process app on SQLite: the check is the API's, not the store's)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from shipyard.server.app import create_app
from shipyard.settings import Settings
from tests.conftest import AUTH

BAD: list[Any] = [-1, 11, 1.5, "two", True, None, [1]]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    made = create_app(Settings(home=tmp_path_factory.mktemp("retries"), roles="api"))
    yield made
    made.state.services.audit.stop()
    made.state.database.close()


def _post(app: FastAPI, spec: dict[str, Any]) -> httpx.Response:
    async def main() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=AUTH) as http:
            return await http.post("/api/v1/jobs", json={"spec": spec, "source": "train.yml"})

    return anyio.run(main)


@pytest.mark.parametrize("value", BAD, ids=repr)
def test_a_bad_retries_is_refused_naming_the_file_and_field(app: FastAPI, value: Any) -> None:
    answer = _post(app, {"command": "true", "retries": value})
    if value is None:  # the same as leaving it out
        assert answer.status_code == 201, answer.text
        return
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "INVALID_SPEC"
    assert error["message"].startswith("train.yml: field 'retries': "), error["message"]


def test_a_retries_past_64_bits_is_refused_before_the_spec_is_read(app: FastAPI) -> None:
    answer = _post(app, {"command": "true", "retries": 2**70})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["details"]["field"]) == ("INVALID_ARGUMENT", "spec.retries")
    assert "does not fit in 64 bits" in error["message"]


def test_a_good_retries_is_kept_with_the_job(app: FastAPI) -> None:
    answer = _post(app, {"command": "true", "retries": 3})
    assert answer.status_code == 201, answer.text
    assert answer.json()["spec"]["retries"] == 3
