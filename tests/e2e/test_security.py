"""Identity, secrets and the browser-facing checks on a real server (issue 10).

One server for the module: a job runs as its submitter with a token of its own (revoked at
its end), reveals a secret only in its process, cannot reach another workspace; the
secret's value appears in no answer, log or file under the home; every file there is the
server user's alone; DNS rebinding and CSRF requests are refused; the mlflow client signs in
with a token and with HTTP Basic; a deleted or edited audit row is found by verify.
"""

from __future__ import annotations

import hashlib
import os
import stat
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shipyard.client.client import Client
from shipyard.domain.jobs import JobStatus
from tests.conftest import ADMIN_TOKEN, AUTH, ServerProcess

pytestmark = pytest.mark.slow

SECRET = f"s3cr3t-{uuid.uuid4().hex}"  # unique: a grep for it finds only leaks
OTHER_SECRET = f"other-{uuid.uuid4().hex}"

JOB_SCRIPT = textwrap.dedent(
    """
    import hashlib, os, pathlib, sys
    import httpx

    url, token = os.environ["SHIPYARD_URL"], os.environ["SHIPYARD_TOKEN"]
    assert os.environ["MLFLOW_TRACKING_TOKEN"] == token
    pathlib.Path(sys.argv[1]).write_text(token)  # the test tries it after the job ended
    me = httpx.get(f"{url}/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}).json()
    print("acting as", me["user"], "kind", me["kind"], "only in", me["only_workspace"], flush=True)
    elsewhere = httpx.get(
        f"{url}/api/v1/experiments",
        headers={"Authorization": f"Bearer {token}", "Shipyard-Workspace": "team-b"},
    )
    print("team-b answered", elsewhere.status_code, flush=True)
    print("secret sha256", hashlib.sha256(os.environ["DB_PASSWORD"].encode()).hexdigest(), flush=True)
    import mlflow
    mlflow.log_metric("secret_length", len(os.environ["DB_PASSWORD"]))
    """
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    home = tmp_path_factory.mktemp("security") / "home"
    server = ServerProcess(home).start()
    try:
        yield server
    finally:
        server.stop()


def _client(server: ServerProcess, workspace: str = "default", token: str = ADMIN_TOKEN) -> Client:
    client = Client(server.url, workspace=workspace, token=token)
    _OPEN.append(client)
    return client


_OPEN: list[Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def _put_secret(server: ServerProcess, workspace: str, name: str, value: str) -> None:
    response = httpx.put(
        f"{server.url}/api/v1/secrets/{name}",
        json={"value": value},
        headers={**AUTH, "Shipyard-Workspace": workspace},
    )
    assert response.status_code == 201, response.text


def test_a_job_acts_as_its_submitter_with_the_secret_in_its_process_only(
    live: ServerProcess, tmp_path: Path
) -> None:
    admin = _client(live)
    admin.http.request("POST", "/api/v1/users", json={"name": "dana"})
    admin.http.request(
        "POST",
        "/api/v1/role-assignments",
        json={"user": "dana", "role": "data-scientist", "workspace": "team-a"},
        headers={"Shipyard-Workspace": "team-a"},
    )
    dana_token = admin.http.request("POST", "/api/v1/tokens", json={"name": "t", "user": "dana"})["token"]
    _put_secret(live, "team-a", "DB_PASSWORD", SECRET)
    _put_secret(live, "team-b", "OTHER", OTHER_SECRET)

    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "job.py").write_text(JOB_SCRIPT)
    token_file = tmp_path / "job-token.txt"
    (project / "job.yml").write_text(
        textwrap.dedent(
            f"""
            code: src
            command: python job.py {token_file}
            environment_variables:
              DB_PASSWORD: ${{{{secrets.DB_PASSWORD}}}}
            experiment_name: secrets-e2e
            """
        )
    )
    dana = _client(live, "team-a", dana_token)
    job = dana.jobs.wait(dana.jobs.create(project / "job.yml").name, poll_s=0.2, timeout_s=120)
    log_text = b"".join(dana.jobs.stream(job.name, follow=False)).decode()
    assert job.status == JobStatus.COMPLETED, log_text
    assert "acting as dana kind job only in team-a" in log_text
    assert "team-b answered 403" in log_text
    assert f"secret sha256 {hashlib.sha256(SECRET.encode()).hexdigest()}" in log_text
    # The job's token was revoked when it ended.
    leftover = token_file.read_text()
    assert (
        httpx.get(f"{live.url}/api/v1/whoami", headers={"Authorization": f"Bearer {leftover}"}).status_code
        == 401
    )

    # Readers see the variable's name, not its value; the submitter sees the reference.
    shown = dana.http.request("GET", f"/api/v1/jobs/{job.name}")
    assert shown["spec"]["environment_variables"] == {"DB_PASSWORD": "${{secrets.DB_PASSWORD}}"}


def test_a_job_cannot_name_another_workspaces_secret(live: ServerProcess, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "x.py").write_text("print('never')\n")
    (tmp_path / "job.yml").write_text(
        "code: src\ncommand: python x.py\nenvironment_variables:\n  X: ${{secrets.OTHER}}\n"
    )
    admin_in_a = _client(live, "team-a")
    with pytest.raises(Exception, match="does not have: OTHER"):
        admin_in_a.jobs.create(tmp_path / "job.yml")


def test_a_reader_sees_masked_variables_and_cannot_use_secrets(live: ServerProcess, tmp_path: Path) -> None:
    admin = _client(live)
    admin.http.request("POST", "/api/v1/users", json={"name": "rita"})
    admin.http.request("POST", "/api/v1/role-assignments", json={"user": "rita", "role": "reader"})
    rita_token = admin.http.request("POST", "/api/v1/tokens", json={"name": "t", "user": "rita"})["token"]
    jobs = _client(live, "team-a").http.request("GET", "/api/v1/jobs")["jobs"]
    name = next(j["name"] for j in jobs)
    seen = _client(live, "team-a", rita_token).http.request("GET", f"/api/v1/jobs/{name}")
    assert set(seen["spec"]["environment_variables"].values()) == {"***"}
    secrets = httpx.get(
        f"{live.url}/api/v1/secrets",
        headers={"Authorization": f"Bearer {rita_token}", "Shipyard-Workspace": "team-a"},
    )
    assert secrets.status_code == 403


def test_secret_values_appear_in_no_answer_log_or_file_and_the_home_is_private(live: ServerProcess) -> None:
    # After the job test: the value went through the database, a job, its run and its log.
    listed = httpx.get(f"{live.url}/api/v1/secrets", headers={**AUTH, "Shipyard-Workspace": "team-a"})
    assert [s["name"] for s in listed.json()["secrets"]] == ["DB_PASSWORD"]
    answers = [listed.text]
    for workspace in ("team-a", "team-b", "default"):
        headers = {**AUTH, "Shipyard-Workspace": workspace}
        for path in ("/api/v1/jobs", "/api/v1/audit", "/api/v1/runs/search"):
            method = "POST" if path.endswith("search") else "GET"
            answers.append(
                httpx.request(
                    method, f"{live.url}{path}", headers=headers, json={} if method == "POST" else None
                ).text
            )
    for text in answers:
        assert SECRET not in text and OTHER_SECRET not in text
    assert SECRET not in "".join(live.output)
    leaks, shared = [], []
    for path in live.home.rglob("*"):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        if mode & 0o077:
            shared.append(f"{oct(mode & 0o777)} {path}")
        if stat.S_ISREG(mode) and (
            SECRET.encode() in path.read_bytes() or OTHER_SECRET.encode() in path.read_bytes()
        ):
            leaks.append(str(path))
    assert leaks == []
    assert shared == []
    assert stat.S_IMODE(live.home.stat().st_mode) == 0o700


def test_dns_rebinding_and_cross_site_writes_are_refused(live: ServerProcess) -> None:
    rebound = httpx.get(f"{live.url}/api/v1/experiments", headers={**AUTH, "Host": "attacker.example"})
    assert rebound.status_code == 403 and rebound.json()["error"]["code"] == "HOST_NOT_ALLOWED"
    assert httpx.get(f"{live.url}/healthz", headers={"Host": "attacker.example:5151"}).status_code == 403
    # A plain HTML form's post (text/plain), even with the victim's credentials attached.
    form = httpx.post(
        f"{live.url}/api/2.0/mlflow/experiments/delete",
        content=b'{"experiment_id": "1"}',
        headers={**AUTH, "Content-Type": "text/plain"},
    )
    assert form.status_code == 415
    cross = httpx.post(
        f"{live.url}/api/v1/experiments",
        json={"name": "from-evil"},
        headers={**AUTH, "Origin": "https://evil.example"},
    )
    assert cross.status_code == 403 and cross.json()["error"]["code"] == "ORIGIN_NOT_ALLOWED"
    same = httpx.post(
        f"{live.url}/api/v1/experiments",
        json={"name": f"same-origin-{uuid.uuid4().hex[:6]}"},
        headers={**AUTH, "Origin": live.url},
    )
    assert same.status_code == 201
    assert same.headers["x-frame-options"] == "DENY"
    assert same.headers["x-content-type-options"] == "nosniff"
    assert "access-control-allow-origin" not in same.headers


def test_the_mlflow_client_signs_in_with_a_token_and_with_basic_auth(
    live: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    name = f"basic-{uuid.uuid4().hex[:8]}"
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_TOKEN)
    experiment = MlflowClient(tracking_uri=live.url).create_experiment(name)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "someone-else")
    with pytest.raises(Exception, match="another user"):
        MlflowClient(tracking_uri=live.url).get_experiment(experiment)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    with pytest.raises(Exception, match="UNAUTHENTICATED"):
        MlflowClient(tracking_uri=live.url).get_experiment(experiment)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", ADMIN_TOKEN)
    assert MlflowClient(tracking_uri=live.url).get_experiment(experiment).name == name


def test_audit_verify_finds_an_edited_and_a_deleted_row(live: ServerProcess) -> None:
    ok = httpx.get(f"{live.url}/api/v1/audit/verify", headers=AUTH).json()
    assert ok["ok"] and ok["entries"] > 5
    entries = httpx.get(f"{live.url}/api/v1/audit", params={"action": "jobs:create"}, headers=AUTH).json()
    # The job; the one naming another workspace's secret was refused by the client's check
    # (a read) before any submission, so it left no jobs:create entry.
    assert {(e["actor"], e["status"], e["outcome"]) for e in entries["entries"]} == {("dana", 201, "ok")}
    refused = httpx.post(
        f"{live.url}/api/v1/jobs",
        json={"spec": {"command": "echo x", "environment_variables": {"X": "${{secrets.OTHER}}"}}},
        headers={**AUTH, "Shipyard-Workspace": "team-a"},
    )
    assert refused.status_code == 400 and "does not have: OTHER" in refused.text
    newest = httpx.get(f"{live.url}/api/v1/audit", params={"action": "jobs:create"}, headers=AUTH).json()
    assert (newest["entries"][0]["actor"], newest["entries"][0]["status"]) == (
        "admin",
        400,
    )  # an attempt is audited
    ok = httpx.get(f"{live.url}/api/v1/audit/verify", headers=AUTH).json()
    import sqlite3

    db = sqlite3.connect(live.home / "shipyard.db")
    try:
        edited = ok["entries"] // 2
        db.execute("UPDATE audit_log SET actor = 'nobody' WHERE seq = ?", (edited,))
        db.commit()
        bad = httpx.get(f"{live.url}/api/v1/audit/verify", headers=AUTH).json()
        assert (bad["ok"], bad["first_bad_seq"]) == (False, edited)
        assert "changed" in bad["problem"]
        db.execute("DELETE FROM audit_log WHERE seq = ?", (edited,))
        db.commit()
        gone = httpx.get(f"{live.url}/api/v1/audit/verify", headers=AUTH).json()
        assert (gone["ok"], gone["first_bad_seq"]) == (False, edited + 1)
        assert "missing" in gone["problem"]
    finally:
        db.close()


def test_no_auth_is_refused_off_loopback(tmp_path: Path) -> None:
    import subprocess
    import sys

    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "shipyard",
            "up",
            "--no-auth",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--home",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
        check=False,
    )
    assert refused.returncode == 1
    assert "--no-auth" in refused.stderr and "loopback" in refused.stderr


def test_a_jobs_named_outputs_are_registered_only_as_its_submitter_may(
    live: ServerProcess, tmp_path: Path
) -> None:
    admin = _client(live)
    admin.http.request("POST", "/api/v1/users", json={"name": "eddie"})
    admin.http.request(
        "POST",
        "/api/v1/role-assignments",
        json={"user": "eddie", "role": "data-engineer", "workspace": "team-a"},
        headers={"Shipyard-Workspace": "team-a"},
    )
    token = admin.http.request("POST", "/api/v1/tokens", json={"name": "t", "user": "eddie"})["token"]
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "w.py").write_text(
        "import pathlib, sys\npathlib.Path(sys.argv[1], 'm.txt').write_text('m')\n"
    )
    (tmp_path / "job.yml").write_text(
        textwrap.dedent(
            """
            code: src
            command: python w.py ${{outputs.model}}
            outputs:
              model:
                type: custom_model
                name: sneaky-model
            """
        )
    )
    eddie = _client(live, "team-a", token)
    job = eddie.jobs.wait(eddie.jobs.create(tmp_path / "job.yml").name, poll_s=0.2, timeout_s=120)
    log = b"".join(eddie.jobs.stream(job.name, follow=False)).decode()
    assert job.status == JobStatus.COMPLETED, log
    assert "not registered as sneaky-model: 'eddie' may not (models:write in workspace 'team-a')" in log
    missing = httpx.get(
        f"{live.url}/api/v1/models/sneaky-model", headers={**AUTH, "Shipyard-Workspace": "team-a"}
    )
    assert missing.status_code == 404
