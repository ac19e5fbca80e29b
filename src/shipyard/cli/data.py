"""shipyard data …"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli._output import (
    OutputFormat,
    OutputOption,
    TokenOption,
    UrlOption,
    WorkspaceOption,
    cell,
    connect,
    fmt_time,
    fmt_timestamp,
    new_table,
    now_ms,
    plural,
    print_json,
    print_tables,
)

if TYPE_CHECKING:
    from shipyard.domain.data_assets import DataAsset

__all__ = ["app"]

app = typer.Typer(help="Data assets: immutable, versioned files, folders and MLTables.", no_args_is_help=True)

# Smaller uploads finish before a bar would be drawn.
_PROGRESS_FROM_BYTES = 8 << 20

NameOption = Annotated[str, typer.Option("--name", "-n", metavar="NAME", help="Name of the data asset.")]


def _size(value: int | None) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A callback drawing a transfer bar on stderr once the transfer is big enough."""
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            if total < _PROGRESS_FROM_BYTES:
                return
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

            bar = Progress(
                f"[bold]{label}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            bar.start()
            state["bar"], state["task"] = bar, bar.add_task(label, total=total)
        state["bar"].update(state["task"], completed=done)

    try:
        yield update
    finally:
        if "bar" in state:
            state["bar"].stop()


def _is_url(path: str) -> bool:
    scheme, sep, _ = path.partition("://")
    return bool(sep) and len(scheme) > 1


def _print_asset(asset: DataAsset) -> None:
    info = new_table("field", "value", title=f"Data asset {asset.name}:{asset.version}", show_header=False)
    rows = [
        ("type", asset.type),
        ("path", asset.path),
        ("content hash", asset.content_hash or "(external: not copied)"),
        ("size", _size(asset.size)),
        ("files", "" if asset.file_count is None else str(asset.file_count)),
        ("rows", "" if asset.row_count is None else str(asset.row_count)),
        ("description", asset.description),
        ("tags", ", ".join(f"{k}={v}" for k, v in sorted(asset.tags.items()))),
        ("created", f"{fmt_timestamp(asset.created_at)} by {asset.created_by}"),
    ]
    for field, value in rows:
        info.add_row(cell(field, "bold"), cell(value))
    tables = [info]
    if asset.columns is not None:
        schema = new_table("column", "type", title=f"Schema ({len(asset.columns)} columns)")
        for column in asset.columns:
            schema.add_row(cell(column.name, "bold"), cell(column.type))
        tables.append(schema)
    print_tables(*tables)


@app.command("create")
def create(
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            help="The data file (name, version, type, path…); its local path is relative to it.",
        ),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name; overrides the file's.")] = None,
    version: Annotated[
        str | None,
        typer.Option("--version", "-v", help="Version; overrides the file's [default: the next integer]."),
    ] = None,
    path: Annotated[
        str | None,
        typer.Option(
            "--path",
            "-p",
            help="Local file or folder (relative to here), or an fsspec URL; overrides the file's.",
        ),
    ] = None,
    type_: Annotated[
        str | None,
        typer.Option("--type", "-t", help="uri_file, uri_folder or mltable; overrides the file's."),
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Register a data asset version. A local path is uploaded as a snapshot (only files the
    server does not hold yet cross the wire); an fsspec URL is recorded without copying."""
    from shipyard.specs import DataSpec, load_spec, validate_spec

    with connect(url, workspace, token) as client:
        overrides = {"name": name, "version": version, "path": path, "type": type_}
        given = {k: v for k, v in overrides.items() if v is not None}
        if file is not None:
            spec = load_spec(file, DataSpec)
            spec = validate_spec({**spec.model_dump(exclude_none=True), **given}, DataSpec, str(file))
        else:
            spec = validate_spec(given, DataSpec, "the command line")
        source: str | Path = spec.path
        if not _is_url(spec.path):
            base = file.parent if file is not None and path is None else Path.cwd()
            source = base / spec.path
        with _progress(f"uploading {spec.name}") as progress:
            asset = client.create_data_asset(
                spec.name,
                source,
                version=spec.version,
                type=spec.type,
                description=spec.description or "",
                tags=spec.tags,
                progress=progress,
            )
    if output is OutputFormat.JSON:
        print_json(asset)
        return
    _print_asset(asset)


@app.command("list")
def list_(
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """The latest version of every data asset."""
    with connect(url, workspace, token) as client:
        assets = client.list_data_assets()
    if output is OutputFormat.JSON:
        print_json(assets)
        return
    now = now_ms()
    table = new_table("name", "version", "type", "size", "files", "rows", "path", "created")
    for asset in assets:
        table.add_row(
            cell(asset.name, "bold"),
            cell(asset.version),
            cell(asset.type),
            cell(_size(asset.size)),
            cell(asset.file_count),
            cell(asset.row_count),
            cell(asset.path, "dim"),
            cell(fmt_time(asset.created_at, now)),
        )
    print_tables(table, footer=plural(len(assets), "data asset"))


@app.command("show")
def show(
    name: NameOption,
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="Version to show [default: the latest].")
    ] = None,
    label: Annotated[
        str | None, typer.Option("--label", "-l", help="'latest': the version created last.")
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Show one version of a data asset: where it is, its content hash, size and table schema."""
    if version is not None and label is not None:
        raise typer.BadParameter("give --version or --label, not both")
    if label not in (None, "latest"):
        raise typer.BadParameter(f"unknown label {label!r}; the only label is 'latest'")
    with connect(url, workspace, token) as client:
        asset = client.get_data_asset(name, version or "latest")
    if output is OutputFormat.JSON:
        print_json(asset)
        return
    _print_asset(asset)


@app.command("download")
def download(
    name: NameOption,
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="Version to download [default: the latest].")
    ] = None,
    download_path: Annotated[
        Path,
        typer.Option("--download-path", "-p", help="Folder to download into; the files land in <it>/<name>."),
    ] = Path(),
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Download an uploaded data asset's files, checked against their hashes."""
    dest = download_path / name
    with connect(url, workspace, token) as client, _progress(f"downloading {name}") as progress:
        asset = client.get_data_asset(name, version or "latest")
        client.download_data_asset(name, dest, asset.version, progress=progress)
    typer.echo(
        f"downloaded {name}:{asset.version}"
        f" ({plural(asset.file_count or 0, 'file')}, {_size(asset.size)}) to {dest}"
    )
