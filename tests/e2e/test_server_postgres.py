"""The server on PostgreSQL (``--database-url``), driven end to end by the SDK."""

from __future__ import annotations

import math

import httpx
import pytest

import shipyard
from shipyard.client.client import Client

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_sdk_round_trip_on_postgresql(server_factory, pg_database_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(args=["--database-url", pg_database_url])
    health = httpx.get(f"{server.url}/healthz").json()
    assert health["status"] == "ok"
    assert health["stores"] == {"metadata": "postgresql", "artifacts": "local"}

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "weights.bin").write_bytes(bytes(range(256)) * 64)
    (model_dir / "MLmodel").write_text("flavors: {}\n")
    shipyard.connect(server.url)
    with shipyard.start_run(experiment="pg", name="big", params={"lr": 0.01}, tags={"team": "ml"}) as run:
        for step in range(5000):
            run.log_metrics({"loss": 1 / (step + 1), "acc": step / 5000}, step=step)
        run.log_metric("odd", math.inf, step=0)
        run.log_artifact(model_dir)
    with shipyard.start_run(experiment="pg", name="small") as other:
        other.log_metric("acc", 0.1)

    client = Client(server.url)
    got = client.get_run(run.id)
    assert (got.status, got.params, got.tags) == ("FINISHED", {"lr": "0.01"}, {"team": "ml"})
    assert got.metrics["loss"].count == 5000 and got.metrics["acc"].count == 5000
    assert got.metrics["acc"].value == 4999 / 5000 and got.metrics["odd"].value == math.inf
    history = client.get_metric_history(run.id, "loss", page_size=1500)
    assert history.steps == list(range(5000))
    assert history.values == [1 / (s + 1) for s in range(5000)]
    chart = client.get_metric_history(run.id, "loss", max_points=100)
    assert chart.downsampled and len(chart.steps) <= 100 and 1.0 in chart.values

    listing = {f["path"]: f for f in client.list_artifacts(run.id, "model")}
    assert listing["model/weights.bin"]["size"] == 256 * 64
    back = client.download_artifact(run.id, "model/weights.bin", tmp_path / "back.bin")
    assert back.read_bytes() == (model_dir / "weights.bin").read_bytes()

    first = shipyard.register_model("pg-model", run_id=run.id, artifact_path="model")
    second = shipyard.register_model("pg-model", model_uri=f"runs:/{run.id}/model")
    assert (first.version, second.version) == (1, 2)
    client.set_model_alias("pg-model", "champion", 1)
    assert client.get_model_version("pg-model", "champion").run_id == run.id
    assert client.get_model_version("pg-model", "latest").version == 2
    assert [e.action for e in client.model_history("pg-model")] == [
        "model_created",
        "version_created",
        "version_created",
        "alias_set",
    ]

    experiment = client.get_experiment_by_name("pg").id
    best = client.search_runs([experiment], filter="metrics.acc > 0.5 AND params.lr = '0.01'")
    assert [r.id for r in best] == [run.id]
    ordered = client.search_runs([experiment], order_by=["metrics.acc DESC"])
    assert [r.name for r in ordered] == ["big", "small"]
    client.close()
