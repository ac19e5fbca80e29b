"""Real files from Azure/azureml-examples parse unchanged (fixtures/azureml/README.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shipyard.errors import InvalidSpec
from shipyard.specs import (
    CommandJobSpec,
    DataSpec,
    EnvironmentSpec,
    InlineEnvironment,
    TypedInput,
    find_bindings,
    load_spec,
    resolve_environment,
)

EXAMPLES = Path(__file__).parent / "fixtures" / "azureml"


@pytest.mark.parametrize(
    "name",
    [
        "hello-world-input.yml",
        "hello-interactive.yml",
        "hello-model-as-output.yml",
        "hello-iris-literal.yml",
        "hello-world-env-var.yml",
        "hello-code.yml",
        "sklearn-iris-job.yml",
        "sklearn-diabetes-job.yml",
    ],
)
def test_example_job_parses(name: str) -> None:
    job = load_spec(EXAMPLES / name, CommandJobSpec)
    assert job.command.strip()


def test_sklearn_iris_job_shape() -> None:
    job = load_spec(EXAMPLES / "sklearn-iris-job.yml", CommandJobSpec)
    assert job.inputs["C"] == 0.8
    assert job.inputs["kernel"] == "rbf"
    iris = job.inputs["iris_csv"]
    assert isinstance(iris, TypedInput)
    assert iris.type == "uri_file"
    assert iris.path == "wasbs://datasets@azuremlexamples.blob.core.windows.net/iris.csv"
    assert job.environment == "azureml://registries/azureml/environments/sklearn-1.5/labels/latest"
    assert job.compute_target == "cpu-cluster"
    assert job.experiment_name == "sklearn-iris-example"
    assert [b.name for b in find_bindings(job.command)] == ["iris_csv", "C", "kernel", "coef0"]


def test_example_overrides_change_compute_and_data() -> None:
    job = load_spec(
        EXAMPLES / "sklearn-iris-job.yml",
        CommandJobSpec,
        ["compute=local", "inputs.iris_csv=./iris.csv", "inputs.C=0.5"],
    )
    assert job.compute_target == "local"
    assert isinstance(job.inputs["iris_csv"], TypedInput)
    assert job.inputs["iris_csv"].path == "./iris.csv"
    assert job.inputs["C"] == 0.5


def test_ignored_fields_are_reported() -> None:
    interactive = load_spec(EXAMPLES / "hello-interactive.yml", CommandJobSpec)
    assert interactive.notes() == [
        "services: interactive services (VS Code, Jupyter, TensorBoard, SSH) are not started"
    ]
    image = load_spec(EXAMPLES / "hello-code.yml", CommandJobSpec)
    assert isinstance(image.environment, InlineEnvironment)
    assert any("image 'library/python:latest' is not pulled" in n for n in image.notes())


def test_model_output_example() -> None:
    job = load_spec(EXAMPLES / "hello-model-as-output.yml", CommandJobSpec)
    out = job.outputs["output_folder"]
    assert out is not None and out.type == "custom_model"
    assert isinstance(job.inputs["input_model"], TypedInput)
    assert job.inputs["input_model"].type == "mlflow_model"


def test_sweep_example_is_refused_clearly() -> None:
    with pytest.raises(InvalidSpec, match="type 'sweep': only command jobs"):
        load_spec(EXAMPLES / "hello-sweep.yml", CommandJobSpec)


def test_environment_example_reads_python_and_pip_from_its_conda_file(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "env-docker-image-plus-conda.yml", tmp_path / "env.yml")
    (tmp_path / "conda-yamls").mkdir()
    shutil.copy(EXAMPLES / "pydata.yml", tmp_path / "conda-yamls" / "pydata.yml")
    env = load_spec(tmp_path / "env.yml", EnvironmentSpec)
    assert env.name == "docker-image-plus-conda-example"
    python = resolve_environment(env, tmp_path)
    assert python.python_version == "3.8"
    assert python.pip_dependencies[:2] == ("numpy==1.22", "scipy==1.7.1")
    assert len(python.pip_dependencies) == 16
    assert python.conda_channels == ("conda-forge",)
    assert python.image == "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"
    assert any("is not pulled" in n for n in python.notes)


def test_environment_with_a_missing_conda_file(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "env-docker-image-plus-conda.yml", tmp_path / "env.yml")
    env = load_spec(tmp_path / "env.yml", EnvironmentSpec)
    with pytest.raises(InvalidSpec, match=r"conda_file 'conda-yamls/pydata.yml' does not exist"):
        resolve_environment(env, tmp_path)


def test_data_examples() -> None:
    local = load_spec(EXAMPLES / "data-local-file.yml", DataSpec)
    assert (local.name, local.type, local.path) == (
        "local-file-example-titanic",
        "uri_file",
        "sample-data/titanic.csv",
    )
    cloud = load_spec(EXAMPLES / "data-cloud-file-https.yml", DataSpec)
    assert cloud.path.startswith("https://")


def test_pip_requirements_file_and_inline_conda(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(
        "# training\nscikit-learn>=1.4  # models\n--extra-index-url https://pypi.example/simple\n\npandas\n"
    )
    env = load_spec(
        _write(
            tmp_path,
            "name: e\npip_requirements: requirements.txt\nconda_file:\n  dependencies:\n    - python=3.12\n    - numpy\n    - pip:\n      - mlflow-skinny\n",
        ),
        EnvironmentSpec,
    )
    python = resolve_environment(env, tmp_path)
    # The conda package is installed under its PyPI name, before the pip ones.
    assert python.requirements == ("numpy", "mlflow-skinny", "scikit-learn>=1.4", "pandas")
    assert python.extra_index_urls == ("https://pypi.example/simple",)
    assert python.python_version == "3.12"
    assert python.conda_packages == ("numpy",)
    (tmp_path / "requirements.txt").write_text("-e .\n")
    with pytest.raises(InvalidSpec, match=r"pip option '-e \.' is not supported"):
        resolve_environment(env, tmp_path)


def _write(folder: Path, text: str) -> Path:
    path = folder / "env.yml"
    path.write_text(text)
    return path


def test_serverless_compute_runs_on_the_default_target_with_a_note() -> None:
    """Azure's `compute: azureml:serverless` names no target of ours: the job runs locally."""
    from shipyard.specs import parse_spec

    job = parse_spec("command: echo hi\ncompute: azureml:serverless\n", CommandJobSpec)
    assert job.compute_target == "local"
    assert any("serverless" in note for note in job.notes())
    assert parse_spec("command: echo hi\ncompute: azureml:cpu\n", CommandJobSpec).compute_target == "cpu"
