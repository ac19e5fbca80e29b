"""A NUL character in a name, filter or path segment is the client's text, not a server error:
PostgreSQL's text cannot hold one (SQLite's can), and on either backend the answer is a 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from fastapi import FastAPI

from shipyard.server.app import create_app
from shipyard.settings import Settings
from tests.conftest import AUTH

# One of each kind of lookup: by name in a path, by id, through a query, a server-wide table.
REQUESTS = [
    ("GET", "/api/v1/experiments/by-name/a%00b"),
    ("GET", "/api/v1/runs/ab%00"),
    ("GET", "/api/v1/models/a%00"),
    ("GET", "/api/v1/models?name_like=a%00"),
    ("GET", "/api/v1/jobs/a%00"),
    ("GET", "/api/v1/online-endpoints/a%00"),
    ("GET", "/api/v1/batch-endpoints/a%00"),
    ("GET", "/api/v1/data/a%00/versions"),
    ("GET", "/api/v1/data/a/versions/%00"),
    ("GET", "/api/v1/environments/a%00"),
    ("GET", "/api/v1/computes/a%00"),
    ("GET", "/api/v1/roles/a%00"),
    ("GET", "/api/v1/role-assignments?user=a%00"),
    ("GET", "/api/v1/audit?actor=a%00"),
    ("DELETE", "/api/v1/tokens/a%00"),
]


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[FastAPI]:
    made = create_app(Settings(home=tmp_path / "home", database_url=database_url))
    yield made
    made.state.services.audit.stop()
    made.state.database.close()


def _answers(app: FastAPI) -> list[tuple[str, int, str]]:
    async def main() -> list[tuple[str, int, str]]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=AUTH) as http:
            out = []
            for method, url in REQUESTS:
                answer = await http.request(method, url)
                error = answer.json().get("error") if answer.status_code >= 400 else None
                out.append((f"{method} {url}", answer.status_code, (error or {}).get("message", "")))
            return out

    return anyio.run(main)


def test_a_nul_in_a_name_or_filter_is_a_client_error_on_every_backend(
    app: FastAPI, database_url: str
) -> None:
    answers = _answers(app)
    assert [(where, status) for where, status, _ in answers if status >= 500] == []
    if database_url.startswith("postgresql"):
        refused = [(where, message) for where, status, message in answers if status == 400]
        assert refused, answers
        assert all("NUL" in message and "remove it" in message for _, message in refused)
