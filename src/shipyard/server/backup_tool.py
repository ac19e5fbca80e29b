"""The stores behind ``shipyard backup``, ``migrate`` and ``gc``: what a server of the same
settings would open, without starting one (the CLI reaches stores only through this layer).

``restore`` writes a home that no server uses yet, so it reads only what it is given: an
exported ``SHIPYARD_DATABASE_URL`` meant for another server must not become its target.
"""

from __future__ import annotations

import getpass
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from shipyard.errors import Conflict, InvalidArgument
from shipyard.server.access_runtime import ADMIN_TOKEN_FILE, secure_home
from shipyard.services.access.audit import AuditLog
from shipyard.services.backup import BackupMaker, BackupSummary
from shipyard.services.backup_archive import ArchiveReader, Manifest
from shipyard.services.backup_gc import GarbageSummary, collect_garbage
from shipyard.services.backup_migrate import MigrateSummary, migrate
from shipyard.services.backup_restore import BackupRestorer, RestoreSummary
from shipyard.settings import Settings
from shipyard.stores.artifacts.local import LocalArtifactStore
from shipyard.stores.registry import open_artifact_store
from shipyard.stores.secret_cipher import KEY_FILE
from shipyard.stores.sql.backup_store import SqlMetadataStore
from shipyard.stores.sql.database import SqlDatabase

__all__ = ["create_backup", "garbage_collect", "migrate_database", "restore_backup", "verify_backup"]

Say = Callable[[str], None]
_KEPT_ON_FORCE = frozenset({"envs"})  # built environments, keyed by their spec: right for any data


def _audit(url: str, action: str, target: str, detail: dict[str, Any], say: Say) -> None:
    """An entry in the audit log of the database the command worked on, by the local user."""
    database = SqlDatabase(url, migrate=False)
    log = AuditLog(database)
    try:
        log.record(
            actor=f"local:{getpass.getuser()}",
            action=action,
            target=target,
            workspace="*",
            status=200,
            outcome="success",
            detail=detail,
        ).result(timeout=60)
    except Exception as exc:  # noqa: BLE001 - the work is done; say the entry is missing, loudly
        say(f"warning: the audit log did not take the entry for {action}: {exc}")
    finally:
        log.stop()
        database.close()


def _home_files(settings: Settings) -> dict[str, bytes]:
    """The secret key (a restored server needs it to read the secrets) and the owner's token."""
    files: dict[str, bytes] = {}
    if settings.secret_key is not None:
        files[KEY_FILE] = settings.secret_key.get_secret_value().strip().encode() + b"\n"
    elif (settings.home / KEY_FILE).is_file():
        files[KEY_FILE] = (settings.home / KEY_FILE).read_bytes()
    if (settings.home / ADMIN_TOKEN_FILE).is_file():
        files[ADMIN_TOKEN_FILE] = (settings.home / ADMIN_TOKEN_FILE).read_bytes()
    return files


def create_backup(settings: Settings, dest: Path, *, keys: bool = True, say: Say = print) -> BackupSummary:
    url = settings.resolved_database_url()
    metadata = SqlMetadataStore(url)
    metadata.require()
    try:
        store = open_artifact_store(settings.resolved_artifacts())
        summary = BackupMaker(metadata, store, say).create(
            dest.expanduser().resolve(), _home_files(settings) if keys else {}
        )
    finally:
        metadata.close()
    detail = {"rows": summary.rows, "artifacts": summary.artifacts, "bytes": summary.size}
    _audit(url, "backup.create", str(summary.path), detail, say)
    return summary


def verify_backup(path: Path) -> Manifest:
    return ArchiveReader(path.expanduser()).verify()


def _is_local(location: str) -> bool:
    scheme = urlparse(location).scheme
    return scheme in ("", "file") or len(scheme) == 1


def _local_root(location: str) -> Path:
    return (
        Path(location[len("file://") :] if location.startswith("file://") else location)
        .expanduser()
        .resolve()
    )


class _Replacement:
    """Puts the staged artifacts and the home's files in place, moving what they replace
    aside first; :meth:`undo` puts it all back, :meth:`finish` drops what was replaced."""

    def __init__(self, home: Path, replaced: list[Path], staging: Path | None, root: Path | None) -> None:
        self.home = home
        self.replaced = replaced
        self.staging = staging
        self.root = root
        self.token = secrets.token_hex(4)
        self.moved: list[tuple[Path, Path]] = []

    def publish(self, files: dict[str, bytes]) -> None:
        for path in self.replaced:
            if path.exists() or path.is_symlink():
                aside = path.with_name(f".{path.name}.replaced-{self.token}")
                path.rename(aside)
                self.moved.append((aside, path))
        if self.staging is not None and self.root is not None:
            self.root.parent.mkdir(parents=True, exist_ok=True)
            self.staging.rename(self.root)
            self.moved.append((self.root, self.staging))
        for name, data in files.items():
            fd = os.open(self.home / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)

    def undo(self) -> None:
        for now, before in reversed(self.moved):
            if now.exists():
                now.rename(before)
        self.moved.clear()

    def finish(self) -> None:
        for now, before in self.moved:
            if before == self.staging:
                continue  # the restored artifacts, now in place
            if now.is_dir() and not now.is_symlink():
                shutil.rmtree(now, ignore_errors=True)
            else:
                now.unlink(missing_ok=True)


def _refuse_non_empty(home: Path, root: Path | None, force: bool) -> list[Path]:
    """What a --force restore replaces; without --force, a refusal when there is any."""
    replaced = [p for p in sorted(home.iterdir()) if p.name not in _KEPT_ON_FORCE] if home.is_dir() else []
    if root is not None and root.exists() and home not in root.parents and any(root.iterdir()):
        replaced.append(root)
    if replaced and not force:
        shown = ", ".join(p.name for p in replaced[:5])
        raise Conflict(
            f"{home} is not empty ({shown}{', …' if len(replaced) > 5 else ''}): restore into a new or"
            " empty folder, or pass --force to replace what it holds",
            path=str(home),
        )
    return replaced


def restore_backup(
    path: Path,
    home: Path,
    *,
    database_url: str | None = None,
    artifacts: str | None = None,
    force: bool = False,
    say: Say = print,
) -> RestoreSummary:
    home = home.expanduser().resolve()
    url = database_url or f"sqlite:///{home / 'shipyard.db'}"
    location = artifacts or str(home / "artifacts")
    root = _local_root(location) if _is_local(location) else None
    replaced = _refuse_non_empty(home, root, force)
    restorer = BackupRestorer(path.expanduser(), say)
    metadata = SqlMetadataStore(url)
    made_home = not home.exists()
    secure_home(home)
    staging: Path | None = None
    if root is not None:
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.restore-"))
        store: Any = LocalArtifactStore(staging)
    else:
        store = open_artifact_store(location, staging_dir=home)
        if not force and next(iter(store.list("")), None) is not None:
            raise Conflict(f"the artifact store {location} is not empty: pass --force to restore into it")
    scratch = Path(tempfile.mkdtemp(dir=home, prefix=".restore-"))
    replacement = _Replacement(home, replaced, staging, root)
    try:
        summary = restorer.restore(metadata, store, scratch, replace=force, publish=replacement.publish)
    except BaseException:
        replacement.undo()
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
        if made_home and not any(home.iterdir()):
            home.rmdir()
        raise
    finally:
        metadata.close()
    shutil.rmtree(scratch, ignore_errors=True)
    replacement.finish()
    return summary


def migrate_database(
    from_url: str,
    to_url: str,
    *,
    from_artifacts: str | None = None,
    to_artifacts: str | None = None,
    say: Say = print,
) -> MigrateSummary:
    if (from_artifacts is None) != (to_artifacts is None):
        raise InvalidArgument("give both --from-artifacts and --to-artifacts, or neither (the rows only)")
    source, target = SqlMetadataStore(from_url), SqlMetadataStore(to_url)
    source.require()
    if source.describe() == target.describe():
        raise InvalidArgument("--from and --to name the same database")
    stores = None
    if from_artifacts is not None and to_artifacts is not None:
        stores = (open_artifact_store(from_artifacts), open_artifact_store(to_artifacts))
    scratch = Path(
        tempfile.mkdtemp(dir=source.path.parent if source.path else None, prefix=".shipyard-migrate-")
    )
    try:
        return migrate(source, target, scratch, stores=stores, target_name=target.describe(), say=say)
    finally:
        source.close()
        target.close()
        shutil.rmtree(scratch, ignore_errors=True)


def garbage_collect(
    settings: Settings, *, min_age_s: float, dry_run: bool, say: Say = print
) -> GarbageSummary:
    url = settings.resolved_database_url()
    metadata = SqlMetadataStore(url)
    metadata.require()
    try:
        store = open_artifact_store(settings.resolved_artifacts())
        summary = collect_garbage(
            metadata, store, now_s=time.time(), min_age_s=min_age_s, dry_run=dry_run, say=say
        )
    finally:
        metadata.close()
    if summary.removed and not dry_run:
        detail = {"removed": len(summary.removed), "bytes": summary.removed_bytes}
        _audit(url, "gc", settings.resolved_artifacts(), detail, say)
    return summary
