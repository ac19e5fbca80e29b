"""Pipeline job files: bindings, the step graph and every bad input, each naming file and line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.errors import InvalidSpec
from shipyard.specs.pipeline_files import read_pipeline

COMPONENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: train
version: 1
inputs:
  data: {type: uri_folder}
  lr: {type: number, default: 0.1, min: 0, max: 1}
outputs:
  model: {type: uri_folder}
code: ./src
command: python train.py --data ${{inputs.data}} --lr ${{inputs.lr}} --model ${{outputs.model}}
"""

GOOD = """\
type: pipeline
display_name: p
inputs:
  raw: {type: uri_folder, path: ./data}
  lr: 0.5
outputs:
  final: {type: uri_folder}
settings:
  default_compute: local
  continue_on_step_failure: true
jobs:
  prep:
    command: cp -r ${{inputs.raw}} ${{outputs.clean}}
    inputs:
      raw: ${{parent.inputs.raw}}
    outputs:
      clean: {type: uri_folder}
  train:
    component: ./train.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}
      lr: ${{parent.inputs.lr}}
    outputs:
      model: ${{parent.outputs.final}}
"""


@pytest.fixture
def project(write: Callable[[str, str], Path]) -> Callable[[str], Path]:
    write("train.yml", COMPONENT)
    write("src/train.py", "")
    write("data/a.csv", "x\n1\n")
    return lambda text: write("pipeline.yml", text)


def test_a_good_pipeline_plans_its_steps_in_order(project: Callable[[str], Path], tmp_path: Path) -> None:
    loaded = read_pipeline(project(GOOD))
    assert list(loaded.plan.steps) == ["prep", "train"]
    train = loaded.plan.steps["train"]
    assert train.upstream == {"data": ("prep", "clean")}
    assert train.command["inputs"]["data"] == {
        "type": "uri_folder",
        "path": "azureml://jobs/prep/outputs/clean",
    }
    assert train.command["inputs"]["lr"] == {"type": "number", "default": 0.5}
    assert train.command["code"] == "./src" and train.command["compute"] == "local"
    prep = loaded.plan.steps["prep"]
    assert prep.command["inputs"]["raw"]["path"] == str(tmp_path / "data")
    assert prep.parent_inputs == {"raw": "raw"}
    assert loaded.plan.outputs == {"final": ("train", "model")}
    # the component is sent inside the pipeline: the server cannot read the user's disk
    assert loaded.raw["jobs"]["train"]["component"]["command"].startswith("python train.py")
    assert loaded.spec.settings.continue_on_step_failure is True


def _error(project: Callable[[str], Path], text: str) -> InvalidSpec:
    with pytest.raises(InvalidSpec) as info:
        read_pipeline(project(text))
    return info.value


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("${{parent.jobs.prep.outputs.clean}}", "${{parent.jobs.prepp.outputs.clean}}", 21,
         "reads from step 'prepp', which the pipeline does not have (steps: prep)"),
        ("${{parent.jobs.prep.outputs.clean}}", "${{parent.jobs.prep.outputs.cleaned}}", 21,
         "output 'cleaned' of step 'prep', which has no such output (outputs: clean)"),
        ("lr: ${{parent.inputs.lr}}", "lr: ${{parent.inputs.rate}}", 22,
         "the pipeline has no input 'rate' (inputs: raw, lr)"),
        ("model: ${{parent.outputs.final}}", "model: ${{parent.outputs.last}}", 24,
         "the pipeline has no output 'last' (outputs: final)"),
        ("      lr: ${{parent.inputs.lr}}", "      lr: 3", 22, "input 'lr': 3 is above the maximum 1"),
        ("      lr: ${{parent.inputs.lr}}", "      lr: ${{parent.inputs.lr}}\n      epochs: 3", 23,
         "the component has no input 'epochs' (inputs: data, lr)"),
        ("    component: ./train.yml", "    component: ./nope.yml", 19, "component file './nope.yml' does not exist"),
        ("  prep:\n    command", "  prep:\n    type: spark\n    command", 13,
         "step 'prep' is a spark step: Spark components need Spark"),
        ("${{parent.jobs.prep.outputs.clean}}", "${{parent.jobs.train.outputs.model}}", 21,
         "reads the step's own output 'model'"),
        ("cp -r ${{inputs.raw}}", "cp -r ${{inputs.rows}}", 13, "the job declares no input 'rows'"),
    ],
)  # fmt: skip
def test_bad_bindings_name_the_step_file_and_line(
    project: Callable[[str], Path], old: str, new: str, line: int, words: str
) -> None:
    assert old in GOOD
    exc = _error(project, GOOD.replace(old, new))
    assert f"pipeline.yml line {line}:" in exc.message
    assert words in exc.message
    assert exc.details["line"] == line


def test_a_cycle_is_refused_naming_its_steps(project: Callable[[str], Path]) -> None:
    text = GOOD.replace("raw: ${{parent.inputs.raw}}", "raw: ${{parent.jobs.train.outputs.model}}")
    exc = _error(project, text)
    assert "the steps form a cycle: prep → train → prep" in exc.message
    assert "pipeline.yml line 14:" in exc.message  # the inputs of the step the cycle is found at


def test_an_error_in_a_component_names_the_component_file(
    project: Callable[[str], Path], write: Callable[[str, str], Path]
) -> None:
    write("train.yml", COMPONENT.replace("default: 0.1", "default: fast"))
    exc = _error(project, GOOD)
    assert "train.yml line 7:" in exc.message
    assert "default 'fast' is not a number" in exc.message


def test_unknown_settings_are_reported_not_refused(project: Callable[[str], Path]) -> None:
    loaded = read_pipeline(
        project(GOOD.replace("  default_compute: local", "  default_compute: local\n  default_datestore: x"))
    )
    assert "settings.default_datestore: not a pipeline setting Shipyard knows; ignored" in loaded.spec.notes()


def test_load_file_gives_one_part_per_step_and_the_pipelines_local_inputs(
    project: Callable[[str], Path], tmp_path: Path
) -> None:
    from shipyard.specs.pipeline import load_file

    loaded = load_file(project(GOOD))
    assert loaded.type == "pipeline"
    assert set(loaded.parts) == {"prep", "train"}
    assert loaded.parts["train"].code == tmp_path / "src"  # relative to the component's file
    assert loaded.parts["prep"].inputs["raw"].ref is not None
    assert str(loaded.inputs["raw"].ref) == f"LocalPathRef(path={tmp_path / 'data'!r})"


def test_load_file_refuses_a_missing_code_folder_in_the_components_file(
    project: Callable[[str], Path], write: Callable[[str, str], Path]
) -> None:
    from shipyard.specs.pipeline import load_file

    write("train.yml", COMPONENT.replace("code: ./src", "code: ./source"))
    with pytest.raises(InvalidSpec, match=r"train\.yml line 10: code './source' does not exist"):
        load_file(project(GOOD))


def test_the_documented_example_loads() -> None:
    from shipyard.specs.pipeline import load_file

    example = Path(__file__).resolve().parents[3] / "examples" / "pipeline" / "pipeline.yml"
    loaded = load_file(example)
    assert list(loaded.parts) == ["prep", "train", "evaluate"]
    assert loaded.parts["train"].code == example.parent / "src"
    assert set(loaded.inputs) == {"raw"}


def test_a_step_output_bound_to_a_uri_file_pipeline_output_is_a_file(project: Callable[[str], Path]) -> None:
    # Azure's hello-pipeline-customize-output-file: the type is the pipeline output's.
    loaded = read_pipeline(
        project(
            "type: pipeline\noutputs:\n  o: {type: uri_file}\njobs:\n"
            "  hello:\n    command: echo hi > ${{outputs.o}}\n    outputs:\n      o: ${{parent.outputs.o}}\n"
        )
    )
    assert loaded.plan.steps["hello"].command["outputs"] == {"o": {"type": "uri_file"}}
