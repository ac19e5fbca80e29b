"""Backup, restore, migrate and gc on real stores (SQLite files, PostgreSQL databases, a
local artifact folder), through the same wiring the CLI uses."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from shipyard.errors import Conflict, InvalidArgument, InvalidBackup
from shipyard.server.backup_tool import create_backup, garbage_collect, migrate_database, restore_backup
from shipyard.services.access.secrets import SecretService
from shipyard.services.tracking import TrackingService
from shipyard.settings import Settings
from shipyard.stores.secret_cipher import FernetCipher
from shipyard.stores.sql import backup_store
from shipyard.stores.sql.database import SqlDatabase
from shipyard.stores.sql.sqlite_host import HostClaim
from tests.integration.backup_world import (
    SECRET_KEY,
    World,
    dump_all,
    dump_reflected,
    file_hashes,
    populate,
)

quiet: Callable[[str], None] = lambda _line: None  # noqa: E731


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> World:
    return populate(database_url, tmp_path / "artifacts", tmp_path)


@pytest.fixture
def sqlite_world(sqlite_template: Path, tmp_path: Path) -> World:
    path = tmp_path / "source.db"
    path.write_bytes(sqlite_template.read_bytes())
    return populate(f"sqlite:///{path}", tmp_path / "artifacts", tmp_path)


def _settings(world: World) -> Settings:
    return Settings(
        home=world.artifacts.parent,
        database_url=world.url,
        artifacts=str(world.artifacts),
        secret_key=SECRET_KEY.decode(),
    )


def _backup(world: World, name: str = "backup.tar") -> Path:
    dest = world.artifacts.parent / name
    create_backup(_settings(world), dest, say=quiet)
    return dest


def _expected_files(world: World) -> dict[str, str]:
    return {k: v for k, v in file_hashes(world.artifacts).items() if k not in world.garbage | world.cache}


def _sqlite(home: Path) -> str:
    return f"sqlite:///{home / 'shipyard.db'}"


# -- the round trip ----------------------------------------------------------------------


def test_a_restored_home_holds_every_record_and_every_artifact_the_records_point_to(
    world: World, tmp_path: Path
) -> None:
    before = dump_all(world.url)
    files = _expected_files(world)
    backup = _backup(world)
    home = tmp_path / "restored"

    summary = restore_backup(backup, home, say=quiet)

    assert dump_all(_sqlite(home)) == before
    assert file_hashes(home / "artifacts") == files
    assert summary.artifacts == len(files)
    assert sorted(p.name for p in home.iterdir()) == ["artifacts", "secret.key", "shipyard.db"]
    # The key came along: the restored secrets can be read.
    key = (home / "secret.key").read_bytes().strip()
    restored = SqlDatabase(_sqlite(home))
    try:
        assert SecretService(restored, FernetCipher(key)).reveal(
            "default", {"P": "${{secrets.db-password}}"}
        ) == {"P": "hunter2"}
    finally:
        restored.close()


def test_a_backup_restores_into_postgresql(world: World, pg_database_url: str, tmp_path: Path) -> None:
    before = dump_all(world.url)
    backup = _backup(world)

    restore_backup(backup, tmp_path / "team", database_url=pg_database_url, say=quiet)

    assert dump_all(pg_database_url) == before
    assert file_hashes(tmp_path / "team" / "artifacts") == _expected_files(world)
    # The sequences continue after the restored ids: new rows do not collide.
    db = SqlDatabase(pg_database_url)
    try:
        with db.write() as uow:
            assert uow.workspaces.ensure("another", "admin", 0) > max(r[0] for r in before["workspaces"])
    finally:
        db.close()


def test_a_backup_of_an_older_schema_is_restored_at_the_newest(sqlite_world: World, tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    previous = backup_store.known_revisions()[-2]
    config = Config()
    config.set_main_option("script_location", str(Path(backup_store.migrate.__file__).parent / "migrations"))
    engine = backup_store.build_engine(sqlite_world.url)
    config.attributes["engine"] = engine
    command.downgrade(config, previous)
    engine.dispose()
    old = dump_reflected(sqlite_world.url)
    backup = _backup(sqlite_world)
    assert json.loads(_member(backup, "manifest.json"))["revision"] == previous

    restore_backup(backup, tmp_path / "restored", say=quiet)

    restored_url = _sqlite(tmp_path / "restored")
    engine = create_engine(restored_url)
    assert backup_store.migrate.current_revision(engine) == backup_store.migrate.HEAD
    engine.dispose()
    restored = dump_reflected(restored_url, columns={name: cols for name, (cols, _) in old.items()})
    assert {name: rows for name, (_, rows) in restored.items() if name in old} == {
        name: rows for name, (_, rows) in old.items()
    }


def test_a_gzipped_backup_restores_as_it_is(sqlite_world: World, tmp_path: Path) -> None:
    backup = _backup(sqlite_world)
    zipped = tmp_path / "backup.tar.gz"
    zipped.write_bytes(gzip.compress(backup.read_bytes(), compresslevel=1))
    restore_backup(zipped, tmp_path / "restored", say=quiet)
    assert (
        dump_all(_sqlite(tmp_path / "restored"))["metric_points"]
        == dump_all(sqlite_world.url)["metric_points"]
    )


def test_a_backup_never_overwrites_a_file(sqlite_world: World) -> None:
    backup = _backup(sqlite_world)
    kept = backup.read_bytes()
    with pytest.raises(Conflict, match="already exists"):
        _backup(sqlite_world)
    assert backup.read_bytes() == kept
    assert [p.name for p in backup.parent.iterdir() if ".partial" in p.name or ".scratch" in p.name] == []


# -- bad input: the file -------------------------------------------------------------------


def _member(backup: Path, name: str) -> bytes:
    with tarfile.open(backup) as tar:
        handle = tar.extractfile(name)
        assert handle is not None
        return handle.read()


def _offsets(backup: Path) -> dict[str, tuple[int, int]]:
    with tarfile.open(backup) as tar:
        return {m.name: (m.offset_data, m.size) for m in tar.getmembers()}


def _flip(backup: Path, offset: int) -> None:
    data = bytearray(backup.read_bytes())
    data[offset] ^= 0x01
    backup.write_bytes(bytes(data))


def _rewrite(backup: Path, keep: Callable[[str], bool], extra: dict[str, bytes] | None = None) -> None:
    """The archive again, without the members ``keep`` refuses, with ``extra`` before the manifest."""
    out = io.BytesIO()
    with (
        tarfile.open(backup) as source,
        tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for member in source.getmembers():
            if member.name == "manifest.json":
                for name, data in (extra or {}).items():
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
            if keep(member.name):
                tar.addfile(member, source.extractfile(member))
    backup.write_bytes(out.getvalue())


def _assert_refused(backup: Path, home: Path, *words: str) -> None:
    with pytest.raises(InvalidBackup) as refused:
        restore_backup(backup, home, say=quiet)
    for word in words:
        assert word in refused.value.message
    assert not home.exists(), "nothing may be restored from a bad file"


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.97, "before-manifest", "inside-manifest"])
def test_a_truncated_file_is_refused_and_nothing_is_restored(
    sqlite_world: World, tmp_path: Path, keep: float | str
) -> None:
    backup = _backup(sqlite_world)
    size = backup.stat().st_size
    manifest_at, manifest_size = _offsets(backup)["manifest.json"]
    cut = (
        {
            "before-manifest": manifest_at - 512,  # exactly before the manifest's header
            "inside-manifest": manifest_at + manifest_size // 2,
        }.get(keep)
        if isinstance(keep, str)
        else int(size * keep)
    )
    backup.write_bytes(backup.read_bytes()[:cut])

    _assert_refused(backup, tmp_path / "restored", "truncated")


@pytest.mark.parametrize("member", ["artifact", "table", "home"])
def test_a_tampered_member_is_refused_by_its_hash(sqlite_world: World, tmp_path: Path, member: str) -> None:
    backup = _backup(sqlite_world)
    offsets = _offsets(backup)
    name = next(
        n
        for n in offsets
        if n.startswith({"artifact": "artifacts/", "table": "tables/", "home": "home/"}[member])
        and offsets[n][1]
    )
    _flip(backup, offsets[name][0] + offsets[name][1] // 2)

    _assert_refused(backup, tmp_path / "restored", name, "does not match its hash")


def test_a_member_added_or_removed_is_refused(sqlite_world: World, tmp_path: Path) -> None:
    backup = _backup(sqlite_world)
    added = tmp_path / "added.tar"
    added.write_bytes(backup.read_bytes())
    _rewrite(added, lambda _name: True, {"artifacts/default/1/extra.bin": b"slipped in"})
    _assert_refused(added, tmp_path / "a", "does not list")

    _rewrite(backup, lambda name: not name.endswith("model.pkl"))
    _assert_refused(backup, tmp_path / "b", "missing", "model.pkl")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"not a tar file at all" * 100, ("not a Shipyard backup",)),
        (None, ("another format",)),
    ],
)
def test_a_file_that_is_not_a_shipyard_backup_is_refused(
    tmp_path: Path, content: bytes | None, words: tuple[str, ...]
) -> None:
    path = tmp_path / "x.tar"
    if content is None:
        with tarfile.open(path, "w") as tar:
            data = json.dumps({"format": "something-else"}).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    else:
        path.write_bytes(content)
    _assert_refused(path, tmp_path / "restored", *words)


# -- bad input: the target -----------------------------------------------------------------


def test_a_home_that_holds_anything_is_refused_unless_forced(sqlite_world: World, tmp_path: Path) -> None:
    backup = _backup(sqlite_world)
    home = tmp_path / "busy"
    (home / "envs" / "abc").mkdir(parents=True)
    (home / "envs" / "abc" / "python").write_text("built")
    (home / "shipyard.db").write_text("an older database")
    (home / "jobs").mkdir()

    with pytest.raises(Conflict) as refused:
        restore_backup(backup, home, say=quiet)
    assert "not empty" in refused.value.message and "--force" in refused.value.message
    assert (home / "shipyard.db").read_text() == "an older database"

    restore_backup(backup, home, force=True, say=quiet)
    assert sorted(p.name for p in home.iterdir()) == ["artifacts", "envs", "secret.key", "shipyard.db"]
    assert (home / "envs" / "abc" / "python").read_text() == "built"  # the cache is kept
    assert dump_all(_sqlite(home))["runs"] == dump_all(sqlite_world.url)["runs"]


def test_a_failure_after_staging_leaves_the_home_as_it_was(
    sqlite_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backup = _backup(sqlite_world)
    home = tmp_path / "home"
    home.mkdir()
    (home / "shipyard.db").write_text("the old database")
    (home / "artifacts").mkdir()
    (home / "artifacts" / "old.bin").write_text("old")

    def disk_full(_src: object, _dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backup_store.os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        restore_backup(backup, home, force=True, say=quiet)

    assert sorted(p.name for p in home.iterdir()) == ["artifacts", "shipyard.db"]
    assert (home / "shipyard.db").read_text() == "the old database"
    assert [p.name for p in (home / "artifacts").iterdir()] == ["old.bin"]


def test_a_database_a_server_uses_is_refused_even_when_forced(sqlite_world: World, tmp_path: Path) -> None:
    backup = _backup(sqlite_world)
    home = tmp_path / "live"
    restore_backup(backup, home, say=quiet)
    claim = HostClaim(home / "shipyard.db")
    # The claim of a live process of this machine: as a server started from another shell.
    claim.path.parent.mkdir(parents=True, exist_ok=True)
    claim.path.write_text(
        json.dumps(
            {
                "machine": {
                    "machine_id": claim.me.machine_id,
                    "boot_id": claim.me.boot_id,
                    "hostname": claim.me.hostname,
                },
                "pid": os.getppid(),
                "beat": 9e12,
            }
        )
    )
    try:
        with pytest.raises(Conflict, match="in use by a server"):
            restore_backup(backup, home, force=True, say=quiet)
    finally:
        claim.path.unlink()


def test_a_tampered_file_leaves_a_forced_postgresql_target_untouched(
    world: World, pg_database_url: str, tmp_path: Path
) -> None:
    backup = _backup(world)
    restore_backup(backup, tmp_path / "first", database_url=pg_database_url, say=quiet)
    held = dump_all(pg_database_url)
    offsets = _offsets(backup)
    name = next(n for n in offsets if n.startswith("tables/") and n.endswith("metric_points.jsonl.gz"))
    _flip(backup, offsets[name][0] + 10)

    with pytest.raises(InvalidBackup):
        restore_backup(backup, tmp_path / "second", database_url=pg_database_url, force=True, say=quiet)
    assert dump_all(pg_database_url) == held

    with pytest.raises(Conflict, match="already holds data"):
        restore_backup(
            _backup(world, "again.tar"), tmp_path / "third", database_url=pg_database_url, say=quiet
        )


# -- migrate ---------------------------------------------------------------------------------


def test_migrate_moves_a_laptop_workspace_to_postgresql_with_its_artifacts(
    sqlite_world: World, pg_database_url: str, tmp_path: Path
) -> None:
    before = dump_all(sqlite_world.url)
    team = tmp_path / "team-artifacts"

    summary = migrate_database(
        sqlite_world.url,
        pg_database_url,
        from_artifacts=str(sqlite_world.artifacts),
        to_artifacts=str(team),
        say=quiet,
    )

    assert dump_all(pg_database_url) == before
    assert file_hashes(team) == _expected_files(sqlite_world)
    assert summary.artifacts == len(_expected_files(sqlite_world))


def test_migrate_refuses_a_target_that_holds_data(
    world: World, sqlite_template: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target.db"
    target.write_bytes(sqlite_template.read_bytes())
    db = SqlDatabase(f"sqlite:///{target}")
    TrackingService(db).bootstrap()
    db.close()
    held = dump_all(f"sqlite:///{target}")

    with pytest.raises(Conflict) as refused:
        migrate_database(world.url, f"sqlite:///{target}", say=quiet)
    assert "already holds data" in refused.value.message and "workspaces: 1" in refused.value.message
    assert dump_all(f"sqlite:///{target}") == held


def test_migrate_refuses_unclear_arguments(sqlite_world: World, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="same database"):
        migrate_database(sqlite_world.url, sqlite_world.url, say=quiet)
    with pytest.raises(InvalidArgument, match="both --from-artifacts and --to-artifacts"):
        migrate_database(sqlite_world.url, f"sqlite:///{tmp_path / 'x.db'}", from_artifacts="a", say=quiet)
    with pytest.raises(InvalidArgument, match="sqlite:/// or postgresql"):
        migrate_database(sqlite_world.url, "mysql://x/y", say=quiet)


# -- gc -----------------------------------------------------------------------------------


def _age(world: World, keys: frozenset[str], seconds: float) -> None:
    for key in keys:
        path = world.artifacts / key
        stamp = path.stat().st_mtime - seconds
        os.utime(path, (stamp, stamp))


def test_gc_removes_exactly_what_no_record_points_to(sqlite_world: World) -> None:
    everything = file_hashes(sqlite_world.artifacts)
    _age(sqlite_world, sqlite_world.garbage, 7200)

    dry = garbage_collect(_settings(sqlite_world), min_age_s=3600, dry_run=True, say=quiet)
    assert {i.key for i in dry.removed} == sqlite_world.garbage
    assert file_hashes(sqlite_world.artifacts) == everything

    done = garbage_collect(_settings(sqlite_world), min_age_s=3600, dry_run=False, say=quiet)
    assert {i.key for i in done.removed} == sqlite_world.garbage
    assert file_hashes(sqlite_world.artifacts) == {
        k: v for k, v in everything.items() if k not in sqlite_world.garbage
    }
    assert done.kept == {"referenced": len(_expected_files(sqlite_world)) - 1, "cache": 1, "other": 1}
    engine = create_engine(sqlite_world.url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT action FROM audit_log ORDER BY seq DESC LIMIT 1")).scalar() == "gc"
    engine.dispose()


def test_gc_keeps_unreferenced_files_younger_than_the_minimum_age(sqlite_world: World) -> None:
    everything = file_hashes(sqlite_world.artifacts)
    done = garbage_collect(_settings(sqlite_world), min_age_s=3600, dry_run=False, say=quiet)
    assert done.removed == [] and done.young == len(sqlite_world.garbage)
    assert file_hashes(sqlite_world.artifacts) == everything


def test_a_restore_reads_no_database_setting_from_the_environment(
    sqlite_world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An exported SHIPYARD_DATABASE_URL is another server's: a restore must not write there."""
    backup = _backup(sqlite_world)
    monkeypatch.setenv("SHIPYARD_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/production")
    monkeypatch.setenv("SHIPYARD_ARTIFACTS", str(tmp_path / "production-artifacts"))
    restore_backup(backup, tmp_path / "restored", say=quiet)
    assert (tmp_path / "restored" / "shipyard.db").is_file() and (
        tmp_path / "restored" / "artifacts"
    ).is_dir()
    assert not (tmp_path / "production-artifacts").exists()


@pytest.mark.parametrize("kind", ["local", "fsspec"])
def test_artifact_stores_say_when_each_file_was_written(kind: str, tmp_path: Path) -> None:
    """gc's minimum age needs it: a file of unknown age is never removed while one is set."""
    from shipyard.stores.artifacts.fsspec_store import FsspecArtifactStore
    from shipyard.stores.artifacts.local import LocalArtifactStore

    store = (
        LocalArtifactStore(tmp_path / "store")
        if kind == "local"
        else FsspecArtifactStore(f"memory://gc-{uuid.uuid4().hex}", staging_dir=tmp_path)
    )
    before = time.time()
    with store.staging_file() as (staged, handle):
        handle.write(b"x")
        handle.flush()
        store.put("a/b.txt", staged)
    (info,) = store.list("")
    assert info.key == "a/b.txt" and info.modified is not None
    assert before - 2 <= info.modified <= time.time() + 2
