"""The closed loop, end to end (maturity level 4): train and register a model as a job,
deploy it, send traffic from the training distribution, then shifted traffic; the scheduled
monitor finds drift on exactly the shifted features, calls the webhook (a receiver on
loopback, signed with a Shipyard secret) and submits the retraining job, which registers a
new version tagged with the monitor run that caused it. A real server, real jobs, real
workers, the real CLI; nothing mocked."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from examples.monitoring.make_data import credit

from tests.conftest import ADMIN_TOKEN, ServerProcess
from tests.e2e.test_endpoints_scoring import cli

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "monitoring"
FEATURES = ["age", "income", "debt_ratio", "region"]


class Receiver:
    """A webhook receiver on loopback: keeps every POST's headers and body."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/drift"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _ok(*args: str, url: str) -> str:
    done = cli(*args, url=url)
    assert done.returncode == 0, f"shipyard {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _wait(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def _send(server: ServerProcess, key: str, *, shift: bool, seed: int) -> int:
    """1,200 rows in one request: one timestamp, so they fall in one monitor window whatever
    the ticks (several requests could straddle a tick and split the traffic over two runs)."""
    frame = credit(1200, shift=shift, seed=seed)[FEATURES]
    body = {"input_data": {"columns": FEATURES, "data": frame.to_numpy().tolist()}}
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        r = http.post("/endpoints/credit/score", json=body)
        assert r.status_code == 200, r.text
    return len(frame)


def version_of_run(url: str, run_id: str) -> dict[str, Any]:
    """The version of model ``credit`` registered from the run a monitor run caused (the
    server is shared by several tests: the version number depends on their order)."""
    found = json.loads(_ok("model", "show", "credit", "-o", "json", url=url))
    versions = [v for v in found["versions"] if v["tags"].get("shipyard.monitor.run_id") == run_id]
    assert len(versions) == 1, found["versions"]
    return dict(versions[0])


def _collected(server: ServerProcess) -> int:
    import pyarrow.parquet as pq

    folder = server.home / "artifacts" / "_collected" / "default" / "credit" / "blue" / "model_inputs"
    # one row per request; each request carries 1,200 instances
    return sum(pq.read_metadata(f).num_rows for f in folder.rglob("*.parquet")) * 1200


def _monitor_runs(url: str) -> list[dict[str, Any]]:
    shown = json.loads(_ok("monitor", "show", "-n", "credit-monitor", "--runs", "50", "-o", "json", url=url))
    return [r for r in shown["runs"] if r["status"] in ("Completed", "Failed")]


def test_drift_calls_the_webhook_and_retrains(credit_server: tuple[ServerProcess, str, Path]) -> None:
    server, key, tmp = credit_server
    url = server.url
    receiver = Receiver()
    try:
        _ok("secret", "set", "hook-key", "--value", "s3cret", url=url)
        sent = _send(server, key, shift=False, seed=21)
        _wait(lambda: _collected(server) >= sent, 30, "the reference traffic to be collected")
        time.sleep(7.5)  # past the windows' 7 s offset: the first run's window holds it all
        monitor = (EXAMPLE / "monitor.yml").read_text()
        # Every 3 s; each window ends 7 s back, so the collector (which writes every 5 s) has
        # kept everything a window holds before the window is read.
        monitor = monitor.replace(
            "  type: recurrence\n  frequency: hour\n  interval: 1\n",
            "  type: cron\n  expression: '*/3 * * * * *'\n",
        )
        monitor = monitor.replace(
            "      action:\n        job: ./train.yml",
            "      production_data:\n        data_window: {lookback_window_offset: PT7S}\n"
            f"      action:\n        job: {EXAMPLE / 'train.yml'}\n"
            f"        webhook: {{url: '{receiver.url}', secret: hook-key}}",
        )
        file = tmp / "monitor.yml"
        file.write_text(monitor)
        _ok("schedule", "create", "-f", str(file), url=url)

        first = _wait(lambda: _monitor_runs(url), 40, "the first monitor run")[-1]
        assert first["status"] == "Completed", first
        drift = next(s for s in first["signals"] if s["name"] == "drift")
        assert drift["error"] is None and not drift["breached"], drift
        assert {r["column"] for r in drift["rows"]} == set(FEATURES)
        assert "the training data of model credit:1" in first["reference"]
        assert receiver.calls == []

        shifted_at = time.time() * 1000
        sent += _send(server, key, shift=True, seed=22)
        _wait(lambda: _collected(server) >= sent, 30, "the shifted traffic to be collected")

        def breached() -> list[dict[str, Any]]:
            return [r for r in _monitor_runs(url) if "drift" in r["breached"]]

        hit = _wait(breached, 60, "a monitor run that finds the drift")[-1]
        assert hit["window"]["end"] > shifted_at
        drift = next(s for s in hit["signals"] if s["name"] == "drift")
        assert {r["column"] for r in drift["rows"] if r["breached"]} == {"age", "debt_ratio"}
        (action,) = [a for a in hit["actions"] if a["signal"] == "drift"]
        assert action["webhook"]["ok"], action

        # the webhook: signed with the secret's value, naming the run and the drifted columns
        headers, body = _wait(lambda: receiver.calls, 10, "the webhook call")[0]
        digest = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert headers["x-shipyard-signature"] == f"sha256={digest}"
        payload = json.loads(body)
        assert payload["monitor"] == "credit-monitor" and payload["run_id"] == hit["run_id"]
        assert {r["column"] for r in payload["breached"]} == {"age", "debt_ratio"}

        # the retraining job ran as the monitor's creator and registered version 2, tagged
        retrain = action["job"]
        _ok("job", "stream", "-n", retrain, url=url)
        assert '"status": "Completed"' in _ok("job", "show", "-n", retrain, "-o", "json", url=url)
        version = version_of_run(url, hit["run_id"])
        assert version["tags"]["shipyard.monitor.run_id"] == hit["run_id"]
        assert version["tags"]["shipyard.monitor"] == "credit-monitor"

        # the run keeps the values as metrics and the report as an artifact
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            run = http.get("/api/2.0/mlflow/runs/get", params={"run_id": hit["run_id"]}).json()["run"]
            metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
            assert metrics["drift/age/normalized_wasserstein_distance"] > 0.1
            assert metrics["drift/breached"] == 1.0
            listed = http.get(f"/api/v1/runs/{hit['run_id']}/artifacts", params={"path": "monitor"})
            assert {f["path"] for f in listed.json()["files"]} == {
                "monitor/report.html",
                "monitor/report.json",
            }
            page = http.get(f"/api/v1/runs/{hit['run_id']}/artifacts/monitor/report.html")
            assert page.status_code == 200 and b"<svg" in page.content and b"debt_ratio" in page.content
    finally:
        receiver.close()
        cli("schedule", "disable", "-n", "credit-monitor", url=url)


def test_bad_monitors_are_refused_with_what_to_fix(credit_server: tuple[ServerProcess, str, Path]) -> None:
    server, _, tmp = credit_server
    url = server.url
    bad = tmp / "bad.yml"
    bad.write_text(
        "name: nowhere\ntrigger: {type: recurrence, frequency: day, interval: 1}\n"
        "create_monitor:\n  monitoring_target: {ml_task: classification, endpoint_deployment_id: 'azureml:nope:blue'}\n"
    )
    done = cli("schedule", "create", "-f", str(bad), url=url)
    assert done.returncode != 0 and "no online endpoint 'nope'" in done.stderr, done.stderr
    done = cli("monitor", "run", "-n", "nowhere", url=url)
    assert done.returncode != 0 and "nowhere" in done.stderr
    missing = tmp / "missing-job.yml"
    missing.write_text(
        "name: m2\ntrigger: {type: recurrence, frequency: day, interval: 1}\n"
        "create_monitor:\n  monitoring_target: {endpoint_deployment_id: 'azureml:credit:blue'}\n"
        "  monitoring_signals:\n    d: {type: data_drift, action: {job: ./nope.yml}}\n"
    )
    done = cli("schedule", "create", "-f", str(missing), url=url)
    assert done.returncode != 0 and "nope.yml" in done.stderr and "does not exist" in done.stderr
    # A monitor job posted by hand without the retraining job its action names.
    body = {
        "spec": {
            "type": "monitor",
            "monitor_name": "m3",
            "monitor": {
                "name": "m3",
                "trigger": {"type": "recurrence", "frequency": "day", "interval": 1},
                "create_monitor": {
                    "monitoring_target": {"endpoint_deployment_id": "azureml:credit:blue"},
                    "monitoring_signals": {"d": {"type": "data_drift", "action": {"job": "./retrain.yml"}}},
                },
            },
        }
    }
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30) as http:
        r = http.post("/api/v1/jobs", json=body)
    assert r.status_code == 400 and "shipyard schedule create -f monitor.yml" in r.json()["error"]["message"]
    # `monitor run` on a schedule of a command job; a reference that does not exist
    (tmp / "job.yml").write_text("command: echo hi\n")
    plain = tmp / "plain.yml"
    plain.write_text("name: plain\ntrigger: {type: cron, expression: '0 0 1 1 *'}\ncreate_job: ./job.yml\n")
    _ok("schedule", "create", "-f", str(plain), url=url)
    done = cli("monitor", "run", "-n", "plain", url=url)
    assert done.returncode != 0 and "fires a command job, not a monitor" in done.stderr
    nowhere = tmp / "no-reference.yml"
    nowhere.write_text(
        "name: m4\ntrigger: {type: cron, expression: '0 0 1 1 *'}\n"
        "create_monitor:\n  monitoring_target: {endpoint_deployment_id: 'azureml:credit:blue'}\n"
        "  monitoring_signals:\n    d:\n      type: data_drift\n"
        "      reference_data: {input_data: {path: 'azureml:missing:1'}}\n"
    )
    _ok("schedule", "create", "-f", str(nowhere), url=url)
    done = cli("monitor", "run", "-n", "m4", "-o", "json", url=url)
    assert done.returncode == 1  # its only signal could not be computed: the run failed
    (signal,) = json.loads(done.stdout)["signals"]
    assert "no data asset 'azureml:missing:1'" in signal["error"]


def test_rows_sent_without_names_take_the_models_signature(
    credit_server: tuple[ServerProcess, str, Path],
) -> None:
    """What the server's monitor sources read for a deployment, on the server's own database
    and artifact store: the model's input names, which positional rows are given."""
    from shipyard.domain.context import DEFAULT_WORKSPACE, Principal, RequestContext
    from shipyard.services.monitoring.server_sources import ServerSources
    from shipyard.stores.registry import open_artifact_store, open_database

    server, _, _ = credit_server
    db = open_database(f"sqlite:///{server.home / 'shipyard.db'}")
    store = open_artifact_store(str(server.home / "artifacts"))
    ctx = RequestContext(principal=Principal(name="admin"), workspace=DEFAULT_WORKSPACE)
    sources = ServerSources(ctx, db, store, snapshots=None, secrets=None)  # type: ignore[arg-type]
    assert sources._input_names("credit", "blue") == FEATURES
    assert sources._input_names("credit", "nope") is None
