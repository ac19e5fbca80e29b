"""``--roles`` / ``SHIPYARD_ROLES``: known roles only, and the old run_jobs is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shipyard.settings import Settings


def test_roles_are_normalised_to_their_order() -> None:
    assert Settings(roles=" serving , api").roles == "api,serving"


@pytest.mark.parametrize(
    ("roles", "said"),
    [("api,bogus", "unknown role 'bogus' in 'api,bogus'"), ("", "no role in ''"), (" , ", "no role")],
)
def test_an_unknown_or_missing_role_says_which_roles_exist(roles: str, said: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(roles=roles)
    message = str(caught.value)
    assert said in message
    assert "api (the APIs and web pages), jobs (runs queued jobs) and serving" in message


def test_a_leftover_run_jobs_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPYARD_RUN_JOBS", "false")
    with pytest.raises(ValidationError, match="was split into roles"):
        Settings()
