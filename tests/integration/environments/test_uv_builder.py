"""Real uv builds in ``tmp_path``: a cache hit does no work, a spec is built once however
many ask at the same time, and a failed or killed build leaves nothing that looks finished.

The package installed is ``iniconfig`` (or ``six``): small, pure Python, quick from the index.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from shipyard.environments import UvEnvironmentBuilder
from shipyard.errors import EnvironmentBuildFailed
from shipyard.services.environment_ports import BuiltEnvironment, EnvironmentRequest, spec_hash

TINY = EnvironmentRequest(requirements=("iniconfig",))
BAD = "this-package-does-not-exist-xyz==1"

# A child process: waits for the go file (so two children ask at the same moment), builds,
# prints each build line as "LOG ..." and the result as "RESULT {json}".
_CHILD = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from shipyard.environments import UvEnvironmentBuilder
    from shipyard.services.environment_ports import EnvironmentRequest

    cache, go, hang_on = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    while not go.exists():
        time.sleep(0.005)

    def log(line):
        print("LOG " + line, flush=True)
        if hang_on and hang_on in line:
            print("HANGING", flush=True)
            time.sleep(600)

    env = UvEnvironmentBuilder(cache).ensure(EnvironmentRequest(requirements=("iniconfig",)), log=log)
    print("RESULT " + json.dumps({"cache_hit": env.cache_hit, "python": str(env.python)}), flush=True)
    """
)


def _child(cache: Path, go: Path, hang_on: str = "") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(cache), str(go), hang_on],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _result(output: str) -> dict[str, Any]:
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    assert lines, output
    data: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return data


def _venv_commands(text: str) -> int:
    return sum(1 for line in text.splitlines() if " venv --relocatable " in line)


def _imports(env: BuiltEnvironment, module: str) -> str:
    done = subprocess.run(
        [str(env.python), "-c", f"import {module}, sys; print(sys.prefix)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.slow
def test_a_build_installs_the_spec_and_a_cache_hit_does_no_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builder = UvEnvironmentBuilder(tmp_path)
    streamed: list[str] = []
    built = builder.ensure(TINY, log=streamed.append)
    assert not built.cache_hit and built.hash == spec_hash(TINY)
    assert built.python.parent.parent == tmp_path / built.hash / "venv"
    assert _imports(built, "iniconfig") == str(tmp_path / built.hash / "venv")
    assert built.build_log is not None
    assert built.build_log.read_text().splitlines() == streamed
    assert any("iniconfig" in line for line in streamed)
    # Isolated: the server's packages are not visible inside.
    with pytest.raises(subprocess.CalledProcessError):
        _imports(built, "shipyard")

    marker = tmp_path / built.hash / "environment.json"
    before = marker.stat().st_mtime_ns

    def no_process(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cache hit started a process")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    started = time.perf_counter()
    hit = builder.ensure(TINY, log=lambda line: pytest.fail(f"a cache hit logged {line!r}"))
    assert time.perf_counter() - started < 0.2
    assert hit.cache_hit and hit.python == built.python and hit.seconds < 0.2
    assert marker.stat().st_mtime_ns == before
    assert builder.path_of(built.hash) == BuiltEnvironment(**{**vars_of(hit), "seconds": 0.0})
    assert [env.hash for env in builder.cached()] == [built.hash]


def vars_of(env: BuiltEnvironment) -> dict[str, Any]:
    return {name: getattr(env, name) for name in env.__slots__}


@pytest.mark.slow
def test_a_bad_requirement_fails_naming_it_and_caches_nothing(tmp_path: Path) -> None:
    request = EnvironmentRequest(requirements=("iniconfig", BAD))
    with pytest.raises(EnvironmentBuildFailed) as caught:
        UvEnvironmentBuilder(tmp_path).ensure(request)
    error = caught.value
    assert "this-package-does-not-exist-xyz" in error.details["log_tail"]
    assert repr(BAD) in error.message
    digest = spec_hash(request)
    assert not (tmp_path / digest).exists()
    assert list((tmp_path / ".building").iterdir()) == []
    [kept] = (tmp_path / "failed").glob(f"{digest}-*.log")
    assert BAD in kept.read_text() or "this-package-does-not-exist-xyz" in kept.read_text()
    assert error.details["build_log"] == str(kept)


def test_a_python_that_is_not_installed_is_a_clear_error(tmp_path: Path) -> None:
    request = EnvironmentRequest(python="3.4", requirements=("six",))
    with pytest.raises(EnvironmentBuildFailed) as caught:
        UvEnvironmentBuilder(tmp_path).ensure(request)
    assert "Python 3.4" in caught.value.message
    assert not (tmp_path / spec_hash(request)).exists()


def test_a_missing_uv_binary_is_a_build_failure_not_a_crash(tmp_path: Path) -> None:
    request = EnvironmentRequest(requirements=("six",))
    with pytest.raises(EnvironmentBuildFailed) as caught:
        UvEnvironmentBuilder(tmp_path, uv=tmp_path / "no-uv-here").ensure(request)
    assert "could not start uv" in caught.value.details["log_tail"]
    assert UvEnvironmentBuilder(tmp_path).path_of(spec_hash(request)) is None
    assert list((tmp_path / ".building").iterdir()) == []


@pytest.mark.slow
def test_two_processes_asking_for_the_same_new_spec_build_it_once(tmp_path: Path) -> None:
    cache, go = tmp_path / "envs", tmp_path / "go"
    children = [_child(cache, go), _child(cache, go)]
    time.sleep(0.3)  # both past their imports, polling for the go file
    go.touch()
    outputs = [child.communicate(timeout=120)[0] for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs
    results = [_result(output) for output in outputs]
    assert sorted(r["cache_hit"] for r in results) == [False, True]
    assert results[0]["python"] == results[1]["python"]
    assert _venv_commands("".join(outputs)) == 1
    assert _venv_commands((cache / spec_hash(TINY) / "build.log").read_text()) == 1


@pytest.mark.slow
def test_two_threads_asking_for_the_same_new_spec_build_it_once(tmp_path: Path) -> None:
    builder = UvEnvironmentBuilder(tmp_path)
    request = EnvironmentRequest(requirements=("six",))
    barrier = threading.Barrier(2)
    results: list[BuiltEnvironment] = []

    def ask() -> None:
        barrier.wait()
        results.append(builder.ensure(request))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(env.cache_hit for env in results) == [False, True]


@pytest.mark.slow
def test_a_build_killed_halfway_leaves_nothing_that_looks_finished(tmp_path: Path) -> None:
    cache, go = tmp_path / "envs", tmp_path / "go"
    go.touch()
    child = _child(cache, go, hang_on=" pip install ")  # the venv exists, nothing installed yet
    assert child.stdout is not None
    with child, child.stdout:
        assert any(line.startswith("HANGING") for line in child.stdout)
        os.killpg(child.pid, signal.SIGKILL)
    builder = UvEnvironmentBuilder(cache)
    digest = spec_hash(TINY)
    assert builder.path_of(digest) is None
    assert not (cache / digest).exists()
    assert builder.cached() == []
    [leftover] = (cache / ".building").iterdir()
    assert (leftover / "build.log").exists()

    rebuilt = builder.ensure(TINY)  # the dead build's lock is gone with its process
    assert not rebuilt.cache_hit
    assert _imports(rebuilt, "iniconfig")
    assert list((cache / ".building").iterdir()) == []


@pytest.mark.slow
def test_prune_keeps_what_it_is_told_to_and_deletes_the_rest(tmp_path: Path) -> None:
    builder = UvEnvironmentBuilder(tmp_path)
    kept = builder.ensure(TINY)
    dropped = builder.ensure(EnvironmentRequest(requirements=("six",)))
    assert builder.prune(keep={kept.hash}) == [dropped.hash]
    assert builder.path_of(dropped.hash) is None
    assert [env.hash for env in builder.cached()] == [kept.hash]
