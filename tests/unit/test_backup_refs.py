"""Which artifact keys the records point to: what a backup takes and what gc may remove."""

from __future__ import annotations

import hashlib
import json

from shipyard.domain.snapshots import SnapshotFile, blob_key, manifest_bytes, manifest_digest, snapshot_key
from shipyard.services import job_remote
from shipyard.services.backup_ports import ArtifactRoots
from shipyard.services.backup_refs import CACHE_PREFIXES, KeyKind, References, digests_in

RUN = "default/1/" + "a" * 32 + "/artifacts"
MODEL = "default/1/models/m-" + "b" * 32 + "/artifacts"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _snapshot(*contents: bytes) -> tuple[str, bytes]:
    files = [SnapshotFile(f"f{i}.txt", len(c), _sha(c)) for i, c in enumerate(contents)]
    return manifest_digest(files), manifest_bytes(files)


def _references(digests: set[str], listed: list[str], manifests: dict[str, bytes]) -> References:
    roots = ArtifactRoots(
        indexed={f"{RUN}/model.pkl": _sha(b"model")},
        owned=frozenset({MODEL}),
        keys=frozenset({"default/_logs/jobs/calm/0000000000000000.log"}),
        managed=frozenset({"default/1", "default/_logs"}),
    )

    def blobs_of(key: str) -> list[str]:
        return [f["sha256"] for f in json.loads(manifests[key])]

    return References.build(roots, digests, listed, blobs_of)


def test_each_kind_of_key_is_classified_by_the_record_that_names_it() -> None:
    code, manifest = _snapshot(b"print(1)", b"data")
    orphan_code, orphan_manifest = _snapshot(b"refused job")
    named_blob = _sha(b"a blob a spec names directly")
    keys = {
        f"{RUN}/model.pkl": KeyKind.REFERENCED,  # in the run's index
        f"{RUN}/half-uploaded.bin": KeyKind.UNREFERENCED,  # put, but the index never heard of it
        f"{MODEL}/MLmodel": KeyKind.REFERENCED,  # a logged model owns its folder
        "default/1/models/m-" + "c" * 32 + "/artifacts/MLmodel": KeyKind.UNREFERENCED,  # deleted model
        "default/_logs/jobs/calm/0000000000000000.log": KeyKind.REFERENCED,
        "default/_logs/jobs/calm/0000000000000042.log": KeyKind.UNREFERENCED,  # its row never written
        snapshot_key(code): KeyKind.REFERENCED,
        blob_key(_sha(b"print(1)")): KeyKind.REFERENCED,  # listed by a referenced manifest
        blob_key(_sha(b"data")): KeyKind.REFERENCED,
        blob_key(named_blob): KeyKind.REFERENCED,
        snapshot_key(orphan_code): KeyKind.UNREFERENCED,
        blob_key(_sha(b"refused job")): KeyKind.UNREFERENCED,
        "cache/remote-inputs/" + "d" * 64: KeyKind.CACHE,
        "_collected/default/ep/blue/model_inputs/2025/01/01/00/part.jsonl": KeyKind.OTHER,
        "default/7/" + "e" * 32 + "/artifacts/x": KeyKind.OTHER,  # an experiment newer than the snapshot
    }
    refs = _references(
        {code, named_blob, "f" * 64},
        list(keys),
        {snapshot_key(code): manifest, snapshot_key(orphan_code): orphan_manifest},
    )
    assert {key: refs.kind(key) for key in keys} == keys


def test_digests_are_found_inside_json_text_and_nowhere_else() -> None:
    digest = "0123456789abcdef" * 4
    rows = [
        (1, json.dumps({"code": digest, "inputs": {"x": {"path": f"snapshot:{digest[::-1]}"}}})),
        (2, "x" * 200),
        (3, "0" * 65),  # 65 hex characters: not a digest
        (4, None),
        (digest, "short"),  # a digest in a column not asked for
    ]
    assert digests_in(rows, [1]) == {digest, digest[::-1]}


def test_the_cache_prefix_is_the_one_remote_inputs_write() -> None:
    assert job_remote._CACHE_PREFIX + "/" in CACHE_PREFIXES
