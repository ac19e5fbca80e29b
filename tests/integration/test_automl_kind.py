"""``type: automl`` submitted in-process (the SDK over ASGI, a server with no job runner): every
problem that can be known before a trial runs is a 4xx with a stable reason, and nothing is
created; a good file makes a queued parent with its settings, and no child yet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal

from shipyard.client.client import Client
from shipyard.errors import InvalidArgument, InvalidSpec
from shipyard.server.app import create_app
from shipyard.services.job_kinds._automl_data import (
    BUDGET_TOO_SMALL,
    NO_TARGET,
    NO_TIME_COLUMN,
    TASK_DOES_NOT_FIT,
)
from shipyard.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.integration.test_azure_job_files import AppTransport


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    app = create_app(Settings(home=tmp_path_factory.mktemp("automl"), roles="api"))
    with start_blocking_portal() as portal:
        made = Client("http://127.0.0.1", token=ADMIN_TOKEN, transport=AppTransport(app, portal))
        try:
            yield made
        finally:
            made.close()
            app.state.services.audit.stop()


def _project(tmp_path: Path, extra: str = "", task: str = "classification", target: str = "label") -> Path:
    table = tmp_path / "train"
    table.mkdir()
    (table / "MLTable").write_text(
        "paths:\n  - file: ./rows.csv\ntransformations:\n  - read_delimited:\n      delimiter: ','\n"
    )
    rows = ["day,store,size,colour,label,price"]
    rows += [f"2024-01-{d:02d},s{d % 2},{d},red,{d % 2},{d * 1.5}" for d in range(1, 21)]
    (table / "rows.csv").write_text("\n".join(rows) + "\n")
    job = tmp_path / "automl.yml"
    job.write_text(
        f"type: automl\nexperiment_name: automl-checks\ntask: {task}\ntarget_column_name: {target}\n"
        "training_data:\n  type: mltable\n  path: ./train\n"
        "limits:\n  max_trials: 3\n  max_concurrent_trials: 2\n" + extra
    )
    return job


def _refused(client: Client, job: Path) -> InvalidArgument:
    before = len(client.jobs.list(max_results=1000))
    with pytest.raises(InvalidArgument) as caught:
        client.jobs.create(job)
    assert len(client.jobs.list(max_results=1000)) == before  # nothing was created
    return caught.value


def test_a_good_file_makes_a_queued_parent_with_no_child_yet(client: Client, tmp_path: Path) -> None:
    job = client.jobs.create(_project(tmp_path, "  timeout_minutes: 10\n"))
    assert job.type == "automl"
    assert job.status.value == "Queued"
    assert client.jobs.list(parent=job.name) == []
    shown = client.jobs.get(job.name)
    assert shown.spec["settings"]["target_column_name"] == "label"
    assert shown.spec["settings"]["primary_metric"] == "accuracy"
    assert shown.spec["model_name"] == "automl-checks-model"
    assert "LogisticRegression" in shown.spec["algorithms"]


def test_a_target_the_table_does_not_have_is_refused(client: Client, tmp_path: Path) -> None:
    error = _refused(client, _project(tmp_path, target="churned"))
    assert error.details["reason"] == NO_TARGET
    assert "'churned' is not a column" in error.message and "label" in error.message


def test_regression_of_a_text_column_is_refused(client: Client, tmp_path: Path) -> None:
    error = _refused(client, _project(tmp_path, task="regression", target="colour"))
    assert error.details["reason"] == TASK_DOES_NOT_FIT
    assert "use task: classification" in error.message


def test_classification_of_fractional_numbers_is_refused(client: Client, tmp_path: Path) -> None:
    error = _refused(client, _project(tmp_path, target="price"))
    assert error.details["reason"] == TASK_DOES_NOT_FIT
    assert "use task: regression" in error.message


def test_forecasting_without_its_time_column_is_refused(client: Client, tmp_path: Path) -> None:
    extra = "forecasting:\n  time_column_name: date\n  forecast_horizon: 3\n"
    error = _refused(client, _project(tmp_path, extra, task="forecasting", target="size"))
    assert error.details["reason"] == NO_TIME_COLUMN
    assert "'date'" in error.message and "day" in error.message


def test_forecasting_with_no_forecasting_block_is_refused_by_the_file(client: Client, tmp_path: Path) -> None:
    with pytest.raises(InvalidSpec, match="needs a 'forecasting' block with time_column_name"):
        client.jobs.create(_project(tmp_path, task="forecasting", target="size"))


def test_a_budget_that_cannot_hold_one_trial_is_refused(client: Client, tmp_path: Path) -> None:
    error = _refused(client, _project(tmp_path, "  timeout_minutes: 5\n  trial_timeout_minutes: 20\n"))
    assert error.details["reason"] == BUDGET_TOO_SMALL
    assert "cannot hold one trial" in error.message
    (tmp_path / "again").mkdir()
    error = _refused(client, _project(tmp_path / "again", "  timeout_minutes: 1\n"))
    assert error.details["reason"] == BUDGET_TOO_SMALL
