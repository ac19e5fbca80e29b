"""What git says about a folder — through the ``git`` command, when it is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GitInfo", "git_info", "project_root"]

_TIMEOUT = 10.0


@dataclass(frozen=True)
class GitInfo:
    """``commit`` is None in a repository without commits; ``branch`` None on a detached HEAD."""

    root: Path
    commit: str | None
    branch: str | None
    dirty: bool
    remote_url: str | None


def _git(folder: Path, *args: str) -> str | None:
    exe = shutil.which("git")
    if exe is None:
        return None
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            [exe, "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _work_tree(folder: Path) -> Path | None:
    top = _git(folder, "rev-parse", "--show-toplevel")
    return Path(top).resolve() if top else None


def git_info(folder: Path) -> GitInfo | None:
    """Commit, branch, dirtiness and origin URL of the work tree holding ``folder``; None outside one."""
    root = _work_tree(folder)
    if root is None:
        return None
    status = _git(folder, "status", "--porcelain", "--untracked-files=normal")
    return GitInfo(
        root=root,
        commit=_git(folder, "rev-parse", "--verify", "-q", "HEAD") or None,
        branch=_git(folder, "symbolic-ref", "--short", "-q", "HEAD") or None,
        dirty=bool(status),
        remote_url=_git(folder, "config", "--get", "remote.origin.url") or None,
    )


def project_root(spec_file: Path) -> Path:
    """The git work tree holding the spec file, or the file's folder when it is in none."""
    folder = spec_file.resolve().parent
    return _work_tree(folder) or folder
