"""The error table, the documented settings, and the public surface."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import shipyard
from shipyard import errors
from shipyard.settings import Settings


def test_every_error_code_maps_to_a_status_and_back() -> None:
    for code, status in errors.HTTP_STATUS.items():
        rebuilt = errors.error_from_payload(status, {"error": {"code": code, "message": "m", "details": {}}})
        assert rebuilt.code == code
        assert rebuilt.status == status
    assert errors.HTTP_STATUS["NOT_FOUND"] == 404
    assert errors.HTTP_STATUS["PARAM_ALREADY_SET"] == 409
    assert errors.HTTP_STATUS["INVALID_PATH"] == 400


def test_unknown_payload_becomes_the_root_error() -> None:
    err = errors.error_from_payload(418, "<html>a teapot</html>")
    assert type(err) is errors.ShipyardError
    assert "418" in err.message


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_proxys_gateway_error_means_the_server_is_unavailable(status: int) -> None:
    """So that the SDK keeps metric points through it, as through a refused connection."""
    err = errors.error_from_payload(status, "<html>bad gateway</html>")
    assert type(err) is errors.Unavailable
    assert f"HTTP {status}" in err.message


def test_every_setting_is_documented() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path))
    monkeypatch.setenv("SHIPYARD_PORT", "6000")
    settings = Settings()
    assert settings.home == tmp_path
    assert settings.port == 6000
    assert settings.resolved_database_url().startswith("sqlite:///")


def test_public_surface_resolves() -> None:
    for name in shipyard.__all__:
        assert getattr(shipyard, name) is not None


def test_every_module_declares_its_public_names() -> None:
    missing = []
    for info in pkgutil.walk_packages(shipyard.__path__, "shipyard."):
        if info.name.split(".")[-1].startswith("_") or ".migrations" in info.name or info.ispkg:
            continue
        if info.name in ("shipyard.__main__",):
            continue
        module = importlib.import_module(info.name)
        public = [
            n
            for n, v in vars(module).items()
            if not n.startswith("_") and getattr(v, "__module__", None) == info.name
        ]
        if public and not hasattr(module, "__all__"):
            missing.append(info.name)
    assert not missing, f"modules without __all__: {missing}"
