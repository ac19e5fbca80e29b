"""The code snapshot of a job: which files of the ``code`` folder go, and a digest of their content.

Rules, like git's: ``.gitignore`` and ``.amlignore`` are both honoured (their patterns add up),
in every folder, each applying below its own folder, the deeper file deciding first; an ignored
folder is not entered; ``.git/`` is always skipped. A symlink is followed when it stays inside
the folder (a linked folder is skipped: its target is in the snapshot already) and refused
when it points outside. The digest depends only on paths, contents and executable bits —
not on mtimes or on the order of the scan — so the same code is stored once.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec

from shipyard.errors import InvalidSpec

__all__ = ["DEFAULT_SIZE_LIMIT", "IGNORE_FILES", "Snapshot", "SnapshotFile", "scan_code"]

DEFAULT_SIZE_LIMIT = 100 * 1024 * 1024
IGNORE_FILES = (".gitignore", ".amlignore")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class SnapshotFile:
    path: str  # relative, posix
    size: int
    sha256: str
    executable: bool


@dataclass(frozen=True)
class Snapshot:
    root: Path
    files: tuple[SnapshotFile, ...]
    digest: str
    total_size: int


@dataclass(frozen=True)
class _Rules:
    base: str  # folder of the ignore files, relative posix ("" for the root)
    spec: GitIgnoreSpec


def scan_code(folder: Path, size_limit: int = DEFAULT_SIZE_LIMIT) -> Snapshot:
    """Scan ``folder`` into a sorted manifest; past ``size_limit`` bytes, an InvalidSpec."""
    root = folder.resolve()
    if not root.is_dir():
        raise InvalidSpec(f"code '{folder}' is not a folder", field="code")
    found = _collect(root)
    total = sum(size for _, _, size in found)
    if total > size_limit:
        raise _too_large(folder, found, total, size_limit)
    files = tuple(
        SnapshotFile(path=rel, size=size, sha256=_sha256(real), executable=_executable(real))
        for rel, real, size in sorted(found)
    )
    manifest = hashlib.sha256()
    for f in files:
        manifest.update(f"{f.path}\0{f.size}\0{f.sha256}\0{int(f.executable)}\n".encode())
    return Snapshot(root=root, files=files, digest=manifest.hexdigest(), total_size=total)


def _collect(root: Path) -> list[tuple[str, Path, int]]:
    """(relative posix path, real path, size) of every file that goes into the snapshot."""
    found: list[tuple[str, Path, int]] = []
    stack: list[tuple[Path, str, tuple[_Rules, ...]]] = [(root, "", ())]
    while stack:
        directory, rel_dir, rules = stack.pop()
        rules = (*rules, *_rules_in(directory, rel_dir))
        with os.scandir(directory) as entries:
            for entry in entries:
                rel = f"{rel_dir}{entry.name}"
                if entry.name == ".git":
                    continue
                is_dir = entry.is_dir()  # follows a symlink, as git's matching of "dir/" does
                if _ignored(rules, rel, is_dir):
                    continue
                is_link = entry.is_symlink()
                real = Path(entry.path).resolve() if is_link else Path(entry.path)
                if is_link:
                    _check_link(root, rel, real)
                if is_dir:
                    if not is_link:
                        stack.append((Path(entry.path), f"{rel}/", rules))
                elif real.is_file():
                    found.append((rel, real, real.stat().st_size))
    return found


def _rules_in(directory: Path, rel_dir: str) -> list[_Rules]:
    lines: list[str] = []
    for name in IGNORE_FILES:
        path = directory / name
        if path.is_file():
            lines.extend(path.read_text(encoding="utf-8", errors="replace").splitlines())
    return [_Rules(base=rel_dir, spec=GitIgnoreSpec.from_lines(lines))] if lines else []


def _ignored(rules: tuple[_Rules, ...], rel: str, is_dir: bool) -> bool:
    for r in reversed(rules):  # the deepest ignore file decides first, as in git
        candidate = rel[len(r.base) :] + ("/" if is_dir else "")
        decision = r.spec.check_file(candidate).include
        if decision is not None:
            return decision
    return False


def _check_link(root: Path, rel: str, real: Path) -> None:
    if not real.exists():
        raise InvalidSpec(f"code: '{rel}' is a broken symlink", field="code")
    if not real.is_relative_to(root):
        raise InvalidSpec(
            f"code: '{rel}' is a symlink to {real}, outside the code folder {root}; "
            "copy the file in or add the link to .amlignore",
            field="code",
        )


def _too_large(folder: Path, found: list[tuple[str, Path, int]], total: int, limit: int) -> InvalidSpec:
    largest = sorted(found, key=lambda item: item[2], reverse=True)[:5]
    listing = ", ".join(f"{rel} ({_human(size)})" for rel, _, size in largest)
    return InvalidSpec(
        f"code '{folder}' is {_human(total)}, over the {_human(limit)} limit; largest files: {listing}. "
        "Exclude data and outputs with .amlignore or .gitignore, and pass data as inputs",
        field="code",
        total_size=total,
        size_limit=limit,
        largest=[rel for rel, _, _ in largest],
    )


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _executable(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IXUSR)
