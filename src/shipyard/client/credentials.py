"""Tokens that ``shipyard login`` keeps, one per server URL, in a file only its owner reads.

``$SHIPYARD_CREDENTIALS`` names the file; default ``$XDG_CONFIG_HOME/shipyard/credentials.json``
(``~/.config/shipyard/credentials.json``). The SDK and the CLI take a token from
``token=``/``--token``, else ``SHIPYARD_TOKEN``, else this file's entry for the URL.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["credentials_path", "forget", "remember", "resolve_token", "stored_token"]


def credentials_path() -> Path:
    given = os.environ.get("SHIPYARD_CREDENTIALS")
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "shipyard" / "credentials.json"


def _key(url: str) -> str:
    return url.rstrip("/").lower()


def _read(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def stored_token(url: str) -> str | None:
    entry = _read(credentials_path()).get(_key(url))
    token = entry.get("token") if isinstance(entry, dict) else None
    return token if isinstance(token, str) and token else None


def resolve_token(url: str, token: str | None) -> str | None:
    """``token``, else ``SHIPYARD_TOKEN``, else what ``shipyard login`` stored for ``url``."""
    return token or os.environ.get("SHIPYARD_TOKEN") or stored_token(url)


def _write(path: Path, data: dict[str, dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def remember(url: str, token: str, user: str) -> Path:
    """Store ``token`` for ``url`` (mode 0600); the file's path."""
    path = credentials_path()
    data = _read(path)
    data[_key(url)] = {"token": token, "user": user}
    _write(path, data)
    return path


def forget(url: str) -> bool:
    path = credentials_path()
    data = _read(path)
    if data.pop(_key(url), None) is None:
        return False
    _write(path, data)
    return True
