"""Bad job files: each error names the file, the line and the field, before anything runs."""

from __future__ import annotations

import pytest

from shipyard.errors import InvalidSpec
from shipyard.specs import CommandJobSpec, ComputeSpec, DataSpec, EnvironmentSpec, parse_spec

GOOD = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
command: python train.py --c ${{inputs.C}}
inputs:
  C: 0.5
  data:
    type: uri_folder
    path: ./data
environment_variables:
  X: 1
limits:
  timeout: 60
"""


def _error(text: str, model: type = CommandJobSpec, overrides: tuple[str, ...] = ()) -> InvalidSpec:
    with pytest.raises(InvalidSpec) as info:
        parse_spec(text, model, "job.yml", overrides)
    return info.value


def test_a_good_job_parses_and_schema_is_ignored() -> None:
    job = parse_spec(GOOD, CommandJobSpec, "job.yml")
    assert job.inputs["C"] == 0.5
    assert job.environment_variables == {"X": "1"}
    assert job.limits is not None and job.limits.timeout == 60
    assert job.compute_target == "local"


def test_unknown_top_level_field_names_line_and_suggests() -> None:
    err = _error("command: echo hi\n\ncomand: echo\n")
    assert err.message == "job.yml line 3: unknown field 'comand' under the job (did you mean 'command'?)"
    assert err.details == {"file": "job.yml", "line": 3, "field": "comand"}
    assert err.code == "INVALID_SPEC"


def test_unknown_nested_field_names_its_parent() -> None:
    text = "command: echo ${{inputs.d}}\ninputs:\n  d:\n    type: uri_file\n    pth: a.csv\n"
    err = _error(text)
    assert "job.yml line 5: unknown field 'pth' under 'inputs.d' (did you mean 'path'?)" in err.message
    assert err.details["line"] == 5


def test_unknown_limit() -> None:
    err = _error("command: echo\nlimits:\n  timout: 5\n")
    assert "line 3: unknown field 'timout' under 'limits' (did you mean 'timeout'?)" in err.message


def test_duplicated_key_is_an_error() -> None:
    err = _error("command: echo a\ncode: src\ncommand: echo b\n")
    assert err.message == "job.yml line 3: duplicated key 'command' (first at line 1)"


@pytest.mark.parametrize(
    ("text", "got"),
    [("- command: x\n", "a list"), ("just text\n", "a str"), ("", "an empty file")],
)
def test_top_level_must_be_a_mapping(text: str, got: str) -> None:
    assert _error(text).message == f"job.yml: the top level must be a mapping of fields, got {got}"


def test_invalid_yaml_names_the_line() -> None:
    err = _error("command: echo\ninputs: [a,\n")
    assert err.message.startswith("job.yml line 3: not valid YAML")


@pytest.mark.parametrize(
    ("command", "got"),
    [("[python, train.py]", "a list"), ("42", "a int"), ("{a: 1}", "a LineDict"), ("", "nothing")],
)
def test_command_must_be_a_string(command: str, got: str) -> None:
    err = _error(f"code: .\ncommand: {command}\n")
    assert err.message.startswith("job.yml line 2: field 'command': must be a string")
    assert "'command: >-'" in err.message
    assert err.details["field"] == "command"


def test_missing_command() -> None:
    assert _error("code: src\n").message == "job.yml line 1: missing required field 'command'"


def test_sweep_jobs_are_refused_by_name() -> None:
    err = _error("type: sweep\ntrial:\n  command: x\n")
    assert err.message.startswith("job.yml line 1: type 'sweep': only command jobs")


def test_binding_to_unknown_input_names_it_and_the_command_line() -> None:
    err = _error("inputs:\n  C: 1\ncommand: python t.py --lr ${{inputs.lr}}\n")
    assert err.message == (
        "job.yml line 3: ${{inputs.lr}} in the command: the job declares no input 'lr' (inputs: C)"
    )
    assert err.details["field"] == "command"


def test_binding_to_unknown_output() -> None:
    err = _error("command: python t.py --out ${{outputs.model}}\n")
    assert "the job declares no output 'model' (outputs: none)" in err.message


def test_required_optional_input_without_value_must_sit_in_an_optional_block() -> None:
    text = "command: python t.py --d ${{inputs.d}}\ninputs:\n  d:\n    type: uri_file\n    optional: true\n"
    err = _error(text)
    assert "input 'd' has no value" in err.message
    assert "$[[--d ${{inputs.d}}]]" in err.message
    fixed = text.replace("--d ${{inputs.d}}", "$[[--d ${{inputs.d}}]]")
    assert parse_spec(fixed, CommandJobSpec).inputs["d"]


def test_search_space_binding_is_for_sweeps() -> None:
    err = _error("command: python t.py --c ${{search_space.c}}\n")
    assert "search_space bindings belong to sweep jobs" in err.message


def test_data_input_needs_a_path() -> None:
    err = _error("command: echo\ninputs:\n  d:\n    type: uri_folder\n")
    assert "job.yml line 3: field 'inputs.d': a uri_folder input needs 'path'" in err.message


def test_null_input() -> None:
    err = _error("command: echo\ninputs:\n  d:\n")
    assert "input 'd' has no value" in err.message


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ("azureml:sklearn", "has no version: write 'azureml:sklearn:<version>' or 'azureml:sklearn@latest'"),
        ("sklearn:1", "is not a valid asset reference"),
        ("azureml://datastores/x/paths/y", "a cloud-only feature of Azure ML; use an fsspec URL"),
    ],
)
def test_bad_environment_reference(environment: str, expected: str) -> None:
    err = _error(f"command: echo\nenvironment: {environment}\n")
    assert err.message.startswith("job.yml line 2: field 'environment': ")
    assert expected in err.message


@pytest.mark.parametrize("compute", ["azureml:", "azureml:a b", "< your compute name >", "9-cluster"])
def test_bad_compute(compute: str) -> None:
    err = _error(f"command: echo\ncompute: '{compute}'\n")
    assert "write 'local' or 'azureml:<name>'" in err.message


def test_a_bare_compute_name_is_a_reference_as_in_azure() -> None:
    job = parse_spec("command: echo\ncompute: gpu-cluster\n", CommandJobSpec)
    assert job.compute_target == "gpu-cluster"


def test_distribution_is_refused_with_a_reason() -> None:
    err = _error("command: echo\ndistribution:\n  type: pytorch\n")
    assert "distributed jobs" in err.message
    assert "line 2" in err.message


def test_several_instances_are_refused() -> None:
    err = _error("command: echo\nresources:\n  instance_count: 2\n")
    assert "line 3: field 'resources.instance_count'" in err.message


def test_overrides_apply_before_validation() -> None:
    job = parse_spec(
        GOOD,
        CommandJobSpec,
        overrides=("inputs.C=0.9", "compute=azureml:cpu", "environment_variables.Y=true", "limits.timeout=5"),
    )
    assert job.inputs["C"] == 0.9
    assert job.compute_target == "cpu"
    assert job.environment_variables == {"X": "1", "Y": "true"}
    assert job.limits is not None and job.limits.timeout == 5


def test_override_of_a_data_input_sets_its_path() -> None:
    job = parse_spec(GOOD, CommandJobSpec, overrides=("inputs.data=s3://bucket/data",))
    assert job.inputs["data"].path == "s3://bucket/data"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("inputs.lr=0.1", "--set inputs.lr=0.1: job.yml declares no input 'lr' (inputs: C, data)"),
        ("comand=echo", "--set comand=echo: the job has no field 'comand'"),
        ("limits", "--set 'limits': expected path=value"),
        ("command.x=1", "--set command.x=1: 'command' is not a mapping in job.yml"),
    ],
)
def test_bad_overrides(override: str, expected: str) -> None:
    assert _error(GOOD, overrides=(override,)).message.startswith(expected)


def test_override_with_an_invalid_value_is_blamed_on_the_set_argument() -> None:
    err = _error(GOOD, overrides=("limits.timeout=soon",))
    assert err.message.startswith("job.yml (--set limits.timeout=soon): field 'limits.timeout'")
    err = _error(GOOD, overrides=("limits.timout=5",))
    assert "(--set limits.timout=5): unknown field 'timout' under 'limits'" in err.message


def test_environment_data_and_compute_files() -> None:
    env = parse_spec("name: e\nconda_file: conda.yml\n", EnvironmentSpec)
    assert env.conda_file == "conda.yml"
    assert "needs at least one of image" in _error("name: e\n", EnvironmentSpec).message
    data = parse_spec("name: d\ntype: uri_file\npath: a.csv\n", DataSpec)
    assert data.type == "uri_file"
    assert (
        "Input should be 'uri_file', 'uri_folder' or 'mltable'"
        in _error("name: d\ntype: table\npath: a\n", DataSpec).message
    )
    assert "unknown field 'pth' under the data asset" in _error("name: d\npth: a\n", DataSpec).message
    compute = parse_spec("name: cluster\ntype: ray\naddress: http://127.0.0.1:8265\n", ComputeSpec)
    assert compute.target().max_concurrent == 1
    assert "a ray compute needs 'address'" in _error("name: c\ntype: ray\n", ComputeSpec).message
    assert "max_concurrent" in _error("name: c\nmax_concurrent: 0\n", ComputeSpec).message


def test_validate_spec_of_a_mapping_sent_over_the_wire() -> None:
    from shipyard.specs import validate_spec

    assert validate_spec({"command": "echo"}, CommandJobSpec, "job.yml").command == "echo"
    with pytest.raises(InvalidSpec) as info:
        validate_spec({"command": "echo ${{inputs.x}}"}, CommandJobSpec, "job.yml")
    assert info.value.message.startswith(
        "job.yml: ${{inputs.x}} in the command: the job declares no input 'x'"
    )
    assert info.value.details["field"] == "command"
    with pytest.raises(InvalidSpec, match=r"job\.yml: unknown field 'comand' under the job"):
        validate_spec({"command": "echo", "comand": "x"}, CommandJobSpec, "job.yml")
