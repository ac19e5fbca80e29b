"""The backup commands' refusals as a person sees them: one line with the code, a hint where
there is a next step, exit status 1 (2 for a bad command line), never a traceback."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path


def _shipyard(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shipyard", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_refusals_say_what_to_do_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    made = _shipyard("backup", "create", "--home", "data", "--to", "b.tar", cwd=tmp_path)
    assert made.returncode == 1 and made.stderr.startswith("error: there is no database at "), made.stderr
    assert list((tmp_path / "data").iterdir()) == []  # a refused command leaves nothing behind

    with tarfile.open(tmp_path / "cut.tar", "w") as tar:  # the tables came, the manifest never did
        info = tarfile.TarInfo("tables/001-workspaces.jsonl.gz")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    cut = _shipyard("backup", "restore", "cut.tar", "--home", "restored", cwd=tmp_path)
    assert cut.returncode == 1, cut.stderr
    assert cut.stderr.splitlines() == [
        "error: cut.tar is truncated: it ends before its manifest, which a backup writes last (INVALID_BACKUP)",
        "hint: `shipyard backup verify FILE` checks a file without restoring it",
    ]
    assert not (tmp_path / "restored").exists()

    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "shipyard.db").write_text("x")
    busy = _shipyard("backup", "restore", "cut.tar", "--home", "busy", cwd=tmp_path)
    assert busy.returncode == 1 and busy.stderr.rstrip().endswith("(CONFLICT)"), busy.stderr
    assert "--force" in busy.stderr and "hint:" not in busy.stderr

    same = _shipyard("migrate", "--from", "sqlite:///a.db", "--to", "sqlite:///a.db", cwd=tmp_path)
    assert same.returncode == 1 and "(INVALID_ARGUMENT)" in same.stderr, same.stderr

    bad_age = _shipyard("gc", "--min-age", "soon", "--home", "data", cwd=tmp_path)
    assert bad_age.returncode == 2 and "not a duration" in bad_age.stderr, bad_age.stderr
    for done in (made, cut, busy, same, bad_age):
        assert "Traceback" not in done.stderr
