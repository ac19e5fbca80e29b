"""What a browser finds without a token: offline API docs and the document (the studio: tests/integration/studio)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from anyio.from_thread import start_blocking_portal

from shipyard.server.app import create_app
from shipyard.settings import Settings
from tests.integration.test_access_matrix import SyncClient


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncClient]:
    app = create_app(Settings(home=tmp_path_factory.mktemp("pages"), roles="api"))
    with start_blocking_portal() as portal:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")
        try:
            yield SyncClient(portal, client)
        finally:
            portal.call(client.aclose)
            app.state.services.audit.stop()


def test_the_docs_load_their_assets_from_this_server(browser: SyncClient) -> None:
    docs = browser.get("/docs")
    assert docs.status_code == 200
    assert "/docs/static/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text.lower()
    script = browser.get("/docs/static/swagger-ui-bundle.js")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text[:1000]
    assert browser.get("/docs/static/swagger-ui.css").status_code == 200
    for trick in ("../../../etc/passwd", "..%2f..%2fsettings.py", "core.py", "redoc.standalone.js"):
        # a name outside the fixed list is 404; a path that left /docs/static/ needs a token
        assert browser.get(f"/docs/static/{trick}").status_code in (401, 404)


def test_the_document_is_public_and_says_every_operation_needs_a_token(browser: SyncClient) -> None:
    spec = browser.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    assert "Needs `jobs:create`" in spec["paths"]["/api/v1/jobs"]["post"]["description"]
    assert browser.get("/api/v1/jobs").status_code == 401
