"""shipyard backup …, shipyard migrate, shipyard gc: the data of a server, handled whole.

These open the stores directly (through ``shipyard.server.backup_tool``), as ``shipyard up``
does, with the same settings: run them where the server runs, with its environment. They
work while the server runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from shipyard.cli._output import fail, parse_duration, plural
from shipyard.errors import InvalidBackup, ShipyardError

__all__ = ["backup_app", "gc", "migrate"]

backup_app = typer.Typer(
    help="Back up a server's data to one file (online, consistent, every artifact with its hash)"
    " and restore it.",
    no_args_is_help=True,
)

HomeOption = Annotated[
    Path | None,
    typer.Option(help="The server's data folder [env SHIPYARD_HOME; default ~/.shipyard]."),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        help="The server's metadata store URL [env SHIPYARD_DATABASE_URL; default: SQLite in --home]."
    ),
]
ArtifactsOption = Annotated[
    str | None,
    typer.Option(help="The server's artifact store: a folder or an fsspec URL [env SHIPYARD_ARTIFACTS]."),
]


def _say(line: str) -> None:
    typer.echo(line, err=True)


def _settings(home: Path | None, database_url: str | None, artifacts: str | None) -> Any:
    from pydantic import ValidationError

    from shipyard.settings import Settings

    given: dict[str, Any] = {"home": home, "database_url": database_url, "artifacts": artifacts}
    try:
        return Settings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        fail(f"invalid setting: {problems}")


def _refused(exc: ShipyardError, hint: str | None = None) -> NoReturn:
    fail(exc.message, exc.code, hint)


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _run(work: Callable[[], Any], *, damaged_hint: str | None = None) -> Any:
    """``work()``, or its refusal printed; ``damaged_hint`` follows an INVALID_BACKUP."""
    try:
        return work()
    except ShipyardError as exc:
        _refused(exc, damaged_hint if isinstance(exc, InvalidBackup) else None)


@backup_app.command("create")
def create(
    to: Annotated[Path, typer.Option("--to", help="The backup file to write (a new file).")],
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
    artifacts: ArtifactsOption = None,
    no_keys: Annotated[
        bool,
        typer.Option(
            "--no-keys",
            help="Leave out the secret key and the owner's token file (keep them elsewhere: without"
            " the key a restored server cannot read its secrets).",
        ),
    ] = False,
) -> None:
    """Write every record and every artifact they point to into FILE, while the server runs.

    The metadata is one consistent snapshot (SQLite's backup API; a PostgreSQL repeatable-read
    transaction); artifacts are copied after it with their sha256. The file is written beside
    FILE and renamed when complete.
    """
    from shipyard.server.backup_tool import create_backup

    settings = _settings(home, database_url, artifacts)
    done = _run(lambda: create_backup(settings, to, keys=not no_keys, say=_say))
    typer.echo(
        f"backup {done.path}: {_mb(done.size)}, {plural(done.rows, 'row')} in {done.tables} tables,"
        f" {plural(done.artifacts, 'artifact')} ({_mb(done.artifact_bytes)}), schema {done.revision},"
        f" in {done.seconds:.1f} s"
    )
    if done.home:
        typer.echo(f"  with {', '.join(done.home)}: keep the file as safe as those keys")
    for note in done.notes:
        typer.echo(f"  note: {note}")


@backup_app.command("verify")
def verify(file: Annotated[Path, typer.Argument(help="A backup file.")]) -> None:
    """Check a backup file whole (every member against its sha256 in the manifest) without
    restoring it. Exit status 1 when it is truncated, damaged or altered."""
    from datetime import UTC, datetime

    from shipyard.server.backup_tool import verify_backup

    manifest = _run(lambda: verify_backup(file))
    made = datetime.fromtimestamp(manifest.created_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    rows = sum(t.rows for t in manifest.tables)
    size = sum(a.size for a in manifest.artifacts)
    typer.echo(
        f"{file}: intact. Made {made} by Shipyard {manifest.shipyard} from {manifest.source} at schema"
        f" {manifest.revision}: {plural(rows, 'row')} in {len(manifest.tables)} tables,"
        f" {plural(len(manifest.artifacts), 'artifact')} ({_mb(size)})"
        + (f", {', '.join(h.name for h in manifest.home)}" if manifest.home else "")
    )
    for note in manifest.notes:
        typer.echo(f"  note: {note}")


@backup_app.command("restore")
def restore(
    file: Annotated[Path, typer.Argument(help="A backup file made by `shipyard backup create`.")],
    home: Annotated[
        Path, typer.Option(help="The data folder to restore into: new or empty, unless --force.")
    ],
    database_url: Annotated[
        str | None,
        typer.Option(
            help="Restore the metadata into this database instead of SQLite in --home (it must be empty)."
        ),
    ] = None,
    artifacts: Annotated[
        str | None,
        typer.Option(
            help="Restore the artifacts into this folder or fsspec URL instead of <home>/artifacts."
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace what the home (and the database) holds; the environment cache (envs/) is kept.",
        ),
    ] = False,
) -> None:
    """Restore a backup: the file is checked whole first (a truncated, damaged or altered file
    is refused before anything is written), then restored all at once. Start a server on
    --home (and --database-url) afterwards: it answers what was backed up."""
    from shipyard.server.backup_tool import restore_backup

    done = _run(
        lambda: restore_backup(
            file, home, database_url=database_url, artifacts=artifacts, force=force, say=_say
        ),
        damaged_hint="`shipyard backup verify FILE` checks a file without restoring it",
    )
    rows = sum(done.rows.values())
    typer.echo(
        f"restored {file} into {home.expanduser().resolve()}: {plural(rows, 'row')},"
        f" {plural(done.artifacts, 'artifact')} ({_mb(done.artifact_bytes)}) in {done.seconds:.1f} s"
    )
    if "secret.key" not in done.home:
        typer.echo(
            "  note: the backup holds no secret key: start the server with SHIPYARD_SECRET_KEY set to the"
            " key the backed-up server used, or its secrets cannot be read"
        )
    flags = f" --database-url {database_url}" if database_url else ""
    typer.echo(f"  start it: shipyard up --home {home}{flags}")


def migrate(
    from_url: Annotated[
        str,
        typer.Option("--from", help="The database to copy, e.g. sqlite:////home/me/.shipyard/shipyard.db."),
    ],
    to_url: Annotated[
        str, typer.Option("--to", help="An empty database, e.g. postgresql+psycopg://user@host/shipyard.")
    ],
    from_artifacts: Annotated[
        str | None,
        typer.Option("--from-artifacts", help="The source's artifact store (a folder or an fsspec URL)."),
    ] = None,
    to_artifacts: Annotated[
        str | None,
        typer.Option("--to-artifacts", help="Copy the artifacts the records point to into this store too."),
    ] = None,
) -> None:
    """Move a workspace's data to another database, typically a laptop's SQLite file to the
    team's PostgreSQL. The target must hold nothing (refused otherwise); the source may be in
    use (one consistent snapshot is copied). With --from-artifacts and --to-artifacts, the
    artifacts are copied as well, hash checked, before the records appear."""
    from shipyard.server.backup_tool import migrate_database

    done = _run(
        lambda: migrate_database(
            from_url, to_url, from_artifacts=from_artifacts, to_artifacts=to_artifacts, say=_say
        )
    )
    typer.echo(
        f"migrated {plural(sum(done.rows.values()), 'row')}"
        + (
            f" and {plural(done.artifacts, 'artifact')} ({_mb(done.artifact_bytes)})"
            if from_artifacts
            else ""
        )
        + f" in {done.seconds:.1f} s"
    )
    for note in done.notes:
        typer.echo(f"  note: {note}")
    if from_artifacts is None:
        typer.echo("  note: the artifacts stay where they are: point the new servers' --artifacts at them")
    typer.echo(
        "  secrets are encrypted with the source's key: give the new servers SHIPYARD_SECRET_KEY=<the"
        " source home's secret.key>"
    )


def gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")
    ] = False,
    min_age: Annotated[
        str,
        typer.Option(
            "--min-age",
            help="Keep unreferenced files younger than this (an upload whose record is not written"
            " yet), e.g. 1h, 30m, 0s.",
        ),
    ] = "1h",
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Remove the artifacts no record points to: uploads that never reached their record, log
    chunks never written down, blobs and snapshots no job, data asset or deployment names, the
    files of deleted logged models. Collected data and caches are never touched."""
    from shipyard.server.backup_tool import garbage_collect

    seconds = parse_duration(min_age, "--min-age")
    settings = _settings(home, database_url, artifacts)
    done = _run(lambda: garbage_collect(settings, min_age_s=seconds, dry_run=dry_run, say=_say))
    verb = "would remove" if dry_run else "removed"
    typer.echo(f"{verb} {plural(len(done.removed), 'unreferenced file')} ({_mb(done.removed_bytes)})")
    for info in done.removed[:20]:
        typer.echo(f"  {info.key}")
    if len(done.removed) > 20:
        typer.echo(f"  … and {len(done.removed) - 20} more")
    if done.young:
        typer.echo(f"kept {plural(done.young, 'unreferenced file')} younger than {min_age}")
    kept = ", ".join(f"{count:,} {kind}" for kind, count in sorted(done.kept.items()))
    typer.echo(f"kept: {kept or 'nothing else'}")
