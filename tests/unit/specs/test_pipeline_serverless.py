"""``azureml:serverless`` (Azure picks the machines) is the default target, with a note — not a
compute target that must exist (benchmarks/azureml_pipelines.py: 7 of Azure's files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.specs.pipeline import is_serverless
from shipyard.specs.pipeline_files import read_pipeline

BASICS = Path(__file__).parent / "fixtures" / "azureml_pipelines" / "cli" / "jobs" / "basics"


@pytest.mark.parametrize(("name", "expected"), [("azureml:serverless", True), ("serverless", True),
                                                ("azureml:cpu-cluster", False), ("serverless-gpu", False),
                                                (None, False)])  # fmt: skip
def test_is_serverless(name: str | None, expected: bool) -> None:
    assert is_serverless(name) is expected


def test_serverless_default_compute_leaves_the_steps_on_the_default_target() -> None:
    loaded = read_pipeline(BASICS / "hello-pipeline-serverless.yml", absolute_paths=False)
    assert loaded.spec.default_compute is None
    assert all("compute" not in step.command for step in loaded.plan.steps.values())
    assert any("serverless" in note for note in loaded.spec.notes())


def test_a_named_cluster_is_still_the_steps_compute() -> None:
    loaded = read_pipeline(BASICS / "hello-pipeline-io.yml", absolute_paths=False)
    assert {step.command["compute"] for step in loaded.plan.steps.values()} == {"azureml:cpu-cluster"}
    assert not any("serverless" in note for note in loaded.spec.notes())
