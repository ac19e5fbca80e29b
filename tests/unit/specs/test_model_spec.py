"""Azure ML's model YAML (``shipyard model create -f model.yml``): what is read, where its
files are, and each refusal with the file's name and the field's line — before any upload."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.errors import InvalidSpec
from shipyard.specs.model import load_model_file, model_from_fields
from shipyard.specs.refs import JobOutputRef, LocalPathRef, RunRef

SCHEMA = "$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Azure's cli/assets/model layout: an MLflow model folder with a pickle in it."""
    model = tmp_path / "mlflow-model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors:\n  sklearn: {}\n")
    (model / "model.pkl").write_bytes(b"\x80\x04.")
    return tmp_path


def write(project: Path, text: str, name: str = "model.yml") -> Path:
    path = project / name
    path.write_text(SCHEMA + text)
    return path


def refusal(path: Path, overrides: tuple[str, ...] = ()) -> str:
    with pytest.raises(InvalidSpec) as caught:
        load_model_file(path, overrides)
    return caught.value.message


def test_azures_local_file_example_loads_with_the_path_next_to_the_file(project: Path) -> None:
    path = write(
        project, "name: local-file-example\npath: mlflow-model/model.pkl\ndescription: From a local file.\n"
    )
    loaded = load_model_file(path)
    assert loaded.spec.name == "local-file-example"
    assert loaded.spec.type == "custom_model"
    assert loaded.spec.description == "From a local file."
    assert loaded.source == LocalPathRef((project / "mlflow-model" / "model.pkl").resolve())
    assert loaded.notes == []


def test_an_mlflow_model_with_version_tags_and_noted_fields(project: Path) -> None:
    path = write(
        project,
        "name: iris\nversion: 3\npath: mlflow-model\ntype: mlflow_model\ntags: {team: vision, epochs: 10}\n"
        "stage: Production\nproperties: {owner: me}\n",
    )
    loaded = load_model_file(path)
    assert loaded.spec.version == "3"
    assert loaded.spec.tags == {"team": "vision", "epochs": "10"}
    assert [note.split(":")[0] for note in loaded.notes] == ["properties", "stage"]
    assert "`shipyard model alias set`" in loaded.notes[1]


def test_runs_and_job_outputs_are_references_not_uploads(project: Path) -> None:
    run = load_model_file(write(project, "name: m\npath: runs:/0123abcd/model\n"))
    assert run.source == RunRef("0123abcd", "model")
    job = load_model_file(
        write(project, "name: m\npath: azureml://jobs/train-1/outputs/artifacts/paths/model/\n")
    )
    assert job.source == JobOutputRef("train-1", "artifacts", "model")


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            "name: m\npath: data/iris.csv\ndatastore: azureml:blobs\n",
            4,
            "field 'datastore' is not supported: Shipyard has no datastores",
        ),
        (
            "name: m\nmodel_uri: wasbs://c@a.blob.core.windows.net/m/\n",
            3,
            "preview schema's name: write path instead",
        ),
        (
            "name: m\npath: mlflow-model\ntype: triton_model\n",
            4,
            "triton models need Azure's Triton inference server",
        ),
        (
            "name: m\npath: https://example.com/model.pkl\n",
            3,
            "a model is registered from files Shipyard holds",
        ),
        ("name: m\npath: azureml:other:1\n", 3, "names a registered asset"),
        ("name: m\npath: nowhere\n", 3, "no such file or folder"),
        ("name: m\npath: mlflow-model/model.pkl\ntype: mlflow_model\n", 4, "has no MLmodel file"),
        ("name: a/b\npath: mlflow-model\n", 2, "cannot contain '/'"),
        ("name: m\npat: mlflow-model\n", 3, "unknown field 'pat' under the model (did you mean 'path'?)"),
    ],
)
def test_each_refusal_names_the_file_and_the_line(project: Path, text: str, line: int, words: str) -> None:
    message = refusal(write(project, text))
    assert f"model.yml line {line}:" in message
    assert words in message


def test_overrides_win_over_the_file(project: Path) -> None:
    path = write(project, "name: m\npath: nowhere\n")
    loaded = load_model_file(path, ("path=mlflow-model", "type=mlflow_model", "tags.k=v"))
    assert loaded.spec.type == "mlflow_model"
    assert loaded.spec.tags == {"k": "v"}
    assert isinstance(loaded.source, LocalPathRef)


def test_fields_from_options_are_checked_alike(project: Path) -> None:
    loaded = model_from_fields({"name": "m", "path": "mlflow-model", "type": "mlflow_model"}, project)
    assert loaded.source == LocalPathRef((project / "mlflow-model").resolve())
    with pytest.raises(InvalidSpec) as caught:
        model_from_fields({"name": "m", "path": "mlflow-model/model.pkl", "type": "mlflow_model"}, project)
    assert caught.value.message.startswith("the command line: type mlflow_model:")
    with pytest.raises(InvalidSpec) as caught:
        model_from_fields({"name": "m"}, project)
    assert "missing required field 'path'" in caught.value.message
