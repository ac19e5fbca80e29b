"""shipyard init: a ready project from files the package carries — nothing is downloaded.

``classical`` (the default) is a CI/CD project: jobs, a pipeline, an endpoint, a monitor,
tests, dev/staging/prod config and GitHub Actions workflows (docs/ci.md, "Scaffold a project").
``iris`` is the README's small walkthrough. Text files are rendered with
:class:`_Placeholders` — ``%%{name}`` — so GitHub's and Azure's ``${{ … }}`` pass untouched.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["DEFAULT_TEMPLATE", "TEMPLATES", "Names", "init", "names_for", "render_template"]

TEMPLATES = {
    "classical": (
        "a scikit-learn project with CI/CD: jobs, a train-evaluate-register pipeline, an endpoint,"
        " a monitor, tests, dev/staging/prod config and GitHub Actions workflows"
    ),
    "iris": "the iris flowers: a data asset, a training job with mlflow, an online endpoint",
}
DEFAULT_TEMPLATE = "classical"
# Azure's rule for endpoint names (letters, digits, '-', 3 to 32, a letter first) is the
# narrowest of the names derived: the endpoint is '<name>-ep'.
_NAME = re.compile(r"^[a-z][a-z0-9-]{1,27}$")
_RENDERED = {".py", ".yml", ".yaml", ".md", ".env", ".ini", ".txt", ".json", ".gitignore"}


class _Placeholders(string.Template):
    """``%%{name}``: a delimiter no YAML, shell or GitHub expression in the templates uses."""

    delimiter = "%%"
    idpattern = r"[a-z]+"


@dataclass(frozen=True)
class Names:
    project: str  # the folder's name, as the user wrote it
    name: str  # the model and the experiment
    data: str  # the data asset
    endpoint: str  # the online endpoint

    def mapping(self) -> dict[str, str]:
        return {"project": self.project, "name": self.name, "data": self.data, "endpoint": self.endpoint}


def names_for(project: str, name: str | None = None) -> Names:
    """The resource names a project gets; ``name`` (else a slug of ``project``) must fit
    every naming rule they meet, or :class:`ValueError` says what to write."""
    if name is None:
        name = re.sub(r"[^a-z0-9]+", "-", project.lower()).strip("-")[:28].strip("-")
        if not name or not name[0].isalpha():
            name = f"model-{name}".strip("-")[:28].strip("-")
        if len(name) < 2:
            name = f"{name}-model"
    if not _NAME.match(name):
        raise ValueError(
            f"--name {name!r}: write 2 to 28 lowercase letters, digits or '-', starting with a letter"
            " (the endpoint is named '<name>-ep', which Azure's rules cap at 32 characters)"
        )
    return Names(project=project, name=name, data=f"{name}-data", endpoint=f"{name}-ep")


def render_template(template: str, directory: Path, names: Names) -> list[str]:
    """Copy ``template`` into ``directory``, rendering its text files; the files made."""
    source = _template_dir(template)
    made: list[str] = []
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_dir() or "__pycache__" in relative.parts or path.suffix == ".pyc":
            continue
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix in _RENDERED or path.name in _RENDERED:
            text = path.read_text(encoding="utf-8")
            target.write_text(_Placeholders(text).substitute(names.mapping()), encoding="utf-8")
        else:
            target.write_bytes(path.read_bytes())
        made.append(relative.as_posix())
    return made


def _template_dir(name: str) -> Path:
    return Path(__file__).resolve().parent.parent / "templates" / name


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg="red")
    return typer.Exit(1)


def _git_init(directory: Path) -> str:
    """Make the project a git repository (its job files name ``../src``, which must be inside
    one) unless it is already inside one; what was done, for the user."""
    import shutil
    import subprocess

    git = shutil.which("git")
    if git is None:
        return (
            "note: git is not installed; run `git init` here before `shipyard job create` (jobs name ../src)"
        )
    inside = subprocess.run(
        [git, "rev-parse", "--is-inside-work-tree"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    if inside.returncode == 0:
        return "the folder is inside a git repository already"
    subprocess.run([git, "init", "-q"], cwd=directory, check=True)
    return "made it a git repository (`git init`)"


def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create; it must not exist or be empty.")],
    template: Annotated[
        str,
        typer.Option(
            "--template",
            "-t",
            help="What to start from: " + "; ".join(f"{k} ({v})" for k, v in TEMPLATES.items()),
        ),
    ] = DEFAULT_TEMPLATE,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="classical: the model's name; the data asset is NAME-data, the endpoint NAME-ep"
            " [default: the folder's name, lowercased, other characters as '-'].",
        ),
    ] = None,
) -> None:
    """Create a project folder from a template, with the commands that use it."""
    if template not in TEMPLATES:
        known = ", ".join(sorted(TEMPLATES))
        raise _fail(f"no template {template!r}; choose one of: {known} (INVALID_ARGUMENT)")
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise _fail(f"{directory} already exists and is not an empty folder; choose another (ALREADY_EXISTS)")
    try:
        names = names_for(directory.resolve().name, name)
    except ValueError as exc:
        raise _fail(f"{exc} (INVALID_ARGUMENT)") from None
    made = render_template(template, directory, names)
    typer.echo(f"created {directory} from the {template} template: {', '.join(made)}")
    if template == "classical":
        typer.echo(_git_init(directory))
    typer.echo(f"next (see {directory / 'README.md'}):")
    for line in _next_steps(template, directory, names):
        typer.echo(f"  {line}")


def _next_steps(template: str, directory: Path, names: Names) -> tuple[str, ...]:
    if template == "iris":
        return (
            f"cd {directory}",
            "shipyard data create -f data.yml",
            "shipyard compute create --name cpu --type local --max-concurrent 2",
            "shipyard job create -f job.yml --stream",
            "shipyard online-endpoint create -f endpoint.yml",
            "shipyard online-deployment create -f blue.yml --all-traffic",
            "shipyard online-endpoint invoke -n iris-ep --request-file request.json",
        )
    return (
        f"cd {directory}",
        "python -m pytest",
        "shipyard data create -f data/data.yml",
        "shipyard job create -f pipelines/train-evaluate-register.yml --stream",
        f"shipyard model alias set {names.name} champion --version 1",
        "shipyard online-endpoint create -f endpoints/endpoint.yml",
        "shipyard online-deployment create -f endpoints/blue.yml --all-traffic",
        f"shipyard online-endpoint invoke -n {names.endpoint} --request-file endpoints/sample-request.json",
    )
