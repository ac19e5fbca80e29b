"""Azure ML's file shapes, read as Azure reads them: compute kinds, untyped inputs, cloud-only
kinds refused with the feature named, placeholders of the examples pointed out. Our own small
files in Azure's shapes (the examples themselves are measured by benchmarks/azure_examples.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.errors import InvalidSpec
from shipyard.specs import (
    CommandJobSpec,
    ComputeSpec,
    DataSpec,
    LocalPathRef,
    TypedInput,
    load_job,
    parse_spec,
)
from shipyard.specs.deployment import OnlineDeploymentSpec
from shipyard.specs.endpoint import OnlineEndpointSpec


def _error(text: str, model: type, source: str = "f.yml") -> InvalidSpec:
    with pytest.raises(InvalidSpec) as info:
        parse_spec(text, model, source)
    return info.value


# -- compute files ----------------------------------------------------------------------

CLUSTER = """\
$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json
name: cpu-cluster
type: amlcompute
size: STANDARD_DS3_v2
min_instances: 0
max_instances: 3
idle_time_before_scale_down: 120
tier: low_priority
ssh_settings:
  admin_username: someone
  admin_password: not-used
identity:
  type: system_assigned
"""


def test_an_amlcompute_cluster_is_a_local_target_running_max_instances_jobs() -> None:
    target = parse_spec(CLUSTER, ComputeSpec).target()
    assert (target.name, target.kind, target.max_concurrent, target.address) == (
        "cpu-cluster",
        "local",
        3,
        None,
    )
    said = "\n".join(target.notes)
    assert "type amlcompute: a local target on the server's host (give --address for a Ray cluster)" in said
    assert "running up to 3 jobs at once (max_instances: 3)" in said
    for ignored in (
        "VM size",
        "dedicated/low-priority tier",
        "SSH settings",
        "managed identity",
        "scale-down delay",
    ):
        assert ignored in said


def test_an_azure_cluster_with_an_address_is_a_ray_target() -> None:
    target = parse_spec(CLUSTER + "address: http://127.0.0.1:8265\n", ComputeSpec).target()
    assert (target.kind, target.address, target.max_concurrent) == ("ray", "http://127.0.0.1:8265", 3)
    assert "a Ray target at http://127.0.0.1:8265" in target.notes[0]


def test_a_compute_instance_is_one_job_at_a_time_and_its_defaults_are_azures() -> None:
    instance = parse_spec("name: my-vm\ntype: computeinstance\nsize: STANDARD_DS3_v2\n", ComputeSpec).target()
    assert (instance.kind, instance.max_concurrent) == ("local", 1)
    assert (
        instance.notes[0].startswith("type computeinstance: a local target")
        and "1 job at once" in instance.notes[0]
    )
    minimal = parse_spec("name: minimal\ntype: amlcompute\n", ComputeSpec).target()
    assert minimal.max_concurrent == 1  # Azure's default max_instances
    assert len(minimal.notes) == 1  # nothing to ignore: no "ignored" line
    explicit = parse_spec("name: c\ntype: amlcompute\nmax_instances: 4\nmax_concurrent: 2\n", ComputeSpec)
    assert explicit.target().max_concurrent == 2  # Shipyard's own field wins


@pytest.mark.parametrize(
    ("kind", "feature"),
    [
        ("synapsespark", "Spark (attached Synapse Spark pools)"),
        ("virtualmachine", "attached virtual machines"),
        ("kubernetes", "Kubernetes compute"),
    ],
)
def test_cloud_only_compute_kinds_are_refused_naming_the_feature(kind: str, feature: str) -> None:
    err = _error(f"name: <NAME>\ntype: {kind}\nresource_id: /subscriptions/x\n", ComputeSpec, "c.yml")
    assert err.message.startswith(f"c.yml line 2: type '{kind}' needs {feature}")
    assert "a cloud-only feature of Azure ML" in err.message
    assert "'local' (this host) and 'ray'" in err.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: c\nsize: STANDARD_DS3_v2\n",
            "size: Azure ML compute fields, read only with 'type: amlcompute'",
        ),
        ("name: c\ntype: computeinstance\nmax_instances: 2\n", "a compute instance is one machine"),
        ("name: c\ntype: amlcompute\nmax_instances: 0\n", "max_instances"),
        (
            "name: c\ntype: amlcompute\naddress: 127.0.0.1:8265\n",
            "must be the Ray dashboard's http(s):// URL",
        ),
        (
            "name: c\ntype: amlcompute\nsizee: x\n",
            "unknown field 'sizee' under the compute (did you mean 'size'?)",
        ),
    ],
)
def test_bad_compute_files_say_what_to_fix(text: str, expected: str) -> None:
    assert expected in _error(text, ComputeSpec).message


# -- job files ---------------------------------------------------------------------------


def test_an_input_without_type_is_a_uri_folder_as_in_azure(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "job.yml").write_text(
        "command: python train.py --data ${{inputs.corpus}}\ninputs:\n  corpus:\n    path: corpus\n    mode: download\n"
    )
    loaded = load_job(tmp_path / "job.yml")
    assert loaded.inputs["corpus"].type == "uri_folder"
    (tmp_path / "corpus.txt").write_text("x")
    (tmp_path / "job.yml").write_text(
        "command: echo ${{inputs.corpus}}\ninputs:\n  corpus:\n    path: corpus.txt\n"
    )
    with pytest.raises(
        InvalidSpec, match=r"line 4: input 'corpus' is a uri_folder but .*corpus\.txt is a file"
    ):
        load_job(tmp_path / "job.yml")


def test_set_on_an_untyped_input_sets_its_path(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "job.yml").write_text("command: ls ${{inputs.corpus}}\ninputs:\n  corpus:\n    path: a\n")
    loaded = load_job(tmp_path / "job.yml", ["inputs.corpus=b"])
    assert loaded.inputs["corpus"].type == "uri_folder"
    assert loaded.inputs["corpus"].ref == LocalPathRef(tmp_path.resolve() / "b")


def test_a_default_without_type_says_to_give_its_type() -> None:
    err = _error(
        "command: echo ${{inputs.lr}}\ninputs:\n  lr:\n    default: 0.1\n", CommandJobSpec, "job.yml"
    )
    assert "an input without 'type' is a uri_folder (as in Azure ML)" in err.message
    assert "give its type (string, integer, number, boolean)" in err.message
    typed = parse_spec(
        "command: echo ${{inputs.lr}}\ninputs:\n  lr:\n    type: number\n    default: 0.1\n", CommandJobSpec
    )
    assert isinstance(typed.inputs["lr"], TypedInput) and typed.inputs["lr"].default == 0.1


@pytest.mark.parametrize(
    ("kind", "feature"),
    [
        ("spark", "Spark jobs are a cloud-only feature of Azure ML"),
        ("finetuning", "fine-tuning of foundation models is a cloud-only feature of Azure ML"),
        (
            "distillation",
            "distillation of foundation models (a fine-tuning job) is a cloud-only feature of Azure ML",
        ),
    ],
)
def test_cloud_only_job_types_name_the_feature(kind: str, feature: str) -> None:
    err = _error(f"type: {kind}\nname: x\n", CommandJobSpec, "job.yml")
    assert err.message == f"job.yml line 1: type '{kind}': {feature}; Shipyard runs command jobs"


def test_later_job_types_keep_their_message() -> None:
    assert "only command jobs are read here" in _error("type: sweep\n", CommandJobSpec).message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "command: echo\nenvironment: azureml://registries/azureml/models/Llama-2/versions/3\n",
            "needs models from Azure ML registries (azureml://registries/…/models/…), a cloud-only feature",
        ),
        (
            "command: echo ${{inputs.d}}\ninputs:\n  d:\n    type: uri_file\n    path: azureml://datastores/blob/paths/x.csv\n",
            "needs datastores (storage registered in an Azure ML workspace), a cloud-only feature of Azure ML",
        ),
    ],
)
def test_cloud_only_references_name_the_feature(text: str, expected: str, tmp_path: Path) -> None:
    (tmp_path / "job.yml").write_text(text)
    with pytest.raises(InvalidSpec) as info:
        load_job(tmp_path / "job.yml")
    assert expected in info.value.message


def test_a_datastore_data_asset_is_refused_as_cloud_only() -> None:
    err = _error(
        "name: d\ntype: uri_file\npath: azureml://datastores/workspaceblobstore/paths/x.csv\n", DataSpec
    )
    assert (
        "needs datastores (storage registered in an Azure ML workspace), a cloud-only feature" in err.message
    )
    assert "a local path or an fsspec URL" in err.message


# -- placeholders of the examples ------------------------------------------------------


def test_a_placeholder_value_is_pointed_out() -> None:
    err = _error(
        "name: blue\nendpoint_name: <ENDPOINT_NAME>\nmodel: azureml:m:1\n", OnlineDeploymentSpec, "d.yml"
    )
    assert "d.yml line 2: field 'endpoint_name'" in err.message
    assert (
        "('<ENDPOINT_NAME>' is a placeholder of the example: put your value there, or --set endpoint_name=…)"
        in err.message
    )
    err = _error('name: "{{ENDPOINT_NAME}}"\n', OnlineEndpointSpec)
    assert "'{{ENDPOINT_NAME}}' is a placeholder of the example" in err.message


def test_a_template_that_is_not_yaml_yet_says_so() -> None:
    err = _error("name: d\nimage: {{ACR_NAME}}.azurecr.io/x:1\n  conda_file: c.yml\n", OnlineDeploymentSpec)
    assert "not valid YAML" in err.message
    assert "'{{…}}' is a placeholder the example's script fills in: put a value there first" in err.message


def test_kubernetes_endpoint_fields_are_read_with_notes() -> None:
    endpoint = parse_spec("name: k8s-endpoint\ncompute: azureml:k8s\nauth_mode: key\n", OnlineEndpointSpec)
    assert any(
        n.startswith("compute: a Kubernetes endpoint's deployments run as worker processes")
        for n in endpoint.notes()
    )
    deployment = parse_spec(
        "name: blue\nendpoint_name: k8s-endpoint\ntype: kubernetes\nmodel: azureml:m:1\n"
        "resources:\n  requests:\n    cpu: '0.1'\n",
        OnlineDeploymentSpec,
    )
    assert any(n.startswith("resources: a Kubernetes pod's CPU and memory") for n in deployment.notes())
