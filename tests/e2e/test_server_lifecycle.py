"""The server process: health, clean stops on SIGTERM/SIGINT, a public bind, restarts."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

import shipyard
from shipyard.client.client import Client
from tests.conftest import AUTH

pytestmark = pytest.mark.slow


def test_healthz_reports_status_version_and_stores(server) -> None:  # type: ignore[no-untyped-def]
    response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "status": "ok",
        "version": shipyard.__version__,
        "stores": {"metadata": "sqlite", "artifacts": "local"},
    }


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_server_cleanly(server, sig) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    code = server.stop(sig)
    elapsed = time.monotonic() - started
    output = "".join(server.output)
    assert code == 0, output
    assert elapsed < 5, f"took {elapsed:.1f}s to stop"
    assert "Traceback" not in output
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/healthz", timeout=2)


def test_binding_to_all_interfaces_keeps_sign_in_and_answers_its_addresses(server_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    public = server_factory(home=tmp_path / "public", args=["--host", "0.0.0.0"])
    assert httpx.get(f"{public.url}/healthz").status_code == 200
    assert httpx.get(f"{public.url}/api/v1/experiments").status_code == 401
    assert httpx.get(f"{public.url}/api/v1/experiments", headers=AUTH).status_code == 200
    # Every address of this machine is a name the server answers to; others are not.
    port = public.url.rsplit(":", 1)[1]
    addresses = [
        a.address for addrs in psutil.net_if_addrs().values() for a in addrs if a.family.name == "AF_INET"
    ]
    for address in addresses:
        ok = httpx.get(f"{public.url}/healthz", headers={"Host": f"{address}:{port}"})
        assert ok.status_code == 200, address
    assert httpx.get(f"{public.url}/healthz", headers={"Host": "rebound.example"}).status_code == 403


def test_restart_on_the_same_home_keeps_everything(server_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    first = server_factory(home=home)
    client = Client(first.url)
    exp = client.create_experiment("kept", tags={"k": "v"})
    run = client.create_run(exp.id, name="r", params={"lr": "0.1"}, tags={"t": "1"})
    client.log_metric_batch(
        run.id, b'{"metrics":[{"key":"loss","steps":[0,1],"values":[0.5,0.25],"timestamps":[1,2]}]}', "k" * 16
    )
    artifact = tmp_path / "weights.bin"
    artifact.write_bytes(b"\x01" * 2048)
    client.log_artifact(run.id, artifact, "model/weights.bin")
    client.register_model("kept-model", run.id, "model")
    client.set_model_alias("kept-model", "champion", 1)
    client.close()
    assert first.stop() == 0

    second = server_factory(home=home)
    client = Client(second.url)
    got = client.get_run(run.id)
    assert (got.name, got.params, got.tags) == ("r", {"lr": "0.1"}, {"t": "1"})
    assert client.get_metric_history(run.id, "loss").values == [0.5, 0.25]
    assert client.get_experiment_by_name("kept").tags == {"k": "v"}
    assert client.list_artifacts(run.id, "model")[0]["size"] == 2048
    assert client.download_artifact(run.id, "model/weights.bin", tmp_path / "back.bin").read_bytes() == (
        b"\x01" * 2048
    )
    assert client.get_model_version("kept-model", "champion").version == 1
    client.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--artifacts", "nosuchscheme://bucket/x"], "no artifact store for nosuchscheme://"),
        (["--database-url", "postgresql+psycopg://nobody@127.0.0.1:1/x"], "cannot reach the metadata store"),
        (["--port", "99999"], "invalid setting: port"),
    ],
)
def test_a_server_that_cannot_start_says_why(tmp_path: Path, args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shipyard", "up", "--home", str(tmp_path / "home"), "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_a_taken_port_is_a_clear_error(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = server.url.rsplit(":", 1)[1]
    done = subprocess.run(
        [sys.executable, "-m", "shipyard", "up", "--home", str(tmp_path / "other"), "--port", port],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "Address already in use" in done.stderr
