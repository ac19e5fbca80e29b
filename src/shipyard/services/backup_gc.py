"""``shipyard gc``: remove the artifacts no record points to.

Mark and sweep, in an order that cannot take a live file: the store is listed first, the
references are read after (one snapshot), so a file whose record was committed meanwhile is
seen as referenced. What no snapshot can see is a file uploaded just before its record (an
artifact, a log chunk, the blobs of a snapshot a job is about to name): ``min_age_s`` keeps
every file younger than that. Only the families Shipyard manages are swept (see
:mod:`backup_refs`); collected data, caches and keys it does not know are never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from shipyard.services.backup_ports import MetadataStore
from shipyard.services.backup_refs import KeyKind, References, manifest_blobs, scan_digests
from shipyard.services.ports import ArtifactStore, ObjectInfo

__all__ = ["GarbageSummary", "collect_garbage"]


@dataclass(slots=True)
class GarbageSummary:
    dry_run: bool
    removed: list[ObjectInfo] = field(default_factory=list)
    """What was removed (with ``dry_run``: what would be)."""
    young: int = 0
    """Unreferenced but younger than the minimum age: kept this time."""
    kept: dict[str, int] = field(default_factory=dict)
    """Every other object, counted by kind (referenced, cache, other)."""

    @property
    def removed_bytes(self) -> int:
        return sum(info.size for info in self.removed)


def collect_garbage(
    metadata: MetadataStore,
    store: ArtifactStore,
    *,
    now_s: float,
    min_age_s: float,
    dry_run: bool = False,
    say: Callable[[str], None] = lambda _line: None,
) -> GarbageSummary:
    listed = list(store.list(""))
    say(f"listed {len(listed):,} objects; reading the references")
    with metadata.snapshot() as snapshot:
        digests = scan_digests(snapshot)
        roots = snapshot.artifact_roots()

    def read(key: str) -> bytes:
        with store.get(key) as handle:
            return handle.read()

    refs = References.build(roots, digests, (info.key for info in listed), manifest_blobs(read))
    summary = GarbageSummary(dry_run=dry_run)
    for info in listed:
        kind = refs.kind(info.key)
        if kind is not KeyKind.UNREFERENCED:
            summary.kept[kind.value] = summary.kept.get(kind.value, 0) + 1
        elif min_age_s > 0 and (info.modified is None or now_s - info.modified < min_age_s):
            summary.young += 1
        else:
            summary.removed.append(info)
    if not dry_run:
        for info in summary.removed:
            store.delete(info.key)
    return summary
