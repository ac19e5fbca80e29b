"""The code snapshot: ignore files like git's, a stable digest, a size limit that says what is big."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.errors import InvalidSpec
from shipyard.specs import scan_code

Write = Callable[[str, str], Path]


def _paths(folder: Path) -> list[str]:
    return [f.path for f in scan_code(folder).files]


def test_files_are_sorted_with_size_hash_and_executable_bit(tmp_path: Path, write: Write) -> None:
    write("src/b.py", "print('b')\n")
    run = write("src/a.sh", "#!/bin/sh\n")
    run.chmod(0o755)
    snap = scan_code(tmp_path / "src")
    assert [(f.path, f.size, f.executable) for f in snap.files] == [("a.sh", 10, True), ("b.py", 11, False)]
    assert snap.files[1].sha256 == hashlib.sha256(b"print('b')\n").hexdigest()
    assert snap.total_size == 21


def test_gitignore_and_amlignore_both_apply_and_git_dir_is_skipped(tmp_path: Path, write: Write) -> None:
    write(".gitignore", "*.log\nbuild/\n")
    write(".amlignore", "data/\n!keep.log\n")
    for name in ("train.py", "a.log", "keep.log", "build/x.py", "data/big.csv", ".git/HEAD", "sub/ok.py"):
        write(name, "x")
    assert _paths(tmp_path) == [".amlignore", ".gitignore", "keep.log", "sub/ok.py", "train.py"]


def test_nested_ignore_files_apply_below_their_folder_and_win(tmp_path: Path, write: Write) -> None:
    write(".gitignore", "*.csv\n")
    write("pkg/.gitignore", "!small.csv\n/local.txt\n")
    for name in (
        "a.csv",
        "pkg/small.csv",
        "pkg/other.csv",
        "pkg/local.txt",
        "pkg/deep/local.txt",
        "local.txt",
    ):
        write(name, "x")
    assert _paths(tmp_path) == [
        ".gitignore",
        "local.txt",
        "pkg/.gitignore",
        "pkg/deep/local.txt",
        "pkg/small.csv",
    ]


def test_files_inside_an_ignored_folder_cannot_be_re_included(tmp_path: Path, write: Write) -> None:
    write(".gitignore", "out/\n!out/keep.txt\n")
    write("out/keep.txt", "x")
    write("a.py", "x")
    assert _paths(tmp_path) == [".gitignore", "a.py"]


def test_digest_depends_on_content_not_on_mtimes_or_location(tmp_path: Path, write: Write) -> None:
    write("one/a.py", "a")
    write("one/sub/b.py", "b")
    write("two/sub/b.py", "b")
    write("two/a.py", "a")
    os.utime(tmp_path / "two/a.py", (1, 1))
    one, two = scan_code(tmp_path / "one"), scan_code(tmp_path / "two")
    assert one.digest == two.digest
    write("two/a.py", "A")
    assert scan_code(tmp_path / "two").digest != one.digest
    (tmp_path / "one/a.py").chmod(0o755)
    assert scan_code(tmp_path / "one").digest != one.digest
    write("one/a.py", "a")
    (tmp_path / "one/a.py").rename(tmp_path / "one/c.py")
    assert scan_code(tmp_path / "one").digest != one.digest


def test_symlinks_inside_are_followed_outside_refused(tmp_path: Path, write: Write) -> None:
    write("code/real.py", "x")
    (tmp_path / "code/link.py").symlink_to(tmp_path / "code/real.py")
    (tmp_path / "code/linkdir").symlink_to(tmp_path / "code")
    assert _paths(tmp_path / "code") == ["link.py", "real.py"]
    secret = write("secret.txt", "s")
    (tmp_path / "code/leak.txt").symlink_to(secret)
    with pytest.raises(
        InvalidSpec, match=r"'leak.txt' is a symlink to .*secret.txt, outside the code folder"
    ):
        scan_code(tmp_path / "code")


def test_an_ignored_outside_symlink_is_left_out(tmp_path: Path, write: Write) -> None:
    write("code/.amlignore", "leak\nbroken\n")
    (tmp_path / "code/leak").symlink_to("/etc")
    (tmp_path / "code/broken").symlink_to(tmp_path / "nowhere")
    assert _paths(tmp_path / "code") == [".amlignore"]
    (tmp_path / "code/.amlignore").unlink()
    (tmp_path / "code/leak").unlink()
    with pytest.raises(InvalidSpec, match="'broken' is a broken symlink"):
        scan_code(tmp_path / "code")


def test_size_limit_names_the_limit_the_total_and_the_largest_files(tmp_path: Path, write: Write) -> None:
    for i in range(7):
        write(f"f{i}.bin", "x" * (1000 * (i + 1)))
    with pytest.raises(InvalidSpec) as info:
        scan_code(tmp_path, size_limit=10_000)
    message = info.value.message
    assert "is 27.3 KiB, over the 9.8 KiB limit" in message
    assert (
        "largest files: f6.bin (6.8 KiB), f5.bin (5.9 KiB), f4.bin (4.9 KiB), f3.bin (3.9 KiB), f2.bin (2.9 KiB)"
        in (message)
    )
    assert "f1.bin" not in message
    assert ".amlignore" in message
    assert info.value.details["total_size"] == 28_000
    assert scan_code(tmp_path, size_limit=28_000).total_size == 28_000


def test_code_must_be_a_folder(tmp_path: Path, write: Write) -> None:
    with pytest.raises(InvalidSpec, match="is not a folder"):
        scan_code(write("a.py", "x"))
