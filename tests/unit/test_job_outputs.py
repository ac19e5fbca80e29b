"""A job output that cannot be registered: the user's mistake is said in the job's log; a bug
is said there too and keeps its traceback in the server log."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from shipyard.domain.access import EVERYTHING
from shipyard.domain.context import Principal
from shipyard.domain.jobs import Job, JobStatus
from shipyard.errors import AlreadyExists
from shipyard.services.job_outputs import OutputRegistrar


class _Registry:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def register(self, *_args: Any, **_kwargs: Any) -> Any:
        raise self.error


def _job() -> Job:
    outputs = {"model": {"type": "custom_model", "name": "iris-model"}}
    return Job(
        name="job-1", workspace="default", display_name="j", experiment_id="1", run_id="r" * 32,
        status=JobStatus.COMPLETED, compute="local", command="true", spec={"file": {"outputs": outputs}},
        code_digest=None, environment_hash=None, timeout_s=None, created_at=1, created_by="alice",
        updated_at=1,
    )  # fmt: skip


def _register(error: Exception, tmp_path: Path) -> list[str]:
    said: list[str] = []
    registrar = OutputRegistrar(None, None, _Registry(error))  # type: ignore[arg-type]
    registrar.register(_job(), tmp_path, said.append, Principal("alice", grants=EVERYTHING))
    return said


def test_a_bug_while_registering_keeps_its_traceback_in_the_server_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="shipyard.jobs"):
        said = _register(KeyError("version"), tmp_path)
    assert said == [
        "output model: not registered as iris-model: KeyError: 'version'"
        " (a bug: the server log has the traceback)"
    ]
    [record] = caplog.records
    assert "job job-1: registering output model as iris-model failed" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is KeyError


def test_the_users_own_mistake_is_said_without_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="shipyard.jobs"):
        said = _register(AlreadyExists("version 3 of iris-model exists"), tmp_path)
    assert said == ["output model: not registered as iris-model: version 3 of iris-model exists"]
    assert caplog.records == []
