"""The closed loop on a batch endpoint: a job trains and registers the credit model, a batch
deployment scores data assets into a SQLite table (its URL a Shipyard secret), and a monitor
reads each window from that table with a SQL query on ``scored_at`` through the same secret:
reference rows → no drift; shifted rows → drift, and the retraining job is submitted.

An MLflow model's batch output is ``row`` and ``prediction`` (the inputs are not copied into
the table), so the monitor watches prediction drift — the model's answers against the training
data's target — rather than the features. A real server, real jobs, the real CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from examples.monitoring.make_data import credit

from tests.conftest import ServerProcess
from tests.e2e.test_endpoints_scoring import cli
from tests.e2e.test_monitor_loop import EXAMPLE, FEATURES, _ok, version_of_run

pytestmark = pytest.mark.slow

ENDPOINT = "name: credit-batch\ndescription: scores credit applicants in bulk\n"

DEPLOYMENT = """\
name: nightly
endpoint_name: credit-batch
type: model
model: azureml:credit@latest
compute: azureml:local
settings:
  mini_batch_size: 200
  max_concurrency_per_instance: 2
output:
  sql_url: ${{secrets.CREDIT_DB}}
  table: credit_scores
"""

QUERY = (
    "SELECT prediction FROM credit_scores WHERE scored_at >= :window_start_ms AND scored_at < :window_end_ms"
)

# Daily from 2099: no tick fires during the test; every run is `shipyard monitor run`.
MONITOR = """\
name: credit-batch-monitor
trigger: {{type: recurrence, frequency: day, interval: 1, start_time: '2099-01-01T00:00:00'}}
create_monitor:
  monitoring_target: {{ml_task: classification}}
  monitoring_signals:
    answers:
      type: prediction_drift
      reference_data:
        input_data: {{path: 'azureml:credit@latest', type: uri_file}}
        data_column_names: {{target_column: default}}
      production_data:
        input_data:
          type: sql
          connection: ${{{{secrets.CREDIT_DB}}}}
          query: {query}
      metric_thresholds:
        numerical: {{normalized_wasserstein_distance: 0.1}}
        categorical: {{jensen_shannon_distance: 0.1}}
      action:
        job: {job}
"""


@pytest.fixture(scope="module")
def batch(credit_server: tuple[ServerProcess, str, Path]) -> tuple[ServerProcess, Path]:
    server, _, tmp = credit_server  # credit:1 trained by the example job, on the data asset credit
    url = server.url
    _ok("secret", "set", "CREDIT_DB", "--value", f"sqlite:///{tmp / 'scores.db'}", url=url)
    (tmp / "batch-endpoint.yml").write_text(ENDPOINT)
    (tmp / "batch-deployment.yml").write_text(DEPLOYMENT)
    _ok("batch-endpoint", "create", "-f", str(tmp / "batch-endpoint.yml"), url=url)
    _ok("batch-deployment", "create", "-f", str(tmp / "batch-deployment.yml"), url=url)
    return server, tmp


def _score(url: str, tmp: Path, name: str, *, shift: bool, seed: int) -> None:
    rows = tmp / f"{name}.csv"
    credit(600, shift=shift, seed=seed)[FEATURES].to_csv(rows, index=False)
    _ok("data", "create", "--name", name, "--type", "uri_file", "--path", str(rows), url=url)
    done = _ok("batch-endpoint", "invoke", "-n", "credit-batch", "--input", f"azureml:{name}@latest",
               "--stream", url=url)  # fmt: skip
    assert "3/3 mini-batches, 600 rows" in done


def _run(url: str) -> dict[str, Any]:
    run: dict[str, Any] = json.loads(
        _ok("monitor", "run", "-n", "credit-batch-monitor", "-o", "json", url=url)
    )
    assert run["status"] == "Completed", run
    return run


def test_the_monitor_reads_the_batch_table_by_scored_at_and_retrains_on_drift(
    batch: tuple[ServerProcess, Path],
) -> None:
    server, tmp = batch
    url = server.url
    monitor = tmp / "monitor.yml"
    monitor.write_text(MONITOR.format(query=json.dumps(QUERY), job=EXAMPLE / "train.yml"))
    _ok("schedule", "create", "-f", str(monitor), url=url)

    _score(url, tmp, "applicants", shift=False, seed=31)
    first = _run(url)
    (answers,) = first["signals"]
    assert answers["error"] is None and not answers["breached"], answers
    assert {r["column"] for r in answers["rows"]} == {"default"}  # predictions, under the target's name
    assert first["actions"] == []

    _score(url, tmp, "older-applicants", shift=True, seed=32)
    hit = _run(url)
    assert hit["window"]["start"] == first["window"]["end"]  # only the shifted job's rows
    (answers,) = hit["signals"]
    assert answers["breached"] and hit["breached"] == ["answers"], answers
    with sqlite3.connect(tmp / "scores.db") as conn:
        jobs = conn.execute(
            "SELECT job_id, count(*), avg(prediction) FROM credit_scores GROUP BY 1 ORDER BY min(scored_at)"
        ).fetchall()
        inside = conn.execute(
            "SELECT count(*) FROM credit_scores WHERE scored_at >= ? AND scored_at < ?",
            (hit["window"]["start"], hit["window"]["end"]),
        ).fetchone()[0]
    assert [n for _, n, _ in jobs] == [600, 600] and jobs[1][2] > jobs[0][2] + 0.3  # far more defaults
    assert inside == 600

    (action,) = hit["actions"]
    retrain = action["job"]
    _ok("job", "stream", "-n", retrain, url=url)
    assert '"status": "Completed"' in _ok("job", "show", "-n", retrain, "-o", "json", url=url)
    version = version_of_run(url, hit["run_id"])
    assert version["tags"]["shipyard.monitor"] == "credit-batch-monitor"


def test_a_query_on_a_missing_column_says_what_the_database_said(batch: tuple[ServerProcess, Path]) -> None:
    server, tmp = batch
    url = server.url
    bad = tmp / "bad.yml"
    bad.write_text(
        MONITOR.format(query=json.dumps(QUERY.replace("scored_at >=", "scored_when >=")), job=EXAMPLE / "train.yml")
        .replace("credit-batch-monitor", "bad-query")
    )  # fmt: skip
    _ok("schedule", "create", "-f", str(bad), url=url)
    done = cli("monitor", "run", "-n", "bad-query", "-o", "json", url=url)
    run = json.loads(done.stdout)
    (answers,) = run["signals"]
    assert "no such column: scored_when" in answers["error"], answers
    cli("schedule", "disable", "-n", "bad-query", url=url)


def test_one_retraining_at_a_time_per_signal(batch: tuple[ServerProcess, Path]) -> None:
    """A monitor that breaches again while its retraining still runs submits no second one."""
    server, tmp = batch
    url = server.url
    slow = tmp / "slow-retrain.yml"
    slow.write_text('command: python -c "import time; time.sleep(120)"\n')
    daily = MONITOR.format(query=json.dumps(QUERY), job=slow).replace("credit-batch-monitor", "credit-daily")
    # Each run looks back a day: both runs see the shifted rows the first test scored.
    daily = daily.replace(
        "      production_data:\n",
        "      production_data:\n        data_window: {lookback_window_size: P1D}\n",
    )
    (tmp / "daily.yml").write_text(daily)
    _ok("schedule", "create", "-f", str(tmp / "daily.yml"), url=url)

    def run() -> dict[str, Any]:
        done: dict[str, Any] = json.loads(_ok("monitor", "run", "-n", "credit-daily", "-o", "json", url=url))
        assert done["breached"] == ["answers"], done
        (action,) = done["actions"]
        return dict(action)

    first = run()
    assert first["job"] and "job_skipped" not in first
    second = run()
    assert second == {"signal": "answers", "job_skipped": first["job"]}
    _ok("job", "cancel", "-n", first["job"], url=url)
    cli("schedule", "disable", "-n", "credit-daily", url=url)
