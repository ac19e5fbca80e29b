"""The Python way builds the same pipeline as the YAML of examples/pipeline."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shipyard.dsl import Input, Output, command_component, pipeline
from shipyard.errors import InvalidSpec
from shipyard.specs.pipeline_files import read_pipeline

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipeline"

prep = command_component(
    name="prep", code="src", command="python prep.py ${{inputs.raw}} ${{outputs.clean}}",
    inputs={"raw": Input("uri_folder")}, outputs={"clean": Output()},
)  # fmt: skip
train = command_component(
    name="train", code="src", version="1",
    command="python train.py ${{inputs.data}} ${{inputs.lr}} ${{outputs.model}}",
    inputs={"data": Input("uri_folder"), "lr": Input("number", default=0.1)}, outputs={"model": Output()},
)  # fmt: skip
evaluate = command_component(
    name="evaluate", code="src", command="python evaluate.py ${{inputs.model}} ${{outputs.report}}",
    inputs={"model": Input("uri_folder")}, outputs={"report": Output()}, is_deterministic=False,
)  # fmt: skip


@pipeline(display_name="prep-train-evaluate", experiment_name="pipelines", default_compute="local")
def flow(raw: Input, lr: float = 0.5) -> dict[str, object]:
    cleaned = prep(raw=raw)
    trained = train(data=cleaned.outputs.clean, lr=lr)
    scored = evaluate(model=trained.outputs.model)
    return {"report": scored.outputs.report}


def test_the_python_pipeline_plans_like_the_yaml_one(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "project")
    written = flow(raw=Input("uri_folder", path="./data")).write(tmp_path / "project" / "from_python.yml")
    ours = read_pipeline(written).plan
    theirs = read_pipeline(tmp_path / "project" / "pipeline.yml").plan
    assert list(ours.steps) == list(theirs.steps) == ["prep", "train", "evaluate"]
    for name in ours.steps:
        assert ours.steps[name].upstream == theirs.steps[name].upstream
        assert ours.steps[name].command["command"].split() == theirs.steps[name].command["command"].split()
        assert ours.steps[name].command["inputs"] == theirs.steps[name].command["inputs"]
    assert ours.outputs == theirs.outputs == {"report": ("evaluate", "report")}
    assert ours.steps["evaluate"].deterministic is False  # the component says so


def test_a_step_named_twice_gets_a_second_name_and_an_unknown_output_is_refused() -> None:
    @pipeline()
    def twice(raw: Input) -> None:
        first = prep(raw=raw)
        prep(raw=first.outputs.clean)
        with pytest.raises(AttributeError, match="has no output 'cleaned'"):
            _ = first.outputs.cleaned

    spec = twice(raw=Input(path="data")).to_dict()
    assert list(spec["jobs"]) == ["prep", "prep_2"]
    assert spec["jobs"]["prep_2"]["inputs"]["raw"] == "${{parent.jobs.prep.outputs.clean}}"


def test_what_the_yaml_refuses_the_python_way_gets_refused_with_the_line(tmp_path: Path) -> None:
    @pipeline()
    def bad(raw: Input) -> None:
        train(data=raw, lr=7.0).overrides["compute"] = "local"
        train(data=raw, lr="fast")

    path = bad(raw=Input(path=".")).write(tmp_path / "bad.yml")
    with pytest.raises(
        InvalidSpec, match=r"bad\.yml line \d+: step 'train_2': input 'lr': 'fast' is not a number"
    ):
        read_pipeline(path)


def test_components_are_called_only_inside_a_pipeline_function() -> None:
    with pytest.raises(RuntimeError, match="outside a @pipeline function"):
        prep(raw=Input(path="x"))
    with pytest.raises(TypeError, match="has no input 'rows'"):

        @pipeline()
        def wrong() -> None:
            prep(rows=1)

        wrong()
