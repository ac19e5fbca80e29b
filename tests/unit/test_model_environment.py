"""The environment of a no-code MLflow deployment, from the files MLflow writes beside a model."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from shipyard.errors import InvalidSpec
from shipyard.services import endpoint_environments as envs
from shipyard.services.environment_ports import server_python_version

WHERE = "model iris:1"
REQUIREMENTS = "mlflow==3.17.2\nscikit-learn==1.9.1  # the trainer's\n\nnumpy<3\n"
PYTHON_ENV = "python: 3.11.7\nbuild_dependencies:\n- pip==26.3\ndependencies:\n- -r requirements.txt\n"
CONDA = """\
channels: [conda-forge]
dependencies:
- python=3.10.4
- pip<=26.3
- libgomp
- pip:
  - mlflow==3.17.2
  - scikit-learn==1.5.2
name: mlflow-env
"""


def reader(**files: str):  # type: ignore[no-untyped-def]
    return lambda path: files.get(path.replace(".", "_").replace("/", "__"))


def test_python_env_yaml_decides_and_follows_its_requirements_file() -> None:
    read = reader(python_env_yaml=PYTHON_ENV, requirements_txt=REQUIREMENTS, conda_yaml=CONDA)
    found = envs.read_model_requirements(read, WHERE)
    assert found is not None
    assert found.found_in == "python_env.yaml"
    assert found.python == "3.11.7"
    assert found.requirements == ("mlflow==3.17.2", "scikit-learn==1.9.1", "numpy<3")


def test_conda_yaml_gives_its_pip_part_and_says_what_it_leaves_out() -> None:
    found = envs.read_model_requirements(reader(conda_yaml=CONDA), WHERE)
    assert found is not None
    assert (found.found_in, found.python) == ("conda.yaml", "3.10.4")
    assert found.requirements == ("mlflow==3.17.2", "scikit-learn==1.5.2")
    assert any("libgomp" in note and "not installed" in note for note in found.notes)


def test_a_model_without_requirement_files_reads_as_none() -> None:
    assert envs.read_model_requirements(reader(MLmodel="flavors: {}"), WHERE) is None


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("./wheels/mylib-1.0-py3-none-any.whl", "is not a package on an index"),
        ("git+https://example.invalid/lib.git", "is not a package on an index"),
        ("-e .", "the option '-e .' is not supported"),
        ("-r other.txt", "'other.txt' is not in the model folder"),
    ],
)
def test_lines_uv_cannot_install_from_an_index_are_refused_with_their_line(line: str, said: str) -> None:
    read = reader(requirements_txt=f"mlflow==3.17.2\n{line}\n")
    with pytest.raises(InvalidSpec) as caught:
        envs.read_model_requirements(read, WHERE)
    assert f"{WHERE}: requirements.txt line 2: " in caught.value.message
    assert said in caught.value.message


def test_indexes_and_constraints_are_kept() -> None:
    read = reader(
        requirements_txt="--extra-index-url https://pkgs.example.invalid/simple\n-c constraints.txt\nlib\n",
        constraints_txt="lib==1.2\n",
    )
    found = envs.read_model_requirements(read, WHERE)
    assert found is not None
    assert found.extra_index_urls == ("https://pkgs.example.invalid/simple",)
    assert found.requirements == ("lib==1.2", "lib")
    assert any("constraints.txt" in note for note in found.notes)


def test_the_servers_python_serves_when_it_has_every_package_at_an_accepted_version() -> None:
    have = f"orjson=={version('orjson')}"
    wanted = envs.ModelRequirements("requirements.txt", None, (have, f"mlflow=={version('mlflow-skinny')}"))
    chosen = envs.model_environment(wanted, WHERE)
    assert chosen.request.is_server_interpreter and chosen.source == "server"
    assert "it has every package requirements.txt lists" in chosen.notes[-1]
    assert f"orjson {version('orjson')}" in chosen.notes[-1]


def test_a_missing_or_other_version_builds_the_models_own_with_mlflow_skinny() -> None:
    wanted = envs.ModelRequirements(
        "python_env.yaml", f"{server_python_version()}.1", ("mlflow==3.17.2", "orjson==0.0.1")
    )
    chosen = envs.model_environment(wanted, WHERE)
    assert chosen.source == "model python_env.yaml"
    assert chosen.request.python is None  # the server's line: the server's interpreter builds it
    assert chosen.request.requirements == ("mlflow-skinny==3.17.2", "orjson==0.0.1", "pandas")
    said = "\n".join(chosen.notes)
    assert f"orjson {version('orjson')}, the model wants ==0.0.1" in said
    assert "mlflow==3.17.2 is installed as mlflow-skinny==3.17.2" in said
    assert "pandas added" in said


def test_a_python_this_host_lacks_falls_back_to_the_servers_and_says_so() -> None:
    wanted = envs.ModelRequirements("conda.yaml", "3.2.1", ("mlflow==3.17.2",))
    chosen = envs.model_environment(wanted, WHERE)
    assert chosen.request.python is None
    assert any("saved with Python 3.2.1, which this host does not have" in n for n in chosen.notes)


def test_no_requirements_and_no_mlflow_is_refused_with_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envs, "_installed", lambda name: None)
    with pytest.raises(InvalidSpec) as caught:
        envs.model_environment(None, WHERE)
    message = caught.value.message
    assert message.startswith(f"{WHERE} has no requirements.txt, python_env.yaml or conda.yaml")
    assert "pip install 'shipyard[serving]'" in message and "environment:" in message
