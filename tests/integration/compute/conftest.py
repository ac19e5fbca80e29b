"""A real local Ray head for the ``ray`` compute target, started once per test session by
:func:`shipyard.compute.ray_head.local_ray_head` (free ports, its own temp dir, and only its
own processes killed at the end)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shipyard.compute.ray_head import local_ray_head, ray_executable


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    if not ray_executable().exists():
        pytest.skip("ray is not installed: pip install 'shipyard[ray]' (it is in the test extra)")
    with local_ray_head() as address:
        yield address
