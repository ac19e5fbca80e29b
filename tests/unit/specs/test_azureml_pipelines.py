"""Every pipeline job and component file of Azure/azureml-examples' cli/ folder is read: it
loads, or it is refused with the step (or field) and the reason — never a crash
(fixtures/azureml_pipelines/README.md)."""

from __future__ import annotations

import collections
import functools
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from shipyard.errors import InvalidSpec
from shipyard.specs.component import CommandComponentSpec
from shipyard.specs.pipeline import PipelineComponentSpec
from shipyard.specs.pipeline_files import read_component, read_pipeline

ROOT = Path(__file__).parent / "fixtures" / "azureml_pipelines"
INDEX = [line.split(" ", 1) for line in (ROOT / "index.txt").read_text().splitlines()]
PIPELINES = [rel for kind, rel in INDEX if kind == "pipeline"]
COMPONENTS = [rel for kind, rel in INDEX if kind == "component"]

#: Why a file is refused, as its message says it.
REASONS = {
    "spark": "Spark, a cloud-only feature",
    "parallel": "parallel components",
    "automl": "AutoML steps are not supported",
    "sweep": "sweep steps inside a pipeline",
    "registered pipeline": "is a registered pipeline component",
    "distributed": "distributed",
    "no value": "which has no value",  # an input a batch endpoint gives when it is invoked
}


def _reason(message: str) -> str:
    found = [key for key, words in REASONS.items() if words in message]
    assert len(found) == 1, message
    return found[0]


def _refusal(read: Callable[[], object]) -> str | None:
    """The message of the InvalidSpec ``read`` raises; None when it reads the file."""
    try:
        read()
    except InvalidSpec as exc:
        return exc.message
    return None


def _command_only(rel: str) -> bool:
    """Azure's file has only command steps whose components are local files (or inline)."""
    data = yaml.safe_load((ROOT / rel).read_text())
    steps = (data.get("jobs") or {}).values()
    for step in steps:
        component = step.get("component")
        if step.get("type", "command") != "command" or (
            isinstance(component, str) and component.startswith("azureml:")
        ):
            return False
        if isinstance(component, str):
            target = yaml.safe_load((ROOT / rel).parent.joinpath(component.removeprefix("file:")).read_text())
            if target.get("type", "command") != "command":
                return False
    return bool(steps)


def test_the_corpus_is_the_issues() -> None:
    assert len(PIPELINES) == 95
    assert len(COMPONENTS) == 86
    kinds = collections.Counter(yaml.safe_load((ROOT / rel).read_text()).get("type") for rel in COMPONENTS)
    assert kinds == {"command": 73, "pipeline": 8, "spark": 5}
    assert sum(_command_only(rel) for rel in PIPELINES) == 37  # + 3 that run a pipeline component: 40


def test_every_pipeline_loads_or_is_refused_with_its_step_and_reason() -> None:
    outcome: collections.Counter[str] = collections.Counter()
    for rel in PIPELINES:
        message = _refusal(functools.partial(read_pipeline, ROOT / rel, absolute_paths=False))
        if message is None:
            assert read_pipeline(ROOT / rel, absolute_paths=False).plan.steps
            outcome["loaded"] += 1
        else:
            assert re.search(r"line \d+: (step '|field 'jobs\.)", message), message
            outcome[_reason(message)] += 1
    assert outcome == {
        "loaded": 43, "registered pipeline": 21, "automl": 10, "spark": 8, "parallel": 6, "distributed": 5, "sweep": 1,
        "no value": 1,
    }  # fmt: skip


@pytest.mark.parametrize("rel", [r for r in PIPELINES if _command_only(r)])
def test_command_only_pipelines_load_unless_distributed(rel: str) -> None:
    message = _refusal(lambda: read_pipeline(ROOT / rel, absolute_paths=False))
    if message is not None:
        assert _reason(message) == "distributed", message
        return
    loaded = read_pipeline(ROOT / rel, absolute_paths=False)
    for step in loaded.plan.steps.values():
        assert step.command["command"].strip()
        assert set(step.after) <= set(loaded.plan.steps)


def test_34_of_the_40_command_only_pipelines_load() -> None:
    through_component = [r for r in PIPELINES if yaml.safe_load((ROOT / r).read_text()).get("component")]
    forty = [r for r in PIPELINES if _command_only(r)] + through_component
    assert len(forty) == 40
    loaded = [
        r for r in forty if _refusal(functools.partial(read_pipeline, ROOT / r, absolute_paths=False)) is None
    ]
    assert len(loaded) == 34  # 5 distributed, 1 needs an input a batch endpoint gives


def test_runs_a_pipeline_component_given_as_the_jobs_component() -> None:
    loaded = read_pipeline(
        ROOT / "cli/endpoints/batch/deploy-pipelines/hello-batch/pipeline-job.yml", absolute_paths=False
    )
    assert list(loaded.plan.steps) == ["main_job"]
    assert loaded.plan.steps["main_job"].command["command"].strip() == "python hello.py"


def test_every_component_loads_or_is_refused_with_the_reason() -> None:
    outcome: collections.Counter[str] = collections.Counter()
    for rel in COMPONENTS:
        message = _refusal(functools.partial(read_component, ROOT / rel))
        if message is None:
            spec, _ = read_component(ROOT / rel)
            assert isinstance(spec, (CommandComponentSpec, PipelineComponentSpec))
            outcome["command" if isinstance(spec, CommandComponentSpec) else "pipeline"] += 1
        else:
            assert re.search(r"line \d+", message), message
            outcome[_reason(message)] += 1
    assert outcome == {"command": 70, "pipeline": 8, "spark": 5, "distributed": 3}


def test_registered_component_steps_wait_for_their_upstream_steps() -> None:
    loaded = read_pipeline(
        ROOT / "cli/jobs/pipelines-with-components/basics/1b_e2e_registered_components/pipeline.yml",
        absolute_paths=False,
    )
    steps = loaded.plan.steps
    assert list(steps) == ["train_job", "score_job", "evaluate_job"]
    assert steps["score_job"].upstream == {"model_input": ("train_job", "model_output")}
    assert steps["evaluate_job"].upstream == {"scoring_result": ("score_job", "score_output")}
    assert loaded.plan.outputs["pipeline_job_trained_model"] == ("train_job", "model_output")
