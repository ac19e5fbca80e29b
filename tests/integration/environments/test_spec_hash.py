"""The cache key and the request's rules: what counts as the same environment, what is refused."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from shipyard.environments import UvEnvironmentBuilder
from shipyard.errors import InvalidArgument
from shipyard.services.environment_ports import EnvironmentRequest, server_python_version, spec_hash


def test_spelling_and_order_of_requirements_do_not_change_the_hash() -> None:
    a = EnvironmentRequest(requirements=("Scikit_Learn >= 1.4", "numpy", "numpy"))
    b = EnvironmentRequest(requirements=("numpy", "scikit-learn>=1.4"))
    assert spec_hash(a) == spec_hash(b)
    assert len(spec_hash(a)) == 16


def test_anything_that_changes_what_is_installed_changes_the_hash() -> None:
    base = EnvironmentRequest(requirements=("numpy",))
    others = [
        EnvironmentRequest(requirements=("numpy<2",)),
        EnvironmentRequest(requirements=("numpy; python_version < '3.12'",)),
        EnvironmentRequest(python="3.12", requirements=("numpy",)),
        EnvironmentRequest(requirements=("numpy",), extra_index_urls=("https://example.org/simple",)),
    ]
    assert len({spec_hash(base), *(spec_hash(o) for o in others)}) == 1 + len(others)


def test_lists_from_yaml_are_frozen_into_tuples() -> None:
    request = EnvironmentRequest(requirements=["six"])  # type: ignore[arg-type]
    assert request.requirements == ("six",)
    assert hash(request) == hash(EnvironmentRequest(requirements=("six",)))


def test_no_python_version_means_the_servers() -> None:
    unset = EnvironmentRequest(requirements=("six",))
    explicit = EnvironmentRequest(python=server_python_version(), requirements=("six",))
    assert spec_hash(unset) == spec_hash(explicit)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"python": "three"},
        {"python": "3.11.*"},
        {"requirements": ("--index-url=https://evil.example/simple",)},
        {"requirements": ("-e .",)},
        {"requirements": ("  ",)},
        {"extra_index_urls": ("ftp://example.org",)},
    ],
)
def test_a_malformed_request_is_refused_before_anything_runs(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        EnvironmentRequest(**kwargs)  # type: ignore[arg-type]


def test_an_empty_request_is_the_servers_interpreter_at_once(tmp_path: Path) -> None:
    builder = UvEnvironmentBuilder(tmp_path / "envs", uv=tmp_path / "no-uv-here")
    started = time.perf_counter()
    env = builder.ensure(EnvironmentRequest(), log=lambda line: pytest.fail(f"built: {line}"))
    assert time.perf_counter() - started < 0.05
    assert env.is_server_interpreter and env.cache_hit and env.build_log is None
    assert env.python == Path(sys.executable)
    assert not (tmp_path / "envs").exists()
    same_version = builder.ensure(EnvironmentRequest(python=server_python_version()))
    assert same_version.is_server_interpreter


def test_path_of_an_unknown_or_malformed_hash_is_none(tmp_path: Path) -> None:
    builder = UvEnvironmentBuilder(tmp_path)
    assert builder.path_of("0123456789abcdef") is None
    assert builder.path_of("../../etc") is None
    assert builder.cached() == []
