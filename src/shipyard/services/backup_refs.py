"""Which artifact keys the metadata points to: what a backup takes and what gc may remove.

Every key of the artifact store is one of four kinds:

``referenced``
    a run's artifact that its index lists, a file under the root of a logged model (its
    files are not indexed: the model owns its folder), a log chunk its row names, or a
    content-addressed blob or snapshot manifest that a record names (see below);
``unreferenced``
    in a family Shipyard manages — an experiment's folder, a workspace's ``_logs/``,
    ``_cas/``, ``_snapshots/`` — and pointed to by nothing: left behind by an upload that
    never reached the index, a log chunk whose row was never written, a logged model
    deleted, a snapshot uploaded for a job that was refused;
``cache``
    a cache that refills itself (``cache/remote-inputs/``: downloads of remote job inputs);
``other``
    anything else (collected scoring data under ``_collected/``, keys of a newer Shipyard):
    never Shipyard's to delete, and always backed up.

Snapshot digests and blob hashes hide in JSON specs (a job's code, its uploaded inputs, a
deployment's model, a data asset's path), so rather than know every spec's shape, any 64-hex
word in any text column counts as a reference: a snapshot manifest so named is referenced,
and so are the blobs it lists and any blob so named. It may keep a blob a record names by
chance; it never drops one a record needs.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shipyard.domain.snapshots import BLOB_PREFIX, SNAPSHOT_PREFIX, blob_key, parse_manifest
from shipyard.services.backup_ports import ArtifactRoots, MetadataSnapshot, Row, TableSpec

__all__ = ["CACHE_PREFIXES", "KeyKind", "References", "digests_in", "manifest_blobs", "scan_digests"]

CACHE_PREFIXES = ("cache/remote-inputs/",)
_DIGEST = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
_SNAPSHOT_KEY = re.compile(rf"^{SNAPSHOT_PREFIX}/([0-9a-f]{{64}})\.json$")


class KeyKind(enum.StrEnum):
    REFERENCED = "referenced"
    UNREFERENCED = "unreferenced"
    CACHE = "cache"
    OTHER = "other"


def digests_in(rows: Iterable[Row], positions: Iterable[int]) -> set[str]:
    """Every 64-hex word in the given columns of ``rows``."""
    found: set[str] = set()
    where = list(positions)
    for row in rows:
        for i in where:
            value = row[i]
            if isinstance(value, str) and len(value) >= 64:
                found.update(_DIGEST.findall(value))
    return found


def scan_digests(snapshot: MetadataSnapshot, tables: Iterable[TableSpec] | None = None) -> set[str]:
    """:func:`digests_in` over every text column of the snapshot (only those columns are read)."""
    found: set[str] = set()
    for spec in snapshot.tables() if tables is None else tables:
        if spec.text:
            for chunk in snapshot.chunks(spec, spec.text):
                found |= digests_in(chunk, range(len(spec.text)))
    return found


def _ancestors(key: str) -> Iterable[str]:
    end = key.rfind("/")
    while end > 0:
        yield key[:end]
        end = key.rfind("/", 0, end)


@dataclass(frozen=True, slots=True)
class References:
    roots: ArtifactRoots
    keys: frozenset[str]
    """Blobs and snapshot manifests that records name, directly or through a manifest."""

    @classmethod
    def build(
        cls,
        roots: ArtifactRoots,
        digests: set[str],
        listed: Iterable[str],
        blobs_of: Callable[[str], list[str]],
    ) -> References:
        """``listed``: the store's keys; ``blobs_of(manifest key)``: the hashes it lists."""
        keys: set[str] = set()
        for key in listed:
            if key.startswith(BLOB_PREFIX + "/"):
                if key.rsplit("/", 1)[-1] in digests:
                    keys.add(key)
                continue
            match = _SNAPSHOT_KEY.match(key)
            if match and match.group(1) in digests:
                keys.add(key)
                keys.update(blob_key(sha) for sha in blobs_of(key))
        return cls(roots, frozenset(keys))

    def kind(self, key: str) -> KeyKind:
        managed = False
        for prefix in _ancestors(key):
            if prefix in self.roots.owned:
                return KeyKind.REFERENCED
            managed = managed or prefix in self.roots.managed
        if key in self.roots.indexed or key in self.roots.keys:
            return KeyKind.REFERENCED
        if managed:
            return KeyKind.UNREFERENCED
        if key.startswith((BLOB_PREFIX + "/", SNAPSHOT_PREFIX + "/")):
            return KeyKind.REFERENCED if key in self.keys else KeyKind.UNREFERENCED
        if key.startswith(CACHE_PREFIXES):
            return KeyKind.CACHE
        return KeyKind.OTHER


def manifest_blobs(read: Callable[[str], bytes]) -> Callable[[str], list[str]]:
    """``blobs_of`` for :meth:`References.build` from a function reading a key's bytes."""

    def blobs_of(key: str) -> list[str]:
        return [file.sha256 for file in parse_manifest(read(key))]

    return blobs_of
