"""Azure ML's own command-only pipeline files run on a real server's local target, unchanged:
the ones that need no network (fixtures/azureml_pipelines/README.md) — shell steps, Azure's
default ``artifacts`` output, a ``uri_file`` output, ``azureml:serverless`` compute, and the
``1b`` train → score → evaluate pipeline whose ``azureml:my_train@latest`` components are
registered from Azure's component files with ``component create``; ``azureml:cpu-cluster`` is
Azure's cluster file registered as a local target.

Environment, overridden: every step names Azure's curated
``azureml://registries/azureml/environments/sklearn-1.5/labels/latest``, which Shipyard builds
with uv from PyPI for Python 3.10. A test must not download, and this machine's uv cache does
build it offline (``UV_OFFLINE=1``, 0.5 s) but only where a ``python3.10`` is on the server's
PATH, which a test cannot count on. So the test registers an environment of that name,
``sklearn-1.5``, asking for no package — the server's own interpreter (a workspace's own
environment wins over the curated name, docs/environments.md); the steps need only the
standard library and the shell. The files themselves are not edited.
``benchmarks/azureml_pipelines.py`` runs every such pipeline with the real curated build.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shipyard.client.client import Client
from shipyard.client.components import ComponentOperations
from tests.conftest import ADMIN_TOKEN, ServerProcess

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent / "fixtures" / "azureml_pipelines"
BASICS = "cli/jobs/basics"
E2E_1B = "cli/jobs/pipelines-with-components/basics/1b_e2e_registered_components"


def test_azures_offline_command_pipelines_complete(server: ServerProcess, tmp_path: Path) -> None:
    tree = tmp_path / "examples"
    shutil.copytree(FIXTURES, tree)
    env_file = tmp_path / "sklearn-1.5.yml"
    # Azure's base image, never pulled, with no package: the server's interpreter, no build.
    env_file.write_text("name: sklearn-1.5\nimage: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04\n")
    with Client(server.url, token=ADMIN_TOKEN) as client:
        client.environments.create(env_file)
        client.computes.create_from_file(
            tree / "cli/resources/compute/cluster-basic.yml", {"name": "cpu-cluster"}
        )
        components = client.operations(ComponentOperations)
        for name in ("train", "score", "eval"):
            components.create(tree / E2E_1B / f"{name}.yml")
        assert sorted(c.name for c in components.list()) == ["my_eval", "my_score", "my_train"]

        files = [
            f"{BASICS}/hello-pipeline-io.yml",
            f"{BASICS}/hello-pipeline-default-artifacts.yml",
            f"{BASICS}/hello-pipeline-abc-serverless.yml",
            f"{BASICS}/hello-pipeline-customize-output-file.yml",
            f"{BASICS}/hello-pipeline-customize-output-file-serverless.yml",
            f"{E2E_1B}/pipeline.yml",
            f"{E2E_1B}/pipeline-serverless.yml",
        ]
        jobs = {rel: client.jobs.create(tree / rel).name for rel in files}
        done = {rel: client.jobs.wait(name, poll_s=0.1, timeout_s=60) for rel, name in jobs.items()}
        for rel, job in done.items():
            assert job.status.value == "Completed", (rel, job.failure, job.report.get("steps"))

        # Each step ran on the target the file names: Azure's cluster, or the default for
        # serverless; the world step read the hello step's ./outputs through `artifacts`.
        steps = {c.step: c for c in client.jobs.list(parent=jobs[f"{BASICS}/hello-pipeline-io.yml"])}
        assert {s: c.compute for s, c in steps.items()} == {
            "hello_job": "cpu-cluster",
            "world_job": "cpu-cluster",
        }
        serverless = client.jobs.list(parent=jobs[f"{BASICS}/hello-pipeline-abc-serverless.yml"])
        assert {c.compute for c in serverless} == {"local"}
        artifacts = {
            c.step: c for c in client.jobs.list(parent=jobs[f"{BASICS}/hello-pipeline-default-artifacts.yml"])
        }
        log = b"".join(client.jobs.stream(artifacts["world_job"].name, follow=False))
        assert b"world" in log

        # 1b: the registered components' code ran, and the pipeline's outputs are the steps' runs.
        e2e = done[f"{E2E_1B}/pipeline.yml"]
        assert set(e2e.report["outputs"]) == {
            "pipeline_job_trained_model", "pipeline_job_scored_data", "pipeline_job_evaluation_report",
        }  # fmt: skip
        train = next(c for c in client.jobs.list(parent=e2e.name) if c.step == "train_job")
        assert train.code_digest == components.get("my_train").code_digest
