"""``shipyard batch-deployment update`` against a real server: the file replaces the
deployment's model, settings and SQL output, checked as on create; a job created before the
update scores with the old spec, the next invoke with the new one; bad input — an unknown
endpoint or deployment, an invalid file, a file that renames or moves the deployment — is
refused with the reason and changes nothing. ``delete`` is here too: after it, update is 404."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard.client.client import Client
from tests.conftest import AUTH, ServerProcess
from tests.e2e.test_batch_endpoints import ENDPOINT, _script_deployment
from tests.e2e.test_endpoints_control import cli, ok, write

pytestmark = pytest.mark.slow


def _setup(url: str, tmp_path: Path) -> Path:
    """Endpoint ``scores``, data asset ``rows`` (95 rows), deployment ``good`` (its file)."""
    with (tmp_path / "rows.csv").open("w") as handle:
        handle.write("id,x\n" + "".join(f"{i},{i * 0.1}\n" for i in range(95)))
    ok(cli("data", "create", "-n", "rows", "-t", "uri_file", "-p", str(tmp_path / "rows.csv"), url=url))
    endpoint = write(tmp_path / "ep.yml", ENDPOINT.format(name="scores"))
    ok(cli("batch-endpoint", "create", "-f", str(endpoint), url=url))
    good = _script_deployment(tmp_path, "good", mode="ok", retries=0, threshold=-1)
    ok(cli("batch-deployment", "create", "-f", str(good), url=url))
    return good


def _show(url: str) -> dict[str, Any]:
    shown = ok(cli("batch-deployment", "show", "-n", "good", "-e", "scores", "-o", "json", url=url))
    return dict(json.loads(shown))


def test_update_replaces_model_settings_and_output_for_the_next_invoke_only(
    server: ServerProcess, tmp_path: Path
) -> None:
    url = server.url
    good = _setup(url, tmp_path)
    before = _show(url)
    assert before["settings"]["mini_batch_size"] == 10 and before["output"]["table"] == "scores"

    client = Client(url)
    try:
        old_job = client.batch_endpoints.invoke("scores", "azureml:rows:1")  # queued with the old spec

        write(tmp_path / "model2" / "offset.txt", "1.5")
        new_file = write(
            tmp_path / "good-v2.yml",
            good.read_text().replace("path: model", "path: model2").replace("size: 10", "size: 50"),
        )
        done = cli(
            "batch-deployment", "update", "-f", str(new_file), "-e", "scores",
            "--set", "output.table=v2", "-o", "json", url=url,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "batch deployment scores/good updated" in done.stderr
        assert "model: 1 files" in done.stderr  # the new local model folder was uploaded
        updated = json.loads(done.stdout)
        assert updated["settings"]["mini_batch_size"] == 50 and updated["output"]["table"] == "v2"
        assert updated["model"]["snapshot"] != before["model"]["snapshot"]
        after = _show(url)
        assert after == updated
        assert after["created_at"] == before["created_at"] and after["updated_at"] >= before["updated_at"]
        listed = json.loads(ok(cli("batch-deployment", "list", "-e", "scores", "-o", "json", url=url)))
        assert [d["settings"]["mini_batch_size"] for d in listed] == [50]

        new_job = client.batch_endpoints.invoke("scores", "azureml:rows:1")
        for job in (old_job, new_job):
            final = client.jobs.wait(job.name, timeout_s=240)
            assert str(final.status) == "Completed", final.failure
    finally:
        client.close()

    with sqlite3.connect(tmp_path / "scores.db") as conn:
        old = conn.execute(
            "SELECT count(*), max(mini_batch), min(job_id), max(score - 2 * id) FROM scores"
        ).fetchone()
        new = conn.execute(
            "SELECT count(*), max(mini_batch), min(job_id), max(score - 2 * id) FROM v2"
        ).fetchone()
    assert old == (95, 9, old_job.name, 0.5)  # 10 rows a mini-batch, model offset 0.5, table scores
    assert new == (95, 1, new_job.name, 1.5)  # 50 rows a mini-batch, the new model, table v2


def test_bad_updates_are_refused_with_the_reason_and_change_nothing(
    server: ServerProcess, tmp_path: Path
) -> None:
    url = server.url
    good = _setup(url, tmp_path)
    text = good.read_text()
    before = _show(url)

    cli_cases = [
        (("-f", str(good), "-e", "nowhere"), "no batch endpoint named 'nowhere'"),
        (("-f", str(good), "-n", "nope"), "batch endpoint 'scores' has no deployment named 'nope'"),
        (("-f", str(write(tmp_path / "typo.yml", text + "max_retries_typo: 3\n"))),
         "line 20: unknown field 'max_retries_typo'"),
        (("-f", str(write(tmp_path / "threshold.yml", text.replace("error_threshold: -1", "error_threshold: -2")))),
         "error_threshold"),
        (("-f", str(write(tmp_path / "mysql.yml", text.replace(f"sqlite:///{tmp_path / 'scores.db'}", "mysql://db/x")))),
         "is not a SQLite or PostgreSQL URL"),
        (("-f", str(write(tmp_path / "nocode.yml", text.replace("code_configuration:\n  code: code\n  scoring_script: score.py\n", "")))),
         "not an MLflow model"),
        (("-f", str(good), "--set", "code_configuration.scoring_script=missing.py"),
         "scoring_script 'missing.py' is not a file in"),
    ]  # fmt: skip
    for args, words in cli_cases:
        done = cli("batch-deployment", "update", *args, url=url)
        assert done.returncode == 1 and words in done.stderr, (words, done.stderr)
    assert _show(url) == before

    # Over HTTP: the stable error codes, and a file that renames or moves the deployment.
    spec = {"name": "good", "endpoint_name": "scores", "model": "azureml:iris-clf:1"}
    base = f"{url}/api/v1/batch-endpoints"
    http_cases = [
        (f"{base}/nowhere/deployments/good", spec, 404, "NOT_FOUND", "no batch endpoint named 'nowhere'"),
        (f"{base}/scores/deployments/nope", spec, 404, "NOT_FOUND", "has no deployment named 'nope'"),
        (f"{base}/scores/deployments/good", {**spec, "name": "other"}, 400, "INVALID_SPEC",
         "name is 'other' but the request is for batch deployment 'good'; a deployment cannot be renamed"),
        (f"{base}/scores/deployments/good", {**spec, "endpoint_name": "elsewhere"}, 400, "INVALID_SPEC",
         "a deployment cannot move to another endpoint"),
        (f"{base}/scores/deployments/good", {**spec, "mini_batch_size": 0}, 400, "INVALID_SPEC",
         "mini_batch_size"),
        (f"{base}/scores/deployments/good", {**spec, "typo": 1}, 400, "INVALID_SPEC", "unknown field 'typo'"),
    ]  # fmt: skip
    for address, body, status, code, words in http_cases:
        response = httpx.put(address, json={"spec": body, "source": "dep.yml"}, timeout=30, headers=AUTH)
        assert response.status_code == status, (address, response.text)
        error = response.json()["error"]
        assert error["code"] == code and words in error["message"], (words, error)
    assert _show(url) == before

    ok(cli("batch-deployment", "delete", "-n", "good", "-e", "scores", "--yes", url=url))
    assert json.loads(ok(cli("batch-deployment", "list", "-e", "scores", "-o", "json", url=url))) == []
    for args in (("update", "-f", str(good)), ("delete", "-n", "good", "-e", "scores")):
        done = cli("batch-deployment", *args, url=url)
        assert done.returncode == 1 and "has no deployment named 'good'" in done.stderr, done.stderr
    gone = httpx.put(f"{base}/scores/deployments/good", json={"spec": spec}, timeout=30, headers=AUTH)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "NOT_FOUND"
