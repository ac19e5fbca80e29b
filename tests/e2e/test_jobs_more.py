"""Jobs beyond tests/e2e/test_jobs.py, as a user runs them: environments built with uv and
cached, data assets and earlier runs as inputs, a real Ray head as a compute target, files
from Azure's public examples, and bad input met on the command line."""

from __future__ import annotations

import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.client.client import Client
from shipyard.domain.jobs import Job, JobStatus
from tests.conftest import ServerProcess
from tests.e2e.test_jobs import run_cli

slow = pytest.mark.slow

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
AZUREML = Path(__file__).parent / "fixtures" / "azureml"


@pytest.fixture
def client(server: ServerProcess) -> Iterator[Client]:
    made = Client(server.url)
    yield made
    made.close()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def wait_for(client: Client, name: str, statuses: set[JobStatus], timeout: float = 120) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.jobs.get(name)
        if job.status in statuses:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {name} never reached {statuses}; it is {client.jobs.get(name).status}")


def log_of(client: Client, name: str) -> str:
    return b"".join(client.jobs.stream(name, follow=False)).decode()


def built_envs(server: ServerProcess) -> list[str]:
    """The finished environments in the server's cache (not builds in progress or failures)."""
    cache = server.home / "envs"
    if not cache.is_dir():
        return []
    return sorted(
        p.name for p in cache.iterdir() if p.is_dir() and p.name not in {"failed"} and p.name[0] != "."
    )


def conda_env(*pip: str) -> str:
    lines = "\n".join(f"            - {p}" for p in pip)
    return f"""
    dependencies:
      - python={PYTHON}
      - pip:
{lines}
    """


# iniconfig is also in the server's venv (pytest needs it): the path says which one was imported.
IMPORT_INICONFIG = (
    'command: python -c "import importlib.metadata as m, iniconfig;'
    " print('iniconfig', m.version('iniconfig'), 'from', iniconfig.__file__)\"\n"
)


# -- 1. environments: built once with uv, cached, failures named ------------------------------


@slow
def test_a_registered_environment_is_built_once_then_a_cache_hit(
    server: ServerProcess, tmp_path: Path, client: Client
) -> None:
    env_file = write(
        tmp_path,
        "env.yml",
        f"""
        name: ini-env
        version: "1"
        conda_file:
          dependencies:
            - python={PYTHON}
            - pip:
                - iniconfig
        """,
    )
    done = run_cli("environment", "create", "-f", str(env_file), url=server.url)
    assert done.returncode == 0, done.stderr
    job_file = write(tmp_path, "job.yml", IMPORT_INICONFIG + "environment: azureml:ini-env:1\n")

    first = run_cli("job", "create", "-f", str(job_file), "--stream", url=server.url)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "iniconfig 2." in first.stdout
    assert "[shipyard] environment: environment ini-env:1" in first.stdout
    assert ": built in " in first.stdout  # the build is in the job's log
    assert "cache hit" not in first.stdout
    assert len(built_envs(server)) == 1

    second = run_cli("job", "create", "-f", str(job_file), "--stream", url=server.url)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "iniconfig 2." in second.stdout
    assert ": cache hit" in second.stdout and "built in" not in second.stdout

    # The same spec written inline in the job file is the same environment: nothing built.
    inline = write(
        tmp_path,
        "inline.yml",
        IMPORT_INICONFIG
        + "environment:\n  conda_file:"
        + textwrap.indent(textwrap.dedent(conda_env("iniconfig")), "    "),
    )
    third = run_cli("job", "create", "-f", str(inline), "--stream", url=server.url)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "an environment built from the job's conda file" in third.stdout
    assert ": cache hit" in third.stdout
    assert len(built_envs(server)) == 1
    # Each ran in the built environment, not the server's.
    for out in (first.stdout, second.stdout, third.stdout):
        assert f"from {server.home / 'envs'}" in out


@slow
def test_an_inline_environment_is_built_for_the_job(server: ServerProcess, tmp_path: Path) -> None:
    job_file = write(
        tmp_path,
        "job.yml",
        "command: python -c \"import six; print('six', six.__version__)\"\n"
        "environment:\n  conda_file:" + textwrap.indent(textwrap.dedent(conda_env("six")), "    "),
    )
    done = run_cli("job", "create", "-f", str(job_file), "--stream", url=server.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "six 1." in done.stdout
    assert ": built in " in done.stdout
    assert len(built_envs(server)) == 1


@slow
def test_a_failing_build_fails_the_job_naming_the_package(
    server: ServerProcess, tmp_path: Path, client: Client
) -> None:
    job_file = write(
        tmp_path,
        "job.yml",
        "command: echo RAN-IT\n"
        "environment:\n  conda_file:"
        + textwrap.indent(textwrap.dedent(conda_env("this-package-does-not-exist-shipyard==1")), "    "),
    )
    done = run_cli("job", "create", "-f", str(job_file), "--stream", url=server.url)
    assert done.returncode == 1
    assert "RAN-IT" not in done.stdout  # neither run nor even rendered
    assert "environment_build_failed" in done.stderr
    assert "this-package-does-not-exist-shipyard" in done.stderr
    [job] = client.jobs.list()
    assert job.status is JobStatus.FAILED
    assert job.failure is not None and job.failure.cause == "environment_build_failed"
    assert "this-package-does-not-exist-shipyard" in job.failure.message
    assert "this-package-does-not-exist-shipyard" in job.failure.log_tail
    assert "this-package-does-not-exist-shipyard" in log_of(client, job.name)
    assert client.get_run(job.run_id).status == "FAILED"
    assert built_envs(server) == []


@slow
@pytest.mark.xfail(
    strict=True,
    reason="specs: pydantic does not turn the YAML integer into the str field `version`"
    " (docs/environments.md writes `version: 1`); fix in shipyard.specs, not owned here",
)
def test_an_environment_file_may_write_its_version_as_a_number(server: ServerProcess, tmp_path: Path) -> None:
    env_file = write(tmp_path, "env.yml", "name: numbered\nversion: 1\nconda_file:" + conda_env("iniconfig"))
    done = run_cli("environment", "create", "-f", str(env_file), url=server.url)
    assert done.returncode == 0, done.stderr


# -- 6. two jobs needing the same new environment at once: one build ---------------------------


@slow
def test_two_jobs_needing_one_new_environment_build_it_once(
    server: ServerProcess, tmp_path: Path, client: Client
) -> None:
    job_file = write(
        tmp_path,
        "job.yml",
        IMPORT_INICONFIG
        + "environment:\n  conda_file:"
        + textwrap.indent(textwrap.dedent(conda_env("iniconfig")), "    "),
    )
    made: list[Job] = []

    def submit() -> None:
        own = Client(server.url)
        try:
            made.append(own.jobs.create(job_file))
        finally:
            own.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 2
    finals = [wait_for(client, job.name, {JobStatus.COMPLETED, JobStatus.FAILED}) for job in made]
    assert [f.status for f in finals] == [JobStatus.COMPLETED] * 2, [f.failure for f in finals]
    logs = [log_of(client, job.name) for job in made]
    assert sum(": built in " in text for text in logs) == 1, logs
    assert sum(": cache hit" in text for text in logs) == 1, logs
    assert all("iniconfig 2." in text for text in logs)
    assert len(built_envs(server)) == 1
