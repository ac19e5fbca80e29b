"""The request settings a deployment runs with, from what its file sets and leaves out."""

from __future__ import annotations

from shipyard.specs.deployment import RequestSettings

__all__ = ["NO_CODE_MAX_CONCURRENT", "request_settings"]

NO_CODE_MAX_CONCURRENT = 32
"""``max_concurrent_requests_per_instance`` of a no-code deployment whose file leaves it out."""


def request_settings(settings: RequestSettings, *, no_code: bool) -> dict[str, int]:
    """The request settings a deployment runs with: what its file sets keeps Azure's meaning;
    what it leaves out gets Azure's default, but for one field of no-code models.

    Azure's default ``max_concurrent_requests_per_instance`` is 1: one request at a time
    reaches a worker, right for a scoring script whose ``run()`` may not be thread-safe. A
    no-code MLflow model is Shipyard's own code, and with one request at a time its worker can
    never score the requests that wait together in one ``predict`` (``max_batch_size``): on
    the benchmark's scikit-learn model 1 gave 130 req/s at 8 clients and 95 at 32, falling
    as load rose. So a no-code deployment that does not say lets up to
    :data:`NO_CODE_MAX_CONCURRENT` requests in flight per worker (docs/endpoints.md has the
    measurements)."""
    out = settings.model_dump()
    if no_code and "max_concurrent_requests_per_instance" not in settings.model_fields_set:
        out["max_concurrent_requests_per_instance"] = NO_CODE_MAX_CONCURRENT
    return out
