"""Nested pipelines: pipeline components used as steps are expanded into their inner steps
(``<step>-<inner>``), bindings remapped through every level; every bad input names its file
and line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.errors import InvalidSpec
from shipyard.specs.pipeline_files import load_component, read_pipeline
from shipyard.specs.pipeline_nested import flatten

Write = Callable[[str, str], Path]

TRAIN = """\
type: command
name: train
inputs:
  data: {type: uri_folder}
  lr: {type: number, default: 0.1, min: 0, max: 1}
outputs:
  model: {type: uri_folder}
code: ./src
command: python train.py ${{inputs.data}} ${{inputs.lr}} ${{outputs.model}}
"""

# A pipeline component holding a command component file and a nested inline pipeline.
TRAIN_EVAL = """\
type: pipeline
name: train_eval
inputs:
  data: {type: uri_folder}
  lr: {type: number, default: 0.3}
  ref: {type: uri_folder, optional: true}
outputs:
  model: {type: uri_folder}
  score: {type: uri_folder}
jobs:
  fit:
    component: ./train.yml
    inputs:
      data: ${{parent.inputs.data}}
      lr: ${{parent.inputs.lr}}
    outputs:
      model: ${{parent.outputs.model}}
  check:
    type: pipeline
    component:
      type: pipeline
      inputs:
        model: {type: uri_folder}
      outputs:
        score: {type: uri_folder}
      jobs:
        evaluate:
          command: ls ${{inputs.model}} > ${{outputs.score}}/s
          inputs:
            model: ${{parent.inputs.model}}
          outputs:
            score: ${{parent.outputs.score}}
    inputs:
      model: ${{parent.jobs.fit.outputs.model}}
    outputs:
      score: ${{parent.outputs.score}}
"""

PIPELINE = """\
type: pipeline
display_name: nested
inputs:
  raw: {type: uri_folder, path: ./data}
outputs:
  final: {type: uri_folder}
settings:
  default_compute: local
jobs:
  prep:
    command: cp -r ${{inputs.raw}} ${{outputs.clean}}
    inputs:
      raw: ${{parent.inputs.raw}}
    outputs:
      clean: {type: uri_folder}
  a:
    type: pipeline
    component: ./components/train_eval.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}
      lr: 0.7
    outputs:
      score: ${{parent.outputs.final}}
  b:
    component: ./components/train_eval.yml
    inputs:
      data: ${{parent.inputs.raw}}
  report:
    command: cat ${{inputs.s}}/s
    inputs:
      s: ${{parent.jobs.a.outputs.score}}
      m: ${{parent.jobs.b.outputs.model}}
"""


@pytest.fixture
def project(write: Write) -> Callable[..., Path]:
    def make(pipeline: str = PIPELINE, train_eval: str = TRAIN_EVAL) -> Path:
        write("components/train.yml", TRAIN)
        write("components/src/train.py", "")
        write("components/train_eval.yml", train_eval)
        write("data/a.csv", "x\n1\n")
        return write("pipeline.yml", pipeline)

    return make


def _error(path: Path) -> str:
    with pytest.raises(InvalidSpec) as err:
        read_pipeline(path)
    return err.value.message


def _at(path: Path, text: str) -> str:
    """``<file> line <n>``: where ``text`` (one line of it) is in the file."""
    content = path.read_text()
    return f"{path.name} line {content[: content.index(text)].count(chr(10)) + 1}"


def test_nested_steps_are_expanded_with_their_bindings(project: Callable[..., Path], tmp_path: Path) -> None:
    loaded = read_pipeline(project())
    steps = loaded.plan.steps
    assert list(steps) == ["prep", "a-fit", "a-check-evaluate", "b-fit", "b-check-evaluate", "report"]
    # an inner ${{parent.inputs.x}} is what the nested step binds x to
    assert steps["a-fit"].upstream == {"data": ("prep", "clean")}
    assert steps["a-fit"].command["inputs"]["lr"] == {"type": "number", "default": 0.7}
    assert steps["b-fit"].command["inputs"]["lr"] == {"type": "number", "default": 0.3}  # the default
    assert steps["b-fit"].parent_inputs == {"data": "raw"}
    assert steps["b-fit"].command["inputs"]["data"]["path"] == str(tmp_path / "data")
    # nested twice: the inner pipeline reads its sibling's output
    assert steps["a-check-evaluate"].upstream == {"model": ("a-fit", "model")}
    # an outer step reads a nested step's output: the inner step that writes it
    assert steps["report"].upstream == {"s": ("a-check-evaluate", "score"), "m": ("b-fit", "model")}
    # an inner output bound, level by level, to the pipeline's output
    assert loaded.plan.outputs == {"final": ("a-check-evaluate", "score")}
    # a component's code is read against the component's own file
    assert steps["a-fit"].command["code"] == "./src"
    assert loaded.components["a-fit"].source == tmp_path / "components" / "train.yml"


def test_the_server_expands_what_the_client_sends_the_same_way(project: Callable[..., Path]) -> None:
    loaded = read_pipeline(project())
    assert loaded.raw["jobs"]["a"]["component"]["type"] == "pipeline"  # sent nested, files inside
    assert list(flatten(loaded.raw).raw["jobs"]) == list(loaded.plan.steps)


def test_an_input_the_component_does_not_declare_is_ignored_with_a_note(project: Callable[..., Path]) -> None:
    loaded = read_pipeline(project(PIPELINE.replace("      lr: 0.7\n", "      lr: 0.7\n      epochs: 3\n")))
    assert loaded.notes == (
        "step a: input 'epochs' is not an input of its pipeline component (inputs: data, lr, ref); ignored",
    )


@pytest.mark.parametrize(
    ("old", "new", "where", "words"),
    [
        (
            "      s: ${{parent.jobs.a.outputs.score}}",
            "      s: ${{parent.jobs.a.outputs.nope}}",
            "s: ${{parent.jobs.a.outputs.nope}}",
            "step 'report': input 's' reads output 'nope' of the nested pipeline 'a', which has no such"
            " output (outputs: model, score)",
        ),
        (
            "      s: ${{parent.jobs.a.outputs.score}}",
            "      s: ${{parent.jobs.zz.outputs.score}}",
            "s: ${{parent.jobs.zz.outputs.score}}",
            "step 'report': input 's' reads from step 'zz', which the pipeline does not have",
        ),
        (
            "    outputs:\n      score: ${{parent.outputs.final}}",
            "    outputs:\n      nope: ${{parent.outputs.final}}",
            "nope: ${{parent.outputs.final}}",
            "step 'a': the pipeline component has no output 'nope' (outputs: model, score)",
        ),
        (
            "  b:\n    component: ./components/train_eval.yml\n    inputs:\n      data: ${{parent.inputs.raw}}\n",
            "  b:\n    component: ./components/train_eval.yml\n",
            "  b:",
            "step 'b': input 'data' of the pipeline component is required (step 'fit' reads it)",
        ),
        (
            "      lr: 0.7\n",
            "      lr: 7\n",
            "lr: 7",
            "input 'lr': 7 is above the maximum 1",
        ),
        (
            "    component: ./components/train_eval.yml\n    inputs:\n      data: ${{parent.jobs.prep",
            "    component: azureml:train_eval:1\n    inputs:\n      data: ${{parent.jobs.prep",
            "component: azureml:train_eval:1",
            "step 'a': nested pipeline 'azureml:train_eval:1' is a registered pipeline component",
        ),
    ],
)
def test_bad_bindings_name_the_file_and_line(
    project: Callable[..., Path], old: str, new: str, where: str, words: str
) -> None:
    assert old in PIPELINE
    path = project(PIPELINE.replace(old, new))
    message = _error(path)
    assert _at(path, where) in message and words in message, message


@pytest.mark.parametrize(
    ("old", "new", "where", "words"),
    [
        (
            "      lr: ${{parent.inputs.lr}}",
            "      lr: ${{parent.inputs.rate}}",
            "lr: ${{parent.inputs.rate}}",
            "step 'a-fit': the pipeline component has no input 'rate' (inputs: data, lr, ref)",
        ),
        (
            "            model: ${{parent.inputs.model}}",
            "            model: ${{parent.jobs.nope.outputs.x}}",
            "model: ${{parent.jobs.nope.outputs.x}}",
            "reads from step 'a-check-nope', which the pipeline does not have",
        ),
        (
            "          command: ls",
            "          type: spark\n          command: ls",
            "type: spark",
            "step 'a-check-evaluate': is a spark step: Spark",
        ),
    ],
)
def test_bad_inner_steps_name_the_components_file_and_line(
    project: Callable[..., Path], old: str, new: str, where: str, words: str
) -> None:
    assert old in TRAIN_EVAL
    path = project(train_eval=TRAIN_EVAL.replace(old, new))
    message = _error(path)
    assert _at(path.parent / "components" / "train_eval.yml", where) in message and words in message, message


def test_a_cycle_through_a_nested_pipeline_is_refused(project: Callable[..., Path]) -> None:
    cyclic = PIPELINE.replace(
        "      data: ${{parent.jobs.prep.outputs.clean}}", "      data: ${{parent.jobs.report.outputs.o}}"
    )
    cyclic = cyclic.replace(
        "    command: cat ${{inputs.s}}/s",
        "    command: cat ${{inputs.s}}/s > ${{outputs.o}}\n    outputs:\n      o: {type: uri_folder}",
    )
    message = _error(project(cyclic))
    assert "the steps form a cycle: " in message and "a-fit" in message and "report" in message, message
    assert "line " in message


def test_a_pipeline_component_that_includes_itself_is_refused(project: Callable[..., Path]) -> None:
    selfish = TRAIN_EVAL + "  again:\n    type: pipeline\n    component: ./train_eval.yml\n"
    path = project(train_eval=selfish)
    message = _error(path)
    assert _at(path.parent / "components" / "train_eval.yml", "component: ./train_eval.yml") in message, (
        message
    )
    assert (
        "pipeline component './train_eval.yml' includes itself (train_eval.yml → train_eval.yml)" in message
    )


def test_a_pipeline_component_is_not_registered(project: Callable[..., Path], tmp_path: Path) -> None:
    project()
    with pytest.raises(InvalidSpec) as err:
        load_component(tmp_path / "components" / "train_eval.yml")
    assert "train_eval.yml line 1: a pipeline component is not registered" in err.value.message


def test_a_step_name_written_with_a_dash_is_refused(project: Callable[..., Path]) -> None:
    path = project(PIPELINE.replace("  prep:\n", "  pre-p:\n").replace("jobs.prep.", "jobs.pre-p."))
    message = _error(path)
    assert _at(path, "pre-p:") in message and "step name 'pre-p' must be letters, digits and '_'" in message


def test_a_dash_is_refused_in_a_pipeline_without_nested_steps(write: Write) -> None:
    path = write("p.yml", "type: pipeline\njobs:\n  a-b:\n    command: echo\n")
    message = _error(path)
    assert "p.yml line 3: step name 'a-b' must be letters, digits and '_'" in message, message
