"""AutoML as a user runs it: a real server with auth, a breast-cancer table registered as a
data asset, ``shipyard automl run`` with three trials of the real engine — the job completes,
``job show`` prints the leaderboard, and the best model is registered with its signature."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, ServerProcess
from tests.e2e.test_jobs import run_cli

pytestmark = pytest.mark.slow


def _cancer_csv(folder: Path) -> Path:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.rename(columns={"target": "diagnosis"})
    path = folder / "cancer.csv"
    frame.to_csv(path, index=False)
    return path


def test_automl_run_registers_the_best_model_and_shows_its_leaderboard(
    server: ServerProcess, tmp_path: Path
) -> None:
    table = _cancer_csv(tmp_path)
    made = run_cli("data", "create", "-n", "cancer", "-p", str(table), "-t", "uri_file", url=server.url)
    assert made.returncode == 0, made.stderr

    ran = run_cli(
        "automl", "run", "--data", "azureml:cancer@latest", "--target", "diagnosis", "--task", "classification",
        "--max-trials", "3", "--max-concurrent-trials", "3", "--timeout", "10m", "--experiment-name", "cancer",
        "--model-name", "cancer-automl", "--name", "cancer-automl-1", "--stream",
        url=server.url, timeout=600,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-4000:]

    shown = run_cli("job", "show", "-n", "cancer-automl-1", url=server.url)
    assert shown.returncode == 0, shown.stderr
    assert "leaderboard" in shown.stdout and "featurization" in shown.stdout
    assert "LogisticRegression" in shown.stdout and "★ 1" in shown.stdout
    assert "model registered: cancer-automl:1" in shown.stdout
    assert "final model:" in shown.stdout and "permutation importance" in shown.stdout

    import mlflow

    os.environ["MLFLOW_TRACKING_TOKEN"] = ADMIN_TOKEN
    mlflow.set_tracking_uri(server.url)
    info = mlflow.models.get_model_info("models:/cancer-automl/1")
    assert info.signature is not None
    assert "diagnosis" not in [c.name for c in info.signature.inputs.inputs]
    assert "mean radius" in [c.name for c in info.signature.inputs.inputs]

    # The studio's job page draws the same leaderboard, with the registered model and its card.
    page = httpx.get(
        f"{server.url}/studio/jobs/cancer-automl-1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert page.status_code == 200
    assert 'id="automl-h"' in page.text and "★ best" in page.text
    assert 'href="/studio/models/cancer-automl/versions/1"' in page.text
    assert 'id="automl-importance"' in page.text
