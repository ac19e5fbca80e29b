"""Registering models from the command line, as a user does: a local folder, a run's
artifact, Azure's model YAML (a local folder, runs:/…, a job's output), aliases and versions
— a real server shared by the module, the CLI as a subprocess, what it prints checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipyard.client.client import MODEL_UPLOADS_EXPERIMENT, Client
from shipyard.client.run import ActiveRun
from tests.conftest import ServerProcess

pytestmark = pytest.mark.slow


@dataclass
class World:
    url: str
    client: Client
    project: Path
    run_id: str  # a finished run with the artifact folders model/ (no MLmodel) and mlmodel/


def cli(world: World, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SHIPYARD_URL", "SHIPYARD_WORKSPACE")}
    return subprocess.run(
        [sys.executable, "-m", "shipyard", *args],
        capture_output=True, text=True, timeout=120, check=False,
        env={**env, "SHIPYARD_URL": world.url}, cwd=cwd or world.project,
    )  # fmt: skip


def ok(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    done = cli(world, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    project = tmp_path_factory.mktemp("models")
    server = ServerProcess(project / "home").start()
    client = Client(server.url)
    try:
        weights = project / "clf"
        weights.mkdir()
        (weights / "weights.bin").write_bytes(b"\x00\x01\x02")
        (weights / "sub").mkdir()
        (weights / "sub" / "config.json").write_text("{}")
        mlflow_folder = project / "mlflow-model"
        mlflow_folder.mkdir()
        (mlflow_folder / "MLmodel").write_text("flavors:\n  python_function: {loader_module: m}\n")
        (mlflow_folder / "model.pkl").write_bytes(b"\x80\x04.")
        experiment = client.create_experiment("train")
        with ActiveRun(client, client.create_run(experiment.id, name="fit")) as run:
            run.log_artifact(weights, "model")
            run.log_artifact(mlflow_folder, "mlmodel")
        yield World(server.url, client, project, run.id)
    finally:
        client.close()
        server.stop()


def test_register_a_local_folder_with_an_alias(world: World) -> None:
    done = ok(world, "model", "register", "--name", "clf", "--path", "clf", "--alias", "champion")
    assert "registered clf version 1 (champion)" in done.stderr
    version = world.client.get_model_version("clf", "champion")
    assert version.version == 1
    # The files are a run's artifact in the experiment model-uploads: lineage like any version.
    assert version.source == f"runs:/{version.run_id}/model"
    assert version.run_id is not None
    run = world.client.get_run(version.run_id)
    assert world.client.get_experiment(run.experiment_id).name == MODEL_UPLOADS_EXPERIMENT
    assert run.status == "FINISHED"
    assert run.tags["shipyard.model.upload.path"] == str((world.project / "clf").resolve())
    assert sorted(world.client.walk_artifacts(version.run_id, "model")) == [
        "model/sub/config.json",
        "model/weights.bin",
    ]
    shown = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines()[1:] if line.split()}
    assert shown["aliases"] == ["champion"]
    assert shown["source"] == [version.source]


def test_register_a_runs_artifact_with_tags_and_a_description(world: World) -> None:
    done = ok(
        world, "model", "register", "-n", "from-run", "--run-id", world.run_id, "-p", "model",
        "--tag", "team=vision", "--tag", "epochs=3", "-d", "the first fit", "-o", "json",
    )  # fmt: skip
    version = json.loads(done.stdout)
    assert version["source"] == f"runs:/{world.run_id}/model"
    assert version["tags"] == {"team": "vision", "epochs": "3"}
    assert version["description"] == "the first fit"
    assert "registered from-run version 1" in done.stderr


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--path", "no-such-folder"], 1, "error: no-such-folder: no such file or folder (INVALID_ARGUMENT)"),
        (
            ["--path", "nope", "--run-id", "RUN"],
            1,
            "has no artifact at 'nope'; upload it before registering (NOT_FOUND)",
        ),
        (["--path", "clf", "--tag", "novalue"], 2, "'novalue' is not KEY=VALUE, e.g. --tag team=vision"),
        (["--path", "clf", "--alias", "latest"], 1, "alias 'latest' is reserved"),
    ],
)
def test_register_refusals_say_what_to_fix(world: World, args: list[str], code: int, words: str) -> None:
    args = [world.run_id if a == "RUN" else a for a in args]
    done = cli(world, "model", "register", "-n", "refused", *args)
    assert done.returncode == code, done.stderr
    assert words in done.stderr
    assert "Traceback" not in done.stderr
    if "no-such-folder" in words:
        assert "hint: give a local model folder, or --run-id RUN_ID" in done.stderr


def test_aliases_move_and_go(world: World) -> None:
    ok(world, "model", "register", "-n", "aliased", "--run-id", world.run_id, "-p", "model")
    ok(world, "model", "register", "-n", "aliased", "--run-id", world.run_id, "-p", "mlmodel")
    assert (
        ok(world, "model", "alias", "set", "aliased", "prod", "--version", "2").stdout
        == "aliased@prod -> v2\n"
    )
    assert (
        ok(world, "model", "alias", "set", "aliased", "prod", "-v", "1").stdout
        == "aliased@prod -> v1 (was v2)\n"
    )
    assert world.client.get_model("aliased").aliases == {"prod": 1}
    assert ok(world, "model", "alias", "delete", "aliased", "prod").stdout == "aliased@prod deleted\n"
    assert world.client.get_model("aliased").aliases == {}
    again = cli(world, "model", "alias", "delete", "aliased", "prod")
    assert again.returncode == 1
    assert "error: model 'aliased' has no alias 'prod' (NOT_FOUND)" in again.stderr
    missing = cli(world, "model", "alias", "set", "aliased", "prod", "--version", "9")
    assert missing.returncode == 1
    assert "has no version 9 (NOT_FOUND)" in missing.stderr


def test_version_list_and_show(world: World) -> None:
    ok(world, "model", "register", "-n", "versioned", "--run-id", world.run_id, "-p", "model")
    ok(world, "model", "register", "-n", "versioned", "--run-id", world.run_id, "-p", "mlmodel", "-a", "best")
    listed = ok(world, "model", "version", "list", "versioned").stdout.splitlines()
    assert listed[0].split()[:2] == ["version", "source"]
    assert [line.split()[0] for line in listed[2:4]] == ["v2", "v1"]  # newest first
    assert "best" in listed[2]
    assert listed[-1] == "2 versions"
    chosen = ok(world, "model", "version", "list", "versioned", "--columns", "version,aliases").stdout
    assert chosen.splitlines()[0].split() == ["version", "aliases"]
    as_json = json.loads(ok(world, "model", "version", "list", "versioned", "-o", "json").stdout)
    assert [v["version"] for v in as_json] == [2, 1]
    for ref in ("2", "v2", "latest", "best"):
        shown = json.loads(ok(world, "model", "version", "show", "versioned", ref, "-o", "json").stdout)
        assert (shown["version"], shown["source"]) == (2, f"runs:/{world.run_id}/mlmodel"), ref
    table = ok(world, "model", "version", "show", "versioned", "1").stdout
    assert table.splitlines()[0].strip() == "Model versioned v1"
    unknown = cli(world, "model", "version", "show", "versioned", "nope")
    assert unknown.returncode == 1
    assert "error: model 'versioned' has no alias 'nope' (NOT_FOUND)" in unknown.stderr


def test_create_from_azures_model_yaml_uploads_notes_and_numbers(world: World) -> None:
    (world.project / "local-mlflow.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json\n"
        "name: local-mlflow-example\nversion: 3\npath: mlflow-model\ntype: mlflow_model\n"
        "description: Model created from local MLflow model directory.\nstage: Production\n"
        "tags: {framework: sklearn}\n"
    )
    done = ok(world, "model", "create", "-f", "local-mlflow.yml", "-o", "json")
    version = json.loads(done.stdout)
    assert version["version"] == 1
    assert version["tags"] == {"framework": "sklearn"}
    assert version["description"] == "Model created from local MLflow model directory."
    assert "note: stage: not used; Shipyard names versions with aliases" in done.stderr
    assert "note: registered as version 1, not 3: the registry numbers versions itself" in done.stderr
    assert "azureml:local-mlflow-example:1" in done.stderr
    files = sorted(world.client.walk_artifacts(version["run_id"], "model"))
    assert files == ["model/MLmodel", "model/model.pkl"]
    # The same file again with the number the registry gives next: no note about it.
    again = ok(world, "model", "create", "-f", "local-mlflow.yml", "--version", "2")
    assert "registered local-mlflow-example version 2" in again.stderr
    assert "not 2" not in again.stderr


def test_create_from_a_run_and_from_options(world: World) -> None:
    (world.project / "from-run.yml").write_text(
        f"name: yaml-from-run\npath: runs:/{world.run_id}/mlmodel\ntype: mlflow_model\n"
    )
    version = json.loads(ok(world, "model", "create", "-f", "from-run.yml", "-o", "json").stdout)
    assert version["source"] == f"runs:/{world.run_id}/mlmodel"
    # An mlflow_model whose run folder has no MLmodel: said before anything is registered.
    (world.project / "no-mlmodel.yml").write_text(
        f"name: yaml-no-mlmodel\npath: runs:/{world.run_id}/model\ntype: mlflow_model\n"
    )
    done = cli(world, "model", "create", "-f", "no-mlmodel.yml")
    assert done.returncode == 1
    assert f"error: type mlflow_model: runs:/{world.run_id}/model has no MLmodel file in run" in done.stderr
    assert "hint: point path at the folder mlflow logged" in done.stderr
    assert world.client.list_models(name_like="yaml-no-mlmodel") == []
    # Without a file, as `az ml model create --name … --path …` is written in Azure's scripts.
    shown = ok(world, "model", "create", "--name", "from-options", "--path", "clf", "-o", "json").stdout
    assert json.loads(shown)["version"] == 1


def test_create_refusals_name_the_file_and_the_line(world: World) -> None:
    (world.project / "triton.yml").write_text("name: t\npath: mlflow-model\ntype: triton_model\n")
    done = cli(world, "model", "create", "-f", "triton.yml")
    assert done.returncode == 1
    assert (
        "error: triton.yml line 3: field 'type': triton models need Azure's Triton inference server"
        in done.stderr
    )
    assert "(INVALID_SPEC)" in done.stderr
    set_without_file = cli(world, "model", "create", "--name", "x", "--path", "clf", "--set", "tags.a=b")
    assert set_without_file.returncode == 2
    assert "--set changes a field of a file: give the file with -f" in set_without_file.stderr
    assert world.client.list_models(name_like="t") == []


def test_create_from_a_jobs_output(world: World) -> None:
    src = world.project / "src"
    src.mkdir()
    (src / "emit.py").write_text(
        "import pathlib, sys\npathlib.Path(sys.argv[1], 'model.txt').write_text('weights')\n"
    )
    (world.project / "job.yml").write_text(
        "code: src\ncommand: python emit.py ${{outputs.model}}\noutputs:\n  model: {type: custom_model}\n"
    )
    name = ok(world, "job", "create", "-f", "job.yml").stdout.strip()
    job = world.client.jobs.wait(name, timeout_s=120)
    assert str(job.status) == "Completed", job.failure
    for path in (
        f"azureml://jobs/{name}/outputs/model",
        f"azureml://jobs/{name}/outputs/artifacts/paths/outputs/model/",
    ):
        (world.project / "from-job.yml").write_text(f"name: from-job\npath: {path}\n")
        version = json.loads(ok(world, "model", "create", "-f", "from-job.yml", "-o", "json").stdout)
        assert version["source"] == f"runs:/{job.run_id}/outputs/model", path
