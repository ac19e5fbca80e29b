"""The request settings a deployment runs with when its file leaves some out."""

from __future__ import annotations

from typing import Any

import pytest

from shipyard.services.endpoint_settings import NO_CODE_MAX_CONCURRENT, request_settings
from shipyard.specs import validate_spec
from shipyard.specs.deployment import OnlineDeploymentSpec


def settings_of(extra: dict[str, Any], *, no_code: bool) -> dict[str, int]:
    spec = validate_spec(
        {"name": "blue", "endpoint_name": "iris-ep", "model": "azureml:iris:1", **extra},
        OnlineDeploymentSpec,
        "blue.yml",
    )
    return request_settings(spec.request_settings, no_code=no_code)


def test_a_silent_no_code_file_lets_requests_wait_together_at_the_worker() -> None:
    got = settings_of({}, no_code=True)
    assert got["max_concurrent_requests_per_instance"] == NO_CODE_MAX_CONCURRENT > 1
    assert (got["request_timeout_ms"], got["max_queue_wait_ms"], got["max_batch_size"]) == (5000, 500, 32)


def test_a_scoring_script_keeps_azures_one_request_at_a_time() -> None:
    assert settings_of({}, no_code=False)["max_concurrent_requests_per_instance"] == 1


@pytest.mark.parametrize("cap", [1, 4])
def test_what_a_file_sets_keeps_azures_meaning(cap: int) -> None:
    got = settings_of({"request_settings": {"max_concurrent_requests_per_instance": cap}}, no_code=True)
    assert got["max_concurrent_requests_per_instance"] == cap


def test_other_fields_set_leave_the_no_code_default_in_place() -> None:
    got = settings_of({"request_settings": {"request_timeout_ms": 3000}}, no_code=True)
    assert got["request_timeout_ms"] == 3000
    assert got["max_concurrent_requests_per_instance"] == NO_CODE_MAX_CONCURRENT
