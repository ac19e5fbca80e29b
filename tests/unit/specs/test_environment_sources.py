"""Where an environment's packages come from in Azure's files: conda dependencies under
their PyPI names, a Docker context's Dockerfile, Azure's curated environment names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shipyard.errors import InvalidSpec
from shipyard.specs import EnvironmentSpec, load_spec, resolve_environment
from shipyard.specs.conda import conda_to_pip
from shipyard.specs.curated import FAMILIES, curated_environment

DOCS = Path(__file__).parents[3] / "docs" / "environments.md"


def _env(folder: Path, text: str) -> Path:
    path = folder / "env.yml"
    path.write_text(text)
    return path


# -- conda ----------------------------------------------------------------------------------


def test_conda_packages_are_installed_under_their_pypi_names(tmp_path: Path) -> None:
    (tmp_path / "conda.yml").write_text(
        "name: train\nchannels:\n  - conda-forge\n  - pytorch\ndependencies:\n  - python=3.10\n  - pip=23.1\n"
        "  - numpy=1.26\n  - scikit-learn>=1.4,<1.6\n  - pytorch::pytorch=2.1\n  - pandas==2.1.4\n"
        "  - mkl\n  - cudatoolkit=11.8\n  - scipy=1.11.4=py310h1234\n  - pip:\n    - mlflow-skinny\n"
    )
    spec = load_spec(_env(tmp_path, "name: train\nconda_file: conda.yml\n"), EnvironmentSpec)
    env = resolve_environment(spec, tmp_path)
    assert env.python_version == "3.10"
    assert env.requirements == (
        "numpy==1.26.*",  # conda's =1.26 is "1.26 or any 1.26.x"
        "scikit-learn>=1.4,<1.6",
        "torch==2.1.*",  # conda's pytorch is PyPI's torch; its channel prefix dropped
        "pandas==2.1.4",
        "scipy==1.11.4.*",
        "mlflow-skinny",
    )
    notes = "\n".join(env.notes)
    assert "conda packages mkl, cudatoolkit: not installed, PyPI wheels carry them" in notes
    assert "conda build strings ignored: scipy=1.11.4=py310h1234" in notes
    assert "conda channels ignored (conda-forge, pytorch): packages come from PyPI" in notes


def test_conda_packages_that_are_not_python_are_refused_by_name_all_at_once(tmp_path: Path) -> None:
    spec = load_spec(
        _env(
            tmp_path,
            "name: r\nconda_file:\n  dependencies:\n    - python=3.10\n    - numpy\n    - r-base=4.2\n"
            "    - r-ggplot2\n    - openjdk\n",
        ),
        EnvironmentSpec,
    )
    with pytest.raises(InvalidSpec) as info:
        resolve_environment(spec, tmp_path)
    message = info.value.message
    assert (
        "cannot be installed from PyPI: 'r-base=4.2' (the R language), 'r-ggplot2' (an R package)," in message
    )
    assert "'openjdk' (a Java runtime)" in message
    assert "numpy" not in message
    assert info.value.details["field"] == "conda_file"


@pytest.mark.parametrize(
    ("conda", "pip"),
    [
        ("numpy", "numpy"),
        ("numpy=1.21", "numpy==1.21.*"),
        ("numpy=1.21.*", "numpy==1.21.*"),
        ("numpy==1.21.2", "numpy==1.21.2"),
        ("numpy>=1.20,<2", "numpy>=1.20,<2"),
        ("numpy 1.21.* py38h0", "numpy==1.21.*"),
        ("py-xgboost=1.7", "xgboost==1.7.*"),
        ("conda-forge::matplotlib-base", "matplotlib"),
        ("pytables", "tables"),
    ],
)
def test_conda_version_specs_in_pep_440(conda: str, pip: str) -> None:
    assert conda_to_pip([conda]).requirements == (pip,)


def test_conda_alternatives_have_no_pip_spelling() -> None:
    with pytest.raises(InvalidSpec, match=r"alternatives \('\|'\) have no pip equivalent"):
        conda_to_pip(["numpy=1.21|1.22"])


# -- a Docker build context ----------------------------------------------------------------


def test_a_dockerfile_gives_its_python_and_pip_packages(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    (context / "extra.txt").write_text("requests>=2\n")
    (context / "Dockerfile").write_text(
        "# a training image\nFROM python:3.10-slim\nENV PIP_NO_CACHE_DIR=1\n"
        "RUN apt-get update && apt-get install -y libgomp1 \\\n    && rm -rf /var/lib/apt/lists/*\n"
        "RUN pip install --no-cache-dir 'scikit-learn==1.4.2' \\\n"
        "    # comments inside a continued line are dropped\n"
        "    pandas -r extra.txt --extra-index-url https://pypi.example/simple\n"
        'RUN ["python", "-m", "pip", "install", "mlflow-skinny"]\n'
        "RUN conda install -c conda-forge -y pytorch=2.1\nCOPY . /app\n"
    )
    spec = load_spec(_env(tmp_path, "name: docker\nbuild:\n  path: context\n"), EnvironmentSpec)
    env = resolve_environment(spec, tmp_path)
    assert env.python_version == "3.10"
    assert env.requirements == (
        "scikit-learn==1.4.2",
        "pandas",
        "mlflow-skinny",
        "torch==2.1.*",
        "requests>=2",
    )
    assert env.extra_index_urls == ("https://pypi.example/simple",)
    notes = "\n".join(env.notes)
    assert "build: the Docker image is not built; Dockerfile is read for its Python packages" in notes
    assert (
        "build: steps not run (RUN apt-get, RUN rm, COPY): what they install must be on the server's host"
        in notes
    )


def test_a_docker_context_with_a_requirements_file_uses_it(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "requirements.txt").write_text("lightgbm\n")
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM python:3.9\nRUN pip install numpy\n")
    env = resolve_environment(
        load_spec(_env(tmp_path, "name: e\nbuild:\n  path: ctx\n"), EnvironmentSpec), tmp_path
    )
    assert env.requirements == ("lightgbm",)


def test_a_non_python_image_is_read_with_notes(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text(
        "FROM rocker/tidyverse:latest\nRUN R -e 'install.packages(\"x\")'\n"
    )
    env = resolve_environment(
        load_spec(_env(tmp_path, "name: r\nbuild:\n  path: ctx\n"), EnvironmentSpec), tmp_path
    )
    assert env.python_version is None and env.requirements == ()
    assert any("base image 'rocker/tidyverse:latest' is not pulled" in n for n in env.notes)
    assert any("steps not run (RUN R)" in n for n in env.notes)


def test_a_docker_context_with_nothing_to_read_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    with pytest.raises(
        InvalidSpec, match=r"build.path 'ctx' has neither a requirements.txt nor a Dockerfile"
    ):
        resolve_environment(
            load_spec(_env(tmp_path, "name: e\nbuild:\n  path: ctx\n"), EnvironmentSpec), tmp_path
        )


# -- curated environments ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "python", "first"),
    [
        ("sklearn-1.5", "3.10", "scikit-learn~=1.5.0"),
        ("AzureML-sklearn-1.0-ubuntu20.04-py38-cpu", "3.8", "scikit-learn~=1.0.0"),
        ("AzureML-lightgbm-3.3", "3.8", "lightgbm~=3.3.0"),
        ("AzureML-acpt-pytorch-2.8-cuda12.6", "3.10", "torch~=2.8.0"),
        ("tensorflow-2.16-cuda12", "3.10", "tensorflow~=2.16.0"),
        ("AzureML-pytorch-1.10-ubuntu18.04-py38-cuda11-gpu", "3.8", "torch~=1.10.0"),
        ("mlflow-ubuntu20.04-py38-cpu-inference", "3.8", "mlflow-skinny"),
    ],
)
def test_curated_names_map_to_built_in_specs_of_the_same_libraries(
    name: str, python: str, first: str
) -> None:
    curated = curated_environment(name)
    assert curated is not None
    assert curated.python == python
    assert curated.requirements[0] == first
    assert not any(r.startswith("azureml-") for r in curated.requirements)  # Azure's SDK talks to Azure


@pytest.mark.parametrize(
    "name", ["model-evaluation", "AzureML-AutoML", "sklearn", "my-sklearn-1.5", "sklearn-env"]
)
def test_other_names_are_not_curated(name: str) -> None:
    assert curated_environment(name) is None


def test_docs_table_of_curated_environments_matches_the_code() -> None:
    """docs/environments.md lists each family with the libraries the code gives it."""
    text = DOCS.read_text()
    section = text[text.index("## Azure's curated environments") :]
    rows = {m[1]: m[2] for m in re.finditer(r"^\| `([a-z-]+)-…` \| `(.*?)` \|", section, re.MULTILINE)}
    assert set(rows) == set(FAMILIES)
    for family, (main, others) in FAMILIES.items():
        listed = [p.strip() for p in rows[family].split(",") if p.strip()]
        assert listed == ([f"{main}~=<version>"] if main else []) + [o for o in others if o != main]
