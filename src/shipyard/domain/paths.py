"""Normalise and confine client-supplied artifact paths.

Every path a client sends is relative to some root it must never leave. We refuse rather
than repair anything ambiguous: a refused upload is a clear 400, a repaired one may land
somewhere the user did not mean.
"""

from __future__ import annotations

import re

from shipyard.errors import InvalidPath

__all__ = ["MAX_NAME_LENGTH", "MAX_PATH_LENGTH", "clean_relative_path", "join_key"]

MAX_PATH_LENGTH = 1024
MAX_NAME_LENGTH = 255  # one folder or file name: what common file systems allow
_ENCODED = re.compile(r"%[0-9a-fA-F]{2}")
_DRIVE = re.compile(r"^[A-Za-z]:")


def clean_relative_path(path: str, *, allow_empty: bool = False) -> str:
    """Return ``path`` as a clean ``a/b/c`` key, or raise :class:`InvalidPath` saying why.

    Refused: NUL and control bytes, backslashes, absolute paths, drive letters, ``..``
    segments, and percent-encoded bytes (a path reaching us still encoded was encoded twice,
    the classic way to smuggle ``%2e%2e%2f`` past a decoder). ``.`` and empty segments are
    dropped.
    """
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidPath(f"path is longer than {MAX_PATH_LENGTH} characters", path=path[:64])
    if any(ord(ch) < 32 for ch in path):
        raise InvalidPath("path contains a NUL or control character", path=path)
    if "\\" in path:
        raise InvalidPath("path contains a backslash; use '/' to separate folders", path=path)
    if _ENCODED.search(path):
        raise InvalidPath("path contains percent-encoded bytes; send it decoded once", path=path)
    if path.startswith("/") or path.startswith("~") or _DRIVE.match(path):
        raise InvalidPath("path must be relative to the run's artifact root", path=path)
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidPath("path must not contain '..' segments", path=path)
    if any(len(p) > MAX_NAME_LENGTH for p in parts):
        raise InvalidPath(f"a folder or file name in the path is longer than {MAX_NAME_LENGTH} characters")
    cleaned = "/".join(parts)
    if not cleaned and not allow_empty:
        raise InvalidPath("path is empty", path=path)
    return cleaned


def join_key(*parts: str) -> str:
    """Join already-clean key parts, skipping empty ones."""
    return "/".join(p for p in parts if p)
