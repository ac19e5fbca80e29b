"""Jobs as a user runs them: a real server, job files in a project folder, the CLI as a
subprocess, the job's process on the built-in ``local`` target — and what lands in the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from shipyard.client.client import Client
from shipyard.domain.jobs import JobStatus
from tests.conftest import ADMIN_TOKEN, AUTH, ServerProcess

slow = pytest.mark.slow

TRAIN = textwrap.dedent(
    """
    import argparse, os, pathlib, sys
    import mlflow

    run_id = os.environ["MLFLOW_RUN_ID"]  # mlflow unsets it once it has started the run

    p = argparse.ArgumentParser()
    p.add_argument("--C", type=float, required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--model", required=True)
    a = p.parse_args()
    rows = pathlib.Path(a.data).read_text().splitlines()
    print(f"training with C={a.C} on {len(rows)} rows", flush=True)
    print("to stderr", file=sys.stderr, flush=True)
    mlflow.log_param("C", a.C)
    for step in range(3):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    out = pathlib.Path(a.model)
    (out / "model.txt").write_text(f"C={a.C}")
    (out / "sub").mkdir()
    (out / "sub" / "weights.bin").write_bytes(b"\\x00\\x01")
    print("run", run_id, "done")
    """
)

JOB = textwrap.dedent(
    """
    $schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
    code: src
    command: >-
      python train.py --C ${{inputs.C}} --data ${{inputs.rows}} --model ${{outputs.model}}
    inputs:
      C: 1.0
      rows:
        type: uri_file
        path: data/rows.csv
    outputs:
      model:
        type: custom_model
    experiment_name: jobs-e2e
    display_name: train the thing
    tags:
      team: e2e
    """
)


def run_cli(
    *args: str, url: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env["SHIPYARD_TOKEN"] = ADMIN_TOKEN
    env["SHIPYARD_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "shipyard", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def clients() -> Iterator[Callable[[str], Client]]:
    made: list[Client] = []

    def make(url: str) -> Client:
        made.append(Client(url))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "train.py").write_text(TRAIN)
    (root / "src" / ".amlignore").write_text("ignored/\n")
    (root / "src" / "ignored").mkdir()
    (root / "src" / "ignored" / "big.bin").write_bytes(b"x" * 1000)
    (root / "data").mkdir()
    (root / "data" / "rows.csv").write_text("a,b\n1,2\n3,4\n")
    (root / "job.yml").write_text(JOB)
    return root


def _write_job(project: Path, name: str, text: str) -> Path:
    path = project / name
    path.write_text(textwrap.dedent(text))
    return path


def _wait(client: Client, name: str, statuses: set[JobStatus], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.jobs.get(name).status in statuses:
            return
        time.sleep(0.05)
    raise AssertionError(f"job {name} never reached {statuses}; it is {client.jobs.get(name).status}")


@slow
def test_a_job_runs_streams_and_lands_in_its_run(
    server: ServerProcess, project: Path, tmp_path: Path, clients: Callable[[str], Client]
) -> None:
    done = run_cli(
        "job", "create", "-f", str(project / "job.yml"), "--set", "inputs.C=0.5", "--stream", url=server.url
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The log streamed live: preparation lines, then the process's stdout and stderr.
    assert "training with C=0.5 on 3 rows" in done.stdout
    assert "to stderr" in done.stdout
    assert "[shipyard] environment: the server's own Python environment" in done.stdout
    assert "Completed" in done.stderr

    client = clients(server.url)
    [job] = client.jobs.list()
    assert job.status is JobStatus.COMPLETED
    full = client.jobs.get(job.name)
    assert [e.status for e in full.events] == [
        JobStatus.NOT_STARTED,
        JobStatus.QUEUED,
        JobStatus.PREPARING,
        JobStatus.RUNNING,
        JobStatus.FINALIZING,
        JobStatus.COMPLETED,
    ]
    times = [e.at for e in full.events]
    assert times == sorted(times)
    # Each job is a run: the mlflow calls inside the script landed in it.
    run = client.get_run(job.run_id)
    assert run.status == "FINISHED"
    assert run.name == "train the thing"
    assert run.params == {"C": "0.5"}
    assert [round(p, 3) for p in client.get_metric_history(job.run_id, "loss").values] == [1.0, 0.5, 0.333]
    assert run.tags["shipyard.job.name"] == job.name
    assert run.tags["team"] == "e2e"
    # Logs and outputs are kept with the run.
    files = {f["path"] for f in client.list_artifacts(job.run_id, "outputs/model")}
    assert files == {"outputs/model/model.txt", "outputs/model/sub"}
    dest = tmp_path / "download"
    shown = run_cli("job", "download", "-n", job.name, "--download-path", str(dest), url=server.url)
    assert shown.returncode == 0, shown.stderr
    assert (dest / job.name / "outputs" / "model" / "model.txt").read_text() == "C=0.5"
    assert (dest / job.name / "outputs" / "model" / "sub" / "weights.bin").read_bytes() == b"\x00\x01"
    std_log = (dest / job.name / "user_logs" / "std_log.txt").read_text()
    assert "training with C=0.5" in std_log and "[shipyard]" not in std_log
    # The code snapshot honoured .amlignore.
    snapshot = client.get_snapshot(full.code_digest or "")
    assert sorted(f.path for f in snapshot.files) == [".amlignore", "train.py"]

    show = run_cli("job", "show", "-n", job.name, "--output", "json", url=server.url)
    assert json.loads(show.stdout)["status"] == "Completed"


@slow
def test_a_failing_job_names_its_exit_code_and_last_lines(
    server: ServerProcess, project: Path, clients: Callable[[str], Client]
) -> None:
    path = _write_job(
        project,
        "fail.yml",
        """
        command: python -c "import sys; print('about to fail'); sys.exit(3)"
        """,
    )
    done = run_cli("job", "create", "-f", str(path), "--stream", url=server.url)
    assert done.returncode == 1
    assert "about to fail" in done.stdout
    assert "exit_code" in done.stderr and "exit code 3" in done.stderr
    client = clients(server.url)
    [job] = client.jobs.list()
    assert job.status is JobStatus.FAILED
    assert job.failure is not None
    assert job.failure.exit_code == 3
    assert "about to fail" in job.failure.message
    assert client.get_run(job.run_id).status == "FAILED"
    # The log is kept also when the process crashed.
    assert any(f["path"] == "user_logs/std_log.txt" for f in client.list_artifacts(job.run_id, "user_logs"))


@slow
def test_cancel_kills_the_process_tree_and_says_who(
    server: ServerProcess, project: Path, tmp_path: Path, clients: Callable[[str], Client]
) -> None:
    marker = tmp_path / "child.pid"
    path = _write_job(
        project,
        "sleepy.yml",
        f"""
        command: bash -c 'sleep 300 & echo $! > {marker}; wait'
        """,
    )
    client = clients(server.url)
    job = client.jobs.create(path)
    _wait(client, job.name, {JobStatus.RUNNING})
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(marker.read_text())
    done = run_cli("job", "cancel", "-n", job.name, url=server.url)
    assert done.returncode == 0, done.stderr
    final = client.jobs.get(job.name)
    assert final.status is JobStatus.CANCELED
    assert final.failure is not None and final.failure.cause == "canceled"
    assert final.canceled_by == "admin"
    assert "canceled by admin" in final.failure.message
    deadline = time.monotonic() + 10
    while psutil.pid_exists(child) and psutil.Process(child).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the grandchild survived the cancel"
        time.sleep(0.05)
    assert client.get_run(job.run_id).status == "KILLED"


@slow
def test_timeout_fails_the_job_with_the_reason(
    server: ServerProcess, project: Path, clients: Callable[[str], Client]
) -> None:
    path = _write_job(project, "slow.yml", "command: sleep 30\nlimits:\n  timeout: 1\n")
    client = clients(server.url)
    job = client.jobs.create(path)
    _wait(client, job.name, {JobStatus.FAILED, JobStatus.COMPLETED}, timeout=30)
    final = client.jobs.get(job.name)
    assert final.failure is not None
    assert final.failure.cause == "timeout"
    assert "timed out after 1" in final.failure.message


@slow
def test_a_compute_runs_at_most_max_concurrent_jobs_fifo(
    server: ServerProcess, project: Path, clients: Callable[[str], Client]
) -> None:
    done = run_cli(
        "compute", "create", "--name", "one", "--type", "local", "--max-concurrent", "1", url=server.url
    )
    assert done.returncode == 0, done.stderr
    path = _write_job(project, "wait.yml", "command: sleep 2\ncompute: azureml:one\n")
    client = clients(server.url)
    first = client.jobs.create(path)
    second = client.jobs.create(path)
    _wait(client, first.name, {JobStatus.RUNNING})
    assert client.jobs.get(second.name).status is JobStatus.QUEUED
    busy = run_cli("compute", "delete", "-n", "one", url=server.url)
    assert busy.returncode == 1 and "queued or running" in busy.stderr
    _wait(client, second.name, {JobStatus.COMPLETED}, timeout=30)
    a, b = client.jobs.get(first.name), client.jobs.get(second.name)
    first_done = next(e.at for e in a.events if e.status is JobStatus.COMPLETED)
    second_started = next(e.at for e in b.events if e.status is JobStatus.PREPARING)
    assert second_started >= first_done - 50  # it waited for the slot (same-clock ms)


@slow
def test_a_restarted_server_reattaches_to_a_running_job(
    server_factory, project: Path, tmp_path: Path, clients: Callable[[str], Client]
) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    first = server_factory(home=home)
    path = _write_job(
        project, "long.yml", "command: python -c \"import time; time.sleep(3); print('survived')\"\n"
    )
    client = clients(first.url)
    job = client.jobs.create(path)
    _wait(client, job.name, {JobStatus.RUNNING})
    first.stop(sig=9)  # the server dies; the job's process must not
    second = server_factory(home=home)
    client = clients(second.url)
    _wait(client, job.name, {JobStatus.COMPLETED, JobStatus.FAILED}, timeout=30)
    final = client.jobs.get(job.name)
    assert final.status is JobStatus.COMPLETED, final.failure
    std_log = tmp_path / "std_log.txt"
    client.download_artifact(final.run_id, "user_logs/std_log.txt", std_log)
    assert "survived" in std_log.read_text()


@slow
def test_logs_follow_over_http_while_the_job_runs(
    server: ServerProcess, project: Path, clients: Callable[[str], Client]
) -> None:
    (project / "src" / "ticks.py").write_text(
        "import time\nfor i in range(5):\n    print('tick', i, flush=True)\n    time.sleep(0.3)\n"
    )
    path = _write_job(project, "ticks.yml", "code: src\ncommand: python ticks.py\n")
    client = clients(server.url)
    job = client.jobs.create(path)
    seen: list[tuple[float, str]] = []
    with httpx.stream(
        "GET",
        f"{server.url}/api/v1/jobs/{job.name}/logs",
        params={"follow": "true"},
        timeout=60,
        headers=AUTH,
    ) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            seen.append((time.monotonic(), line))
    ticks = [(t, line) for t, line in seen if line.startswith("tick")]
    assert [line for _, line in ticks] == [f"tick {i}" for i in range(5)]
    # Live, not all at the end: the first tick arrived well before the last.
    assert ticks[-1][0] - ticks[0][0] > 0.6
    assert client.jobs.get(job.name).status is JobStatus.COMPLETED


# -- bad input: a clear error before anything runs, and nothing half-created --------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("comand: echo hi\n", "line 1"),
        ("command: [echo, hi]\n", "must be a string"),
        ("command: echo ${{inputs.nope}}\n", "inputs.nope"),
        (
            "command: echo ${{inputs.x}}\ninputs:\n  x:\n    type: uri_file\n    path: missing.csv\n",
            "missing.csv",
        ),
        ("command: echo hi\ncode: ../../outside\n", "outside the project"),
        ("command: echo hi\ncompute: azureml:nope\n", "no compute target named 'nope'"),
        ("command: echo hi\nenvironment: azureml:nope:1\n", "no environment nope:1"),
        ("command: echo hi\ninputs:\n  d:\n    type: uri_folder\n    path: azureml:ghost@latest\n", "ghost"),
        (
            "command: echo hi\ninputs:\n  d:\n    type: uri_folder\n    path: runs:/0123456789abcdef/x\n",
            "no run",
        ),
    ],
)
@slow
def test_bad_job_files_fail_clearly_and_create_nothing(
    server: ServerProcess, project: Path, text: str, message: str, clients: Callable[[str], Client]
) -> None:
    path = _write_job(project, "bad.yml", text)
    done = run_cli("job", "create", "-f", str(path), url=server.url)
    assert done.returncode != 0
    assert message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    client = clients(server.url)
    assert client.jobs.list() == []
    assert [e.name for e in client.list_experiments()] == ["Default"]


@slow
def test_bad_api_requests_are_4xx(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, headers=AUTH) as http:
        r = http.post("/api/v1/jobs", json={"spec": {"command": "echo hi", "code": "src"}})
        assert r.status_code == 400 and "no code snapshot" in r.json()["error"]["message"]
        r = http.post(
            "/api/v1/jobs",
            json={
                "spec": {
                    "command": "echo ${{inputs.x}}",
                    "inputs": {"x": {"type": "uri_file", "path": "local.csv"}},
                }
            },
        )
        assert r.status_code == 400 and "cannot read" in r.json()["error"]["message"]
        r = http.post("/api/v1/jobs", json={"spec": {"command": "echo hi", "name": "dup"}})
        assert r.status_code == 201
        r = http.post("/api/v1/jobs", json={"spec": {"command": "echo hi", "name": "dup"}})
        assert r.status_code == 409
        assert http.get("/api/v1/jobs/nope").status_code == 404
        assert http.get("/api/v1/jobs", params={"status": "Sleeping"}).status_code == 400
        assert http.get("/api/v1/jobs/dup/logs", params={"offset": -1}).status_code == 400
        r = http.post(
            "/api/v1/jobs", json={"spec": {"command": "echo hi", "code": "src"}, "code_snapshot": "ab" * 32}
        )
        assert r.status_code == 404 and "snapshot" in r.json()["error"]["message"]
        r = http.post(
            "/api/v1/jobs", json={"spec": {"command": "echo hi", "code": "src"}, "code_snapshot": "../x"}
        )
        assert r.status_code == 400
        r = http.post("/api/v1/computes", json={"name": "r", "type": "ray"})
        assert r.status_code == 400 and "--address" in r.json()["error"]["message"]
        r = http.post("/api/v1/computes", json={"name": "k", "type": "kubernetes"})
        assert r.status_code == 400


@slow
def test_named_outputs_become_a_data_asset_and_a_model_version(
    server: ServerProcess, project: Path, clients: Callable[[str], Client]
) -> None:
    (project / "src" / "emit.py").write_text(
        "import pathlib, sys\n"
        "pathlib.Path(sys.argv[1], 'scores.csv').write_text('id,score\\n1,0.5\\n2,0.7\\n')\n"
        "pathlib.Path(sys.argv[2], 'model.txt').write_text('weights')\n"
    )
    path = _write_job(
        project,
        "named.yml",
        """
        code: src
        command: python emit.py ${{outputs.scores}} ${{outputs.model}}
        outputs:
          scores: {type: uri_folder, name: job-scores, version: "7"}
          model: {type: custom_model, name: job-model}
        """,
    )
    done = run_cli("job", "create", "-f", str(path), "--stream", url=server.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "registered data asset job-scores:7" in done.stdout
    assert "registered model job-model version 1" in done.stdout
    client = clients(server.url)
    [job] = client.jobs.list()
    asset = client.get_data_asset("job-scores", "7")
    assert asset.row_count is None or asset.file_count == 1
    assert asset.tags["shipyard.job.name"] == job.name
    version = client.get_model_version("job-model", 1)
    assert version.source == f"runs:/{job.run_id}/outputs/model"
    # A second run cannot reuse the immutable version: the job still Completes, the log says why.
    again = run_cli("job", "create", "-f", str(path), "--stream", url=server.url)
    assert again.returncode == 0
    assert "not registered as job-scores" in again.stdout and "versions are immutable" in again.stdout


@slow
def test_a_job_too_short_to_be_seen_running_still_records_running(
    server: ServerProcess, project: Path, clients: Callable[[str], Client]
) -> None:
    path = _write_job(project, "blink.yml", "command: 'true'\n")
    client = clients(server.url)
    names = [client.jobs.create(path).name for _ in range(8)]
    for name in names:
        _wait(client, name, {JobStatus.COMPLETED})
        events = client.jobs.get(name).events
        statuses = [e.status for e in events]
        assert statuses[-3:] == [JobStatus.RUNNING, JobStatus.FINALIZING, JobStatus.COMPLETED], statuses
        times = [e.at for e in events]
        assert times == sorted(times)
