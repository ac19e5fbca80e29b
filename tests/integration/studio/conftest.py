"""One in-process Shipyard app (auth on) shared by the studio's page tests: pages are plain
routes, so most of what they show is tested here without a browser or a socket; headless
Chromium (tests/e2e/studio/) covers what needs one.

Fixtures:
- ``studio.owner``: a client sending the owner's token (to make data through the API);
- ``studio.browser``: a client signed in like a browser (session cookie + CSRF header);
- ``studio.client_for(role)``: a signed-in browser client of a user holding only ``role``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from shipyard.server.app import create_app
from shipyard.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.integration.test_access_matrix import SyncClient


@dataclass
class Studio:
    app: object
    portal: BlockingPortal
    token: str
    owner: SyncClient
    browser: SyncClient
    home: Path
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self, headers: dict[str, str] | None = None) -> SyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),  # type: ignore[arg-type]
            base_url="http://127.0.0.1",
            headers=headers or {},
        )
        self._clients.append(client)
        return SyncClient(self.portal, client)

    def signed_in(self, token: str) -> SyncClient:
        """A client holding a studio session for ``token``, sending the CSRF header as studio.js does."""
        browser = self.client()
        answer = browser.request("POST", "/api/v1/session", json={"token": token})
        assert answer.status_code == 200, answer.text
        browser.client.headers["X-Shipyard-CSRF"] = answer.json()["csrf"]
        return browser

    def client_for(self, role: str, name: str | None = None) -> SyncClient:
        """A signed-in browser of a user (made on first use) holding only ``role``, everywhere."""
        user = name or f"u-{role}"
        made = self.owner.request("POST", "/api/v1/users", json={"name": user})
        if made.status_code == 201:
            assigned = self.owner.request(
                "POST", "/api/v1/role-assignments", json={"user": user, "role": role, "workspace": "*"}
            )
            assert assigned.status_code == 201, assigned.text
        token = self.owner.request(
            "POST", "/api/v1/tokens", json={"name": f"test-{len(self._clients)}", "user": user}
        )
        assert token.status_code == 201, token.text
        return self.signed_in(token.json()["token"])


@pytest.fixture(scope="package")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    home = tmp_path_factory.mktemp("studio")
    app = create_app(Settings(home=home, roles="api"))
    token = ADMIN_TOKEN  # tests/conftest.py gives every test server this owner token
    with start_blocking_portal() as portal:
        made = Studio(app, portal, token, None, None, home)  # type: ignore[arg-type]
        made.owner = made.client({"Authorization": f"Bearer {token}"})
        made.browser = made.signed_in(token)
        try:
            yield made
        finally:
            for client in made._clients:
                portal.call(client.aclose)
            studio_client = getattr(app.state, "studio_client", None)
            if studio_client is not None:
                portal.call(studio_client.aclose)
            app.state.services.audit.stop()
