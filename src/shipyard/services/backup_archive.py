"""The backup file: a tar archive whose last member, ``manifest.json``, lists every other
member with its size and sha256.

    tables/001-workspaces.jsonl.gz    a table's rows: gzip, one JSON list of rows per line
    ...
    artifacts/<key>                   an artifact's bytes, at its key in the store
    home/secret.key                   the key that encrypts secrets; home/admin.token
    manifest.json                     format, schema revision, tables (columns, row counts),
                                      artifacts and home files, each with size and sha256

Written last, the manifest proves the file complete: a file cut short has none. Reading
checks every member against it before anything is restored, and refuses a member it does
not list, a member it lists that is missing, or bytes whose hash differs. The hashes find
damage and tampering by anyone who did not also rewrite the manifest; keep backups where
only you can write them.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import os
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

import orjson

from shipyard.domain.paths import clean_relative_path
from shipyard.errors import Conflict, InvalidBackup, InvalidPath, ShipyardError
from shipyard.services.backup_ports import Row, Rows, TableSpec

__all__ = [
    "ARTIFACTS",
    "FORMAT",
    "HOME",
    "MANIFEST",
    "ArchiveReader",
    "ArchiveTables",
    "ArchiveWriter",
    "Manifest",
    "Member",
    "TableEntry",
    "check_key",
    "write_rows",
]

FORMAT = "shipyard-backup"
VERSION = 1
MANIFEST = "manifest.json"
ARTIFACTS = "artifacts/"
HOME = "home/"
_CHUNK = 1 << 20
_MAX_MANIFEST = 1 << 30  # a million artifacts take ~200 MB of manifest


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class TableEntry:
    name: str
    columns: list[str]
    text: list[str]
    rows: int
    member: Member
    floats: list[str] = field(default_factory=list)

    @property
    def spec(self) -> TableSpec:
        return TableSpec(self.name, tuple(self.columns), tuple(self.text), tuple(self.floats))


@dataclass(slots=True)
class Manifest:
    created_ms: int
    shipyard: str
    source: str  # sqlite or postgresql
    revision: str
    tables: list[TableEntry] = field(default_factory=list)
    artifacts: list[Member] = field(default_factory=list)  # name: the key, not the member name
    home: list[Member] = field(default_factory=list)  # name: the file's name in the home
    notes: list[str] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        body = {"format": FORMAT, "version": VERSION, **asdict(self)}
        return json.dumps(body, indent=1, sort_keys=True).encode()

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        try:
            body = json.loads(data)
            if body.get("format") != FORMAT:
                raise InvalidBackup("this is not a Shipyard backup (its manifest names another format)")
            if body.get("version") != VERSION:
                raise InvalidBackup(
                    f"backup format version {body.get('version')!r}: this Shipyard reads version {VERSION}"
                )
            return cls(
                created_ms=int(body["created_ms"]),
                shipyard=str(body["shipyard"]),
                source=str(body["source"]),
                revision=str(body["revision"]),
                tables=[
                    TableEntry(
                        name=str(t["name"]),
                        columns=[str(c) for c in t["columns"]],
                        text=[str(c) for c in t["text"]],
                        rows=int(t["rows"]),
                        member=Member(**t["member"]),
                        floats=[str(c) for c in t.get("floats", [])],
                    )
                    for t in body["tables"]
                ],
                artifacts=[Member(**a) for a in body["artifacts"]],
                home=[Member(**h) for h in body["home"]],
                notes=[str(n) for n in body.get("notes", [])],
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidBackup(f"the backup's manifest is damaged: {exc}") from None

    def members(self) -> dict[str, Member]:
        """Every member the archive must hold besides the manifest, by member name."""
        out = {t.member.name: t.member for t in self.tables}
        out.update({ARTIFACTS + a.name: Member(ARTIFACTS + a.name, a.size, a.sha256) for a in self.artifacts})
        out.update({HOME + h.name: Member(HOME + h.name, h.size, h.sha256) for h in self.home})
        return out


class _Hashing(io.RawIOBase):
    """Reads from ``inner``, hashing and counting what passes."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data


def _finite(chunk: list[Row], positions: list[int]) -> bool:
    return all(all(map(math.isfinite, [row[i] for row in chunk if row[i] is not None])) for i in positions)


def write_rows(path: Path, chunks: Iterator[list[Row]], floats: Sequence[int] = ()) -> int:
    """A table's rows as gzip'd JSON lines, one chunk per line; returns the row count.

    orjson writes a chunk ~5x faster than ``json`` but spells ±inf ``null``; a chunk with an
    infinite value in a ``floats`` column goes through ``json``, which writes ``Infinity``.
    """
    rows = 0
    where = list(floats)
    with gzip.open(path, "wb", compresslevel=1) as out:
        for chunk in chunks:
            if _finite(chunk, where):
                out.write(orjson.dumps(chunk))
            else:
                out.write(json.dumps(chunk, separators=(",", ":")).encode())
            out.write(b"\n")
            rows += len(chunk)
    return rows


def _parse(line: bytes) -> list[Row]:
    try:
        return orjson.loads(line)  # type: ignore[no-any-return]
    except orjson.JSONDecodeError:
        return json.loads(line)  # type: ignore[no-any-return]  # Infinity: see write_rows


class ArchiveWriter:
    """Writes ``dest`` as ``.<name>.partial-*`` beside it, renamed into place by :meth:`finish`:
    a file at ``dest`` is always whole."""

    def __init__(self, dest: Path) -> None:
        if dest.exists():
            raise Conflict(f"{dest} already exists: name a new file, or delete that one first")
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.dest = dest
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.partial-")
        self.partial = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._tar = tarfile.open(fileobj=self._file, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        self._now = time.time()

    def add(self, name: str, reader: IO[bytes], size: int) -> Member:
        """Copy exactly ``size`` bytes of ``reader`` in as ``name``, hashing them."""
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = int(self._now)
        info.mode = 0o600
        hashing = _Hashing(reader)
        try:
            self._tar.addfile(info, hashing)
        except OSError as exc:  # tarfile's "unexpected end of data": the source shrank
            raise OSError(f"{name}: the source changed while it was copied ({exc})") from exc
        return Member(name, size, hashing.digest.hexdigest())

    def add_file(self, name: str, path: Path) -> Member:
        with path.open("rb") as handle:
            return self.add(name, handle, os.fstat(handle.fileno()).st_size)

    def add_bytes(self, name: str, data: bytes) -> Member:
        return self.add(name, io.BytesIO(data), len(data))

    def finish(self, manifest: Manifest) -> None:
        self.add_bytes(MANIFEST, manifest.to_bytes())
        self._tar.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.chmod(self.partial, 0o600)  # it holds every record, keys and tokens included
        os.replace(self.partial, self.dest)

    def abort(self) -> None:
        try:
            self._tar.close()
            self._file.close()
        finally:
            self.partial.unlink(missing_ok=True)


class _Guarded(io.RawIOBase):
    """A member's reader whose failures (the file ends inside the member) say so plainly."""

    def __init__(self, inner: IO[bytes], path: Path) -> None:
        self.inner = inner
        self.path = path

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self.inner.read(size)
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise InvalidBackup(f"{self.path} is truncated or damaged: {exc}") from None


class ArchiveReader:
    """Reads a backup file front to back (it may be a stream): :meth:`verify` checks every
    member against the manifest; :meth:`members` then hands them over one by one."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise InvalidBackup(f"{path}: no such file")
        self.path = path

    def _open(self) -> tarfile.TarFile:
        try:
            return tarfile.open(self.path, mode="r|*")  # a backup gzip'd afterwards reads as well
        except tarfile.TarError as exc:
            raise InvalidBackup(f"{self.path} is not a Shipyard backup (not a tar archive: {exc})") from None

    def verify(self) -> Manifest:
        """The manifest, once every member is proven to be what it lists."""
        seen: dict[str, Member] = {}
        manifest_bytes: bytes | None = None
        for info, reader in self._walk():
            if info.name == MANIFEST:
                if info.size > _MAX_MANIFEST:
                    raise InvalidBackup(f"the manifest is {info.size} bytes: not one Shipyard writes")
                manifest_bytes = reader.read()
                continue
            hashing = _Hashing(reader)
            while hashing.read(_CHUNK):
                pass
            seen[info.name] = Member(info.name, hashing.size, hashing.digest.hexdigest())
        if manifest_bytes is None:
            raise InvalidBackup(
                f"{self.path} is truncated: it ends before its manifest, which a backup writes last"
            )
        manifest = Manifest.parse(manifest_bytes)
        _compare(manifest.members(), seen)
        return manifest

    def members(self) -> Iterator[tuple[str, IO[bytes]]]:
        """Each member but the manifest, as (name, reader), in the order written."""
        for info, reader in self._walk():
            if info.name != MANIFEST:
                yield info.name, reader

    def _walk(self) -> Iterator[tuple[tarfile.TarInfo, IO[bytes]]]:
        names: set[str] = set()
        try:
            with self._open() as tar:
                for info in tar:
                    if not info.isreg():
                        raise InvalidBackup(
                            f"member {info.name!r} is not a regular file: not a Shipyard backup"
                        )
                    if info.name in names:
                        raise InvalidBackup(f"member {info.name!r} appears twice: the file was altered")
                    names.add(info.name)
                    reader = tar.extractfile(info)
                    assert reader is not None  # a regular file always has one
                    yield info, _Guarded(reader, self.path)  # type: ignore[misc]
        except ShipyardError:
            raise
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise InvalidBackup(f"{self.path} is truncated or damaged: {exc}") from None


def _compare(expected: dict[str, Member], seen: dict[str, Member]) -> None:
    extra = sorted(set(seen) - set(expected))
    if extra:
        raise InvalidBackup(
            f"the file holds {len(extra)} member(s) its manifest does not list, e.g. {extra[0]!r}"
        )
    missing = sorted(set(expected) - set(seen))
    if missing:
        raise InvalidBackup(f"{len(missing)} member(s) of the manifest are missing, e.g. {missing[0]!r}")
    for name, want in expected.items():
        got = seen[name]
        if (got.size, got.sha256) != (want.size, want.sha256):
            raise InvalidBackup(
                f"{name!r} does not match its hash in the manifest (sha256 {got.sha256[:16]}…, expected"
                f" {want.sha256[:16]}…): the file is damaged or was altered"
            )


def check_key(key: str) -> str:
    """An artifact key from a manifest, refused unless it is a plain relative path."""
    try:
        return clean_relative_path(key)
    except InvalidPath:
        raise InvalidBackup(
            f"artifact key {key[:200]!r} is not a plain relative path: the file was altered"
        ) from None


class ArchiveTables(Rows):
    """The tables of a verified backup, read from the members staged in ``folder``."""

    def __init__(self, manifest: Manifest, folder: Path) -> None:
        self.kind = manifest.source
        self.revision = manifest.revision
        self.entries = {t.name: t for t in manifest.tables}
        self.folder = folder

    def tables(self) -> list[TableSpec]:
        return [entry.spec for entry in self.entries.values()]

    def path(self, member: str) -> Path:
        return self.folder / member.replace("/", "_")

    def chunks(self, table: TableSpec, columns: Sequence[str] | None = None) -> Iterator[list[Row]]:
        entry = self.entries[table.name]
        picks = None if columns is None else [entry.columns.index(c) for c in columns]
        rows = 0
        try:
            with gzip.open(self.path(entry.member.name), "rb") as lines:
                for line in lines:
                    chunk = _parse(line)
                    rows += len(chunk)
                    yield chunk if picks is None else [[row[i] for i in picks] for row in chunk]
        except (OSError, ValueError, zlib.error) as exc:
            raise InvalidBackup(f"table {table.name!r} of the backup cannot be read: {exc}") from None
        if rows != entry.rows:
            raise InvalidBackup(f"table {table.name!r} holds {rows} rows; its manifest says {entry.rows}")
