"""load_job: paths resolved and checked, code confined to the project, git recorded."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.errors import InvalidSpec
from shipyard.specs import AssetRef, LocalPathRef, PythonEnvironment, UrlRef, git_info, load_job, project_root

Write = Callable[[str, str], Path]
Git = Callable[..., str]

JOB = """\
command: python train.py --data ${{inputs.data}} --c ${{inputs.C}} --out ${{outputs.model}}
code: src
inputs:
  data:
    type: uri_file
    path: data/iris.csv
  remote:
    type: uri_folder
    path: s3://bucket/prefix/
  C: 0.5
outputs:
  model:
    type: mlflow_model
environment:
  conda_file: conda.yml
"""

CONDA = "dependencies:\n  - python=3.11\n  - pip:\n    - scikit-learn>=1.4\n"


@pytest.fixture
def project(tmp_path: Path, write: Write) -> Path:
    write("proj/src/train.py", "print(1)\n")
    write("proj/data/iris.csv", "a,b\n")
    write("proj/conda.yml", CONDA)
    return write("proj/job.yml", JOB)


def test_paths_are_resolved_and_checked(project: Path) -> None:
    job = load_job(project)
    folder = project.parent.resolve()
    assert job.code == folder / "src"
    assert job.project_root == folder
    assert job.inputs["data"].ref == LocalPathRef(folder / "data" / "iris.csv")
    assert job.inputs["remote"].ref == UrlRef("s3://bucket/prefix/", "s3")
    assert job.inputs["C"].value == 0.5
    assert isinstance(job.environment, PythonEnvironment)
    assert job.environment.python_version == "3.11"
    assert job.environment.pip_dependencies == ("scikit-learn>=1.4",)


def test_a_missing_local_input_is_named_with_its_line(project: Path) -> None:
    (project.parent / "data" / "iris.csv").unlink()
    with pytest.raises(InvalidSpec) as info:
        load_job(project)
    assert info.value.message.startswith(f"{project} line 6: input 'data': 'data/iris.csv' does not exist")
    assert info.value.details["field"] == "inputs.data.path"


def test_a_missing_input_given_through_set_is_blamed_on_set(project: Path) -> None:
    with pytest.raises(InvalidSpec) as info:
        load_job(project, ["inputs.data=nope.csv"])
    assert info.value.message.startswith(f"{project} (--set inputs.data=nope.csv): input 'data': 'nope.csv'")


def test_a_file_given_for_a_folder_input(project: Path) -> None:
    with pytest.raises(InvalidSpec, match=r"input 'data' is a uri_folder but .* is a file"):
        load_job(project, ["inputs.data.type=uri_folder"])


def test_missing_code_and_conda_file(project: Path) -> None:
    with pytest.raises(InvalidSpec, match=r"\(--set code=srcs\): code 'srcs' does not exist"):
        load_job(project, ["code=srcs"])
    shutil.rmtree(project.parent / "src")
    with pytest.raises(InvalidSpec, match=r"job.yml line 2: code 'src' does not exist"):
        load_job(project)
    (project.parent / "src").mkdir()
    (project.parent / "conda.yml").unlink()
    with pytest.raises(InvalidSpec, match=r"line 15: environment: conda_file 'conda.yml' does not exist"):
        load_job(project)


def test_code_outside_the_folder_of_a_job_outside_git(project: Path) -> None:
    (project.parent.parent / "elsewhere").mkdir()
    with pytest.raises(InvalidSpec) as info:
        load_job(project, ["code=../elsewhere"])
    assert "code '../elsewhere' resolves to" in info.value.message
    assert "outside the project" in info.value.message
    assert info.value.details["field"] == "code"


def test_code_outside_the_git_work_tree(tmp_path: Path, write: Write, git: Git) -> None:
    write("repo/jobs/src/train.py", "x")
    write("repo/shared/lib.py", "x")
    write("outside/lib.py", "x")
    job = write("repo/jobs/job.yml", "command: python train.py\ncode: ../shared\n")
    git(tmp_path / "repo", "init", "-q")
    assert load_job(job).code == (tmp_path / "repo/shared").resolve()  # above the file, inside the repo
    (tmp_path / "repo/jobs/link").symlink_to(tmp_path / "outside")
    with pytest.raises(InvalidSpec, match="outside the project"):
        load_job(job, ["code=link"])
    with pytest.raises(InvalidSpec, match="outside the project"):
        load_job(job, ["code=../../outside"])


def test_git_info_of_a_repository(tmp_path: Path, write: Write, git: Git) -> None:
    repo = tmp_path / "repo"
    write("repo/a.py", "x")
    git(repo, "init", "-q", "-b", "main")
    assert git_info(repo) is not None and git_info(repo).commit is None  # type: ignore[union-attr]
    git(repo, "add", "a.py")
    git(repo, "commit", "-q", "-m", "first")
    git(repo, "remote", "add", "origin", "https://example.com/r.git")
    info = git_info(repo)
    assert info is not None
    assert info.commit == git(repo, "rev-parse", "HEAD")
    assert (info.branch, info.dirty, info.remote_url) == ("main", False, "https://example.com/r.git")
    write("repo/a.py", "changed")
    assert git_info(repo).dirty is True  # type: ignore[union-attr]
    git(repo, "checkout", "-q", "--detach")
    assert git_info(repo).branch is None  # type: ignore[union-attr]
    assert project_root(repo / "a.py") == repo.resolve()


def test_no_git_info_outside_a_repository(tmp_path: Path) -> None:
    assert git_info(tmp_path) is None
    assert project_root(tmp_path / "job.yml") == tmp_path.resolve()


def test_named_environment_and_ignored_fields(tmp_path: Path, write: Write) -> None:
    job = load_job(
        write("job.yml", "command: echo\nenvironment: azureml:sk@latest\nidentity:\n  type: managed\n")
    )
    assert job.environment == AssetRef("sk", label="latest")
    assert job.notes == ("identity: the job runs as the server's user with the server's credentials",)
    assert job.code is None
