"""A remote input whose host does not resolve says so, not "does not exist"."""

from __future__ import annotations

from shipyard.services.job_remote import _unreachable


def test_a_host_that_does_not_resolve_is_named() -> None:
    url = "https://data.example.invalid/iris.csv"  # .invalid never resolves (RFC 2606)
    why = _unreachable(url, url)
    assert why is not None and "data.example.invalid does not resolve" in why


def test_a_reachable_host_or_a_non_http_url_is_not_blamed() -> None:
    assert _unreachable("http://localhost:1/x", "http://localhost:1/x") is None
    assert _unreachable("s3://bucket/key", "s3://bucket/key") is None
