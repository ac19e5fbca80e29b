"""shipyard model …"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli import model_card
from shipyard.cli._output import (
    ColumnsOption,
    OutputFormat,
    OutputOption,
    TokenOption,
    UrlOption,
    WorkspaceOption,
    cell,
    connect,
    fail,
    fmt_time,
    fmt_timestamp,
    new_table,
    now_ms,
    parse_columns,
    plural,
    print_json,
    print_tables,
)

if TYPE_CHECKING:
    from shipyard.cli._output import CliTable
    from shipyard.client.client import Client
    from shipyard.domain.registry import ModelVersion
    from shipyard.specs.model import LoadedModel

__all__ = ["app"]

app = typer.Typer(
    help="Registered models: register and create versions, aliases, list, show and history.",
    no_args_is_help=True,
)
alias_app = typer.Typer(
    help="Aliases: names such as 'champion' that point at one version.", no_args_is_help=True
)
version_app = typer.Typer(help="Versions of a registered model: list and show.", no_args_is_help=True)
app.add_typer(alias_app, name="alias")
app.add_typer(version_app, name="version")
app.command("card")(model_card.card)

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="Name of the registered model.")]
AliasArgument = Annotated[str, typer.Argument(metavar="ALIAS", help="The alias, e.g. champion.")]
DescriptionOption = Annotated[
    str | None, typer.Option("--description", "-d", metavar="TEXT", help="What this version is.")
]
TagOption = Annotated[
    list[str] | None,
    typer.Option("--tag", metavar="KEY=VALUE", help="A tag of the version (repeatable)."),
]


def _look_up(name: str) -> str:
    """The next step when a model, version or alias a command names does not exist."""
    return f"see `shipyard model list`, and `shipyard model version list {name}` for its versions and aliases"


def _aliases(aliases: dict[str, int]) -> str:
    return ", ".join(f"{alias}=v{version}" for alias, version in sorted(aliases.items()))


def _tags(values: list[str] | None) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE, e.g. --tag team=vision", param_hint="--tag")
        tags[key.strip()] = value
    return tags


@app.command("list")
def list_(
    name_like: Annotated[
        str | None,
        typer.Option(
            metavar="PATTERN",
            help="Only names matching this SQL LIKE pattern, case-insensitive, e.g. 'iris%'.",
        ),
    ] = None,
    columns: ColumnsOption = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """List the registered models of a workspace."""
    chosen = parse_columns(columns)
    with connect(url, workspace, token) as client:
        models = client.list_models(name_like=name_like)
    if output is OutputFormat.JSON:
        print_json(models)
        return
    now = now_ms()
    table = new_table("name", "latest", "aliases", "description", "updated", "updated by")
    for model in models:
        table.add_row(
            cell(model.name, "bold"),
            cell("" if model.latest_version is None else f"v{model.latest_version}"),
            cell(_aliases(model.aliases)),
            cell(model.description),
            cell(fmt_time(model.updated_at, now)),
            cell(model.updated_by),
        )
    print_tables(table, footer=plural(len(models), "model"), columns=chosen, choosable=True)


@app.command("show")
def show(
    name: NameArgument,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Show a registered model: its info, aliases and every version."""
    with connect(url, workspace, token, not_found=_look_up(name)) as client:
        model = client.get_model(name)
        versions = client.list_model_versions(name)
    if output is OutputFormat.JSON:
        print_json({"model": model, "versions": versions})
        return
    info = new_table("field", "value", title=f"Model {model.name}", show_header=False)
    for field, value in [
        ("description", model.description),
        ("latest version", "" if model.latest_version is None else f"v{model.latest_version}"),
        ("aliases", _aliases(model.aliases)),
        ("tags", ", ".join(f"{k}={v}" for k, v in sorted(model.tags.items()))),
        ("workspace", model.workspace),
        ("created", f"{fmt_timestamp(model.created_at)} by {model.created_by}"),
        ("updated", f"{fmt_timestamp(model.updated_at)} by {model.updated_by}"),
    ]:
        info.add_row(cell(field, "bold"), cell(value))
    print_tables(info, _versions_table(versions, title=f"Versions ({len(versions)})"))


def _versions_table(versions: list[ModelVersion], title: str | None = None) -> CliTable:
    now = now_ms()
    # When the terminal is narrow, the run id goes first: it is also in the source.
    table = new_table(
        "version", "source", "run id", "code version", "aliases", "status", "created by", "created",
        title=title, priority=("version", "aliases", "source", "status", "created"),
    )  # fmt: skip
    for version in sorted(versions, key=lambda v: v.version, reverse=True):
        table.add_row(
            cell(f"v{version.version}", "bold"),
            cell(version.source),
            cell(version.run_id, "dim"),
            cell(version.code_version),
            cell(", ".join(sorted(version.aliases))),
            cell(version.status),
            cell(version.created_by),
            cell(fmt_time(version.created_at, now)),
        )
    return table


def _print_version(version: ModelVersion, output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        print_json(version)
        return
    info = new_table("field", "value", title=f"Model {version.name} v{version.version}", show_header=False)
    for field, value in [
        ("aliases", ", ".join(sorted(version.aliases))),
        ("source", version.source),
        ("run id", version.run_id),
        ("experiment id", version.experiment_id),
        ("code version", version.code_version),
        ("description", version.description),
        ("tags", ", ".join(f"{k}={v}" for k, v in sorted(version.tags.items()))),
        ("status", version.status),
        ("created", f"{fmt_timestamp(version.created_at)} by {version.created_by}"),
        ("updated", f"{fmt_timestamp(version.updated_at)} by {version.updated_by}"),
    ]:
        info.add_row(cell(field, "bold"), cell(value))
    print_tables(info)


@app.command("history")
def history(
    name: NameArgument,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Every change to a registered model, oldest first: who did what, and when."""
    with connect(url, workspace, token, not_found=_look_up(name)) as client:
        events = client.model_history(name)
    if output is OutputFormat.JSON:
        print_json(events)
        return
    table = new_table("when", "who", "action", "version", "detail", title=f"History of {name}")
    for event in events:
        table.add_row(
            cell(fmt_timestamp(event.at)),
            cell(event.actor, "bold"),
            cell(event.action),
            cell("" if event.version is None else f"v{event.version}"),
            # Compact JSON: the detail's shape differs per action and is small.
            cell(json.dumps(event.detail, sort_keys=True, separators=(", ", ": ")) if event.detail else ""),
        )
    print_tables(table)


# -- registering -------------------------------------------------------------------------


@app.command("register")
def register(
    name: Annotated[str, typer.Option("--name", "-n", metavar="NAME", help="Name of the registered model.")],
    path: Annotated[
        str,
        typer.Option(
            "--path",
            "-p",
            metavar="PATH",
            help="With --run-id: the artifact path in the run, e.g. model. Without: a local folder"
            " (or file), uploaded.",
        ),
    ],
    run_id: Annotated[
        str | None, typer.Option("--run-id", "-r", metavar="RUN_ID", help="The run whose artifact it is.")
    ] = None,
    alias: Annotated[
        str | None,
        typer.Option(
            "--alias", "-a", metavar="ALIAS", help="Point this alias (e.g. champion) at the new version."
        ),
    ] = None,
    description: DescriptionOption = None,
    tag: TagOption = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Register a new version of a model (created if it does not exist yet): a run's artifact
    (--run-id and --path), or a local folder (--path alone), uploaded as the artifact of a run
    in the experiment 'model-uploads'."""
    tags = _tags(tag)
    local = None
    if run_id is None:
        local = Path(path).expanduser()
        if not local.exists():
            fail(
                f"{path}: no such file or folder",
                hint="give a local model folder, or --run-id RUN_ID with the artifact path in that run",
            )
    with connect(url, workspace, token) as client:
        if local is not None:
            version = client.register_local_model(name, local, description=description or "", tags=tags)
        else:
            assert run_id is not None
            version = client.register_model(name, run_id, path, description=description or "", tags=tags)
        version = _point_alias(client, version, alias)
    _say_registered(version)
    _print_version(version, output)


@app.command("create")
def create(
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            help="The model file (Azure ML's model YAML: name, version, path, type, description,"
            " tags); its local path is relative to it.",
        ),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name; overrides the file's.")] = None,
    version: Annotated[
        str | None,
        typer.Option("--version", "-v", help="Version; overrides the file's (see the note printed)."),
    ] = None,
    path: Annotated[
        str | None,
        typer.Option(
            "--path",
            "-p",
            help="Local folder or file (relative to here), runs:/RUN_ID/PATH or"
            " azureml://jobs/JOB/outputs/…; overrides the file's.",
        ),
    ] = None,
    type_: Annotated[
        str | None,
        typer.Option("--type", "-t", help="custom_model or mlflow_model; overrides the file's."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", metavar="PATH=VALUE", help="Override a field of the file, e.g. --set tags.stage=dev."
        ),
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Create a model version from Azure ML's model YAML (as `az ml model create`): a local
    path is uploaded; an mlflow_model must hold an MLmodel file. Fields Shipyard does not use
    are named in a note or refused with the reason."""
    from shipyard.errors import InvalidSpec
    from shipyard.specs.model import load_model_file, model_from_fields

    given = {"name": name, "version": version, "path": path, "type": type_}
    options = {k: v for k, v in given.items() if v is not None}
    try:
        if file is not None:
            loaded = load_model_file(file, [*(set_ or []), *(f"{k}={v}" for k, v in options.items())])
        elif set_:
            raise typer.BadParameter(
                "--set changes a field of a file: give the file with -f", param_hint="--set"
            )
        else:
            loaded = model_from_fields(options, Path.cwd())
    except InvalidSpec as exc:
        fail(exc.message, exc.code)
    for note in loaded.notes:
        typer.secho(f"note: {note}", err=True)
    with connect(url, workspace, token) as client:
        created = _register_loaded(client, loaded)
    wanted = loaded.spec.version
    if wanted is not None and wanted != str(created.version):
        typer.secho(
            f"note: registered as version {created.version}, not {wanted}: the registry numbers versions"
            f" itself; refer to it as azureml:{created.name}:{created.version}",
            err=True,
        )
    _say_registered(created)
    _print_version(created, output)


def _register_loaded(client: Client, loaded: LoadedModel) -> ModelVersion:
    from shipyard.specs.refs import JobOutputRef, LocalPathRef

    spec, source = loaded.spec, loaded.source
    tags = dict(spec.tags)
    description = spec.description or ""
    if isinstance(source, LocalPathRef):
        return client.register_local_model(spec.name, source.path, description=description, tags=tags)
    if isinstance(source, JobOutputRef):
        run_id = client.jobs.get(source.job).run_id
        # A job's own artifacts (what mlflow logged) are Azure's output "artifacts"; a named
        # output is kept under outputs/<name> of the job's run.
        base = "" if source.output == "artifacts" else f"outputs/{source.output}"
        artifact_path = "/".join(part for part in (base, source.path) if part)
    else:
        run_id, artifact_path = source.run_id, source.path
    if spec.type == "mlflow_model":
        _check_remote_mlmodel(client, run_id, artifact_path, spec.path)
    return client.register_model(spec.name, run_id, artifact_path, description=description, tags=tags)


def _check_remote_mlmodel(client: Client, run_id: str, artifact_path: str, given: str) -> None:
    from shipyard.specs.model import MLMODEL_FILE

    names = {entry["path"].rsplit("/", 1)[-1] for entry in client.list_artifacts(run_id, artifact_path)}
    if MLMODEL_FILE not in names:
        fail(
            f"type mlflow_model: {given} has no {MLMODEL_FILE} file in run {run_id}",
            hint="point path at the folder mlflow logged (runs:/RUN_ID/model), or set type: custom_model",
        )


def _point_alias(client: Client, version: ModelVersion, alias: str | None) -> ModelVersion:
    if alias is None:
        return version
    client.set_model_alias(version.name, alias, version.version)
    return client.get_model_version(version.name, version.version)


def _say_registered(version: ModelVersion) -> None:
    aliases = f" ({', '.join(sorted(version.aliases))})" if version.aliases else ""
    typer.secho(f"registered {version.name} version {version.version}{aliases}", fg="green", err=True)


# -- aliases and versions --------------------------------------------------------------


@alias_app.command("set")
def alias_set(
    name: NameArgument,
    alias: AliasArgument,
    version: Annotated[
        int, typer.Option("--version", "-v", min=1, metavar="N", help="The version it points at.")
    ],
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Point an alias at a version (moving it if it pointed elsewhere); deployments name it as
    azureml:NAME@ALIAS, the mlflow client as models:/NAME@ALIAS."""
    with connect(url, workspace, token, not_found=_look_up(name)) as client:
        before = client.get_model(name).aliases.get(alias)
        client.set_model_alias(name, alias, version)
    moved = "" if before in (None, version) else f" (was v{before})"
    typer.echo(f"{name}@{alias} -> v{version}{moved}")


@alias_app.command("delete")
def alias_delete(
    name: NameArgument,
    alias: AliasArgument,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Remove an alias; the version it pointed at stays."""
    with connect(url, workspace, token, not_found=_look_up(name)) as client:
        client.delete_model_alias(name, alias)
    typer.echo(f"{name}@{alias} deleted")


@version_app.command("list")
def version_list(
    name: NameArgument,
    columns: ColumnsOption = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """A model's versions, newest first, with their aliases and sources."""
    chosen = parse_columns(columns)
    with connect(url, workspace, token, not_found=_look_up(name)) as client:
        versions = client.list_model_versions(name)
    if output is OutputFormat.JSON:
        print_json(sorted(versions, key=lambda v: v.version, reverse=True))
        return
    print_tables(
        _versions_table(versions), footer=plural(len(versions), "version"), columns=chosen, choosable=True
    )


@version_app.command("show")
def version_show(
    name: NameArgument,
    version: Annotated[
        str,
        typer.Argument(metavar="VERSION", help="A version number, 'latest', or an alias such as champion."),
    ],
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """One version: its source, run, aliases, description and tags."""
    with connect(url, workspace, token, not_found=_look_up(name)) as client:
        found = client.get_model_version(
            name, version.removeprefix("v") if version[1:].isdigit() else version
        )
    _print_version(found, output)


def _add_promotion_commands() -> None:
    from shipyard.cli.model_promote import register as register_promotions

    register_promotions(app)


_add_promotion_commands()
