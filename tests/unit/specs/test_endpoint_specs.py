"""Endpoint and deployment files in Azure ML's shapes: the good ones parse, bad ones name the
file, the line and the field — and the traffic rules say what to fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.domain.endpoints import check_mirror, check_traffic, parse_weights
from shipyard.errors import InvalidArgument, InvalidSpec
from shipyard.specs import parse_spec
from shipyard.specs.deployment import OnlineDeploymentSpec, load_deployment
from shipyard.specs.endpoint import OnlineEndpointSpec
from shipyard.specs.refs import AssetRef, LocalPathRef

ENDPOINT = """\
$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json
name: my-endpoint
auth_mode: key
tags:
  team: 7
"""

BLUE = """\
$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
name: blue
endpoint_name: my-endpoint
model:
  path: ../model-1/model/
code_configuration:
  code: ../model-1/onlinescoring/
  scoring_script: score.py
environment:
  conda_file: ../model-1/environment/conda.yaml
  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest
instance_type: Standard_DS3_v2
instance_count: 1
"""

MLFLOW = """\
name: sklearn-deployment
endpoint_name: my-endpoint
model: azureml:sklearn-model@champion
instance_count: 2
request_settings:
  request_timeout_ms: 3000
  max_concurrent_requests_per_instance: 4
readiness_probe:
  initial_delay: 1
  period: 2
data_collector:
  sampling_rate: 0.5
  collections:
    model_inputs:
      enabled: 'True'
    model_outputs:
      enabled: 'False'
app_insights_enabled: true
"""


def _error(text: str, model: type) -> InvalidSpec:
    with pytest.raises(InvalidSpec) as info:
        parse_spec(text, model, "x.yml")
    return info.value


def test_azure_endpoint_parses_with_tags_as_text() -> None:
    spec = parse_spec(ENDPOINT, OnlineEndpointSpec, "endpoint.yml")
    assert (spec.name, spec.auth_mode, spec.tags) == ("my-endpoint", "key", {"team": "7"})


def test_azure_ad_auth_is_refused_with_what_to_write_instead() -> None:
    err = _error("name: my-endpoint\nauth_mode: aad_token\n", OnlineEndpointSpec)
    assert "x.yml line 2" in err.message
    assert "'key'" in err.message and "'aml_token'" in err.message


def test_aml_token_is_shipyard_token_auth() -> None:
    spec = parse_spec("name: my-endpoint\nauth_mode: AML_Token\n", OnlineEndpointSpec, "x.yml")
    assert spec.auth_mode == "aml_token"


def test_endpoint_names_follow_azure_rules() -> None:
    err = _error("name: 1-bad\n", OnlineEndpointSpec)
    assert "x.yml line 1" in err.message and "'name'" in err.message


def test_mlflow_deployment_reads_settings_and_azure_string_booleans() -> None:
    spec = parse_spec(MLFLOW, OnlineDeploymentSpec, "d.yml")
    assert spec.instance_count == 2
    assert spec.request_settings.max_concurrent_requests_per_instance == 4
    assert spec.request_settings.max_batch_size == 32  # Shipyard's default: batches on
    assert spec.readiness_probe.period == 2
    assert spec.readiness_probe.failure_threshold == 30  # Azure's default kept
    assert spec.data_collector is not None
    assert spec.data_collector.collections["model_inputs"].enabled is True
    assert spec.data_collector.collections["model_outputs"].enabled is False
    assert any(n.startswith("app_insights_enabled") for n in spec.notes())


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (MLFLOW.replace("request_timeout_ms", "request_timeout"), 6, "did you mean 'request_timeout_ms'"),
        (MLFLOW.replace("  period: 2", "  periode: 2"), 10, "unknown field 'periode'"),
        (MLFLOW.replace("instance_count: 2", "instance_count: 0"), 4, "instance_count"),
        (MLFLOW.replace("sampling_rate: 0.5", "sampling_rate: 2"), 12, "sampling_rate"),
        (
            MLFLOW.replace("model: azureml:sklearn-model@champion", "model: azureml:sklearn-model"),
            3,
            "no version",
        ),
        (MLFLOW.replace("    model_outputs:", "    model_outputz:"), 16, "model_outputz"),
        (MLFLOW + "liveness_probe:\n  timeout: 0\n", 20, "liveness_probe.timeout"),
        (
            MLFLOW.replace("  request_timeout_ms: 3000", "  request_timeout_ms: 3000\n  max_batch_size: 0"),
            7,
            "request_settings.max_batch_size",
        ),
    ],
)
def test_bad_deployment_fields_name_their_line(text: str, line: int, words: str) -> None:
    err = _error(text, OnlineDeploymentSpec)
    assert f"x.yml line {line}" in err.message, err.message
    assert words in err.message


def test_a_deployment_needs_something_to_serve() -> None:
    err = _error("name: blue\nendpoint_name: my-endpoint\n", OnlineDeploymentSpec)
    assert "needs a 'model', a 'code_configuration', or both" in err.message


def test_scoring_script_must_stay_inside_the_code_folder() -> None:
    text = "name: blue\nendpoint_name: ep1\ncode_configuration:\n  code: .\n  scoring_script: ../x.py\n"
    err = _error(text, OnlineDeploymentSpec)
    assert "x.yml line 5" in err.message and "inside the code folder" in err.message


def test_load_deployment_resolves_local_folders(write: Callable[[str, str], Path]) -> None:
    write("model-1/model/model.pkl", "x")
    write("model-1/onlinescoring/score.py", "def init(): pass\ndef run(raw): return raw\n")
    write("model-1/environment/conda.yaml", "dependencies:\n  - python=3.11\n  - pip:\n    - numpy\n")
    path = write("deploy/blue.yml", BLUE)
    loaded = load_deployment(path)
    assert isinstance(loaded.model, LocalPathRef)
    assert loaded.model.path.name == "model"
    assert loaded.code is not None and loaded.code.name == "onlinescoring"
    assert any("instance_type" in n for n in loaded.notes)


def test_load_deployment_says_which_scoring_script_is_missing(write: Callable[[str, str], Path]) -> None:
    write("model-1/model/model.pkl", "x")
    write("model-1/onlinescoring/other.py", "")
    write("model-1/environment/conda.yaml", "dependencies:\n  - pip:\n    - numpy\n")
    path = write("deploy/blue.yml", BLUE)
    with pytest.raises(InvalidSpec) as info:
        load_deployment(path)
    assert "blue.yml line 8" in info.value.message and "score.py" in info.value.message


def test_registered_inline_model_is_an_asset_reference(write: Callable[[str, str], Path]) -> None:
    text = "name: blue\nendpoint_name: ep1\nmodel:\n  name: m\n  version: 3\n  type: mlflow_model\n"
    loaded = load_deployment(write("d.yml", text))
    assert loaded.model == AssetRef(name="m", version="3")


def test_traffic_rules() -> None:
    assert parse_weights("blue=90 green=10") == {"blue": 90, "green": 10}
    assert check_traffic({"blue": 90, "green": 10}, {"blue", "green"}) == {"blue": 90, "green": 10}
    assert check_traffic({}, set()) == {}
    with pytest.raises(InvalidArgument, match="sum to 100"):
        check_traffic({"blue": 90, "green": 20}, {"blue", "green"})
    with pytest.raises(InvalidArgument, match="'red', which does not exist"):
        check_traffic({"red": 100}, {"blue"})
    with pytest.raises(InvalidArgument, match="not <deployment>=<percent>"):
        parse_weights("blue:90")
    with pytest.raises(InvalidArgument, match="at most 50%"):
        check_mirror({"green": 60}, {"blue": 100}, {"blue", "green"})
    with pytest.raises(InvalidArgument, match="0% live traffic"):
        check_mirror({"green": 10}, {"blue": 90, "green": 10}, {"blue", "green"})
    assert check_mirror({"green": 10}, {"blue": 100, "green": 0}, {"blue", "green"}) == {"green": 10}
