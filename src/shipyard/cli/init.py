"""shipyard init: a small, ready project to walk the lifecycle with (data, a training job,
an endpoint), from files the package carries — nothing is downloaded."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["TEMPLATES", "init"]

TEMPLATES = {"iris": "the iris flowers: a data asset, a training job with mlflow, an online endpoint"}


def _template_dir(name: str) -> Path:
    return Path(__file__).resolve().parent.parent / "templates" / name


def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create; it must not exist or be empty.")],
    template: Annotated[
        str,
        typer.Option(
            "--template",
            "-t",
            help="What to start from: " + "; ".join(f"{k} ({v})" for k, v in TEMPLATES.items()),
        ),
    ] = "iris",
) -> None:
    """Create a project folder from a template, with the commands that use it."""
    import shutil

    if template not in TEMPLATES:
        known = ", ".join(sorted(TEMPLATES))
        typer.secho(
            f"error: no template {template!r}; choose one of: {known} (INVALID_ARGUMENT)", err=True, fg="red"
        )
        raise typer.Exit(1)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        typer.secho(
            f"error: {directory} already exists and is not an empty folder; choose another (ALREADY_EXISTS)",
            err=True,
            fg="red",
        )
        raise typer.Exit(1)
    source = _template_dir(template)
    shutil.copytree(source, directory, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    made = sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())
    typer.echo(f"created {directory} from the {template} template: {', '.join(made)}")
    typer.echo(f"next (see {directory / 'README.md'}):")
    for line in (
        f"cd {directory}",
        "shipyard data create -f data.yml",
        "shipyard compute create --name cpu --type local --max-concurrent 2",
        "shipyard job create -f job.yml --stream",
        "shipyard online-endpoint create -f endpoint.yml",
        "shipyard online-deployment create -f blue.yml --all-traffic",
        "shipyard online-endpoint invoke -n iris-ep --request-file request.json",
    ):
        typer.echo(f"  {line}")
