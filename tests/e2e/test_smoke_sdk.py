from __future__ import annotations

import math

import shipyard
from shipyard.client.client import Client


def test_sdk_logs_a_run_that_the_server_keeps(server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    default = shipyard.connect(server.url)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "weights.bin").write_bytes(b"\x00" * 1000)
    with shipyard.start_run(experiment="smoke", name="first") as run:
        run.log_params({"lr": 0.1})
        for step in range(1000):
            run.log_metric("loss", 1 / (step + 1), step=step)
        run.log_metric("weird", math.nan, step=0)
        run.log_artifact(model_dir)
    version = shipyard.register_model("smoke-model", run_id=run.id, artifact_path="model")
    client = Client(server.url)
    got = client.get_run(run.id)
    assert got.status == "FINISHED"
    assert got.params == {"lr": "0.1"}
    assert got.metrics["loss"].count == 1000
    assert got.metrics["loss"].value == 1 / 1000
    assert math.isnan(got.metrics["weird"].value)
    history = client.get_metric_history(run.id, "loss")
    assert history.steps == list(range(1000))
    assert version.version == 1 and version.source == f"runs:/{run.id}/model"
    client.close()
    default.close()
