"""The native API's contract: its OpenAPI document, held against the server that serves it.

One app per module, built in-process (``create_app``) on a SQLite file in a temporary home;
schemathesis drives it through ASGI, the way it would drive a real server over HTTP (the
Guard, authorization and error handlers all run), signed in as the owner.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from shipyard.server.app import create_app
from shipyard.settings import Settings

# schemathesis' in-process client sends this Host; the server answers it like a name of its own.
TEST_HOST = "testserver"


@pytest.fixture(scope="module")
def contract_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    home: Path = tmp_path_factory.mktemp("contract-home")
    app = create_app(Settings(home=home, allowed_hosts=TEST_HOST))
    yield app
    # schemathesis ran the app's lifespan (started on its first request) in its own event
    # loop thread; end it, so the background threads (job runner, audit writer) stop here.
    from schemathesis.python import asgi

    asgi.shutdown_lifespans()
