"""Remote job inputs (``https://``, ``s3://``, ``gs://``, ``abfs://``, ``wasbs://``…): fetched
through fsspec onto the job's host, kept in the snapshot store by content, never handed to
the command as a URL.

A job's command gets a local path for every input, as Azure ML mounts or downloads them.
:meth:`RemoteInputs.check` runs at submission: a protocol whose fsspec implementation is not
installed on the server is refused then (with the package to install), not when the job
starts. :meth:`RemoteInputs.fetch` runs when the job is prepared:

- the remote object's identity (its URL with the ETag, checksum, modification time and size
  the store reports) keys a small record in the artifact store, ``cache/remote-inputs/<sha>``,
  holding the digest of the snapshot its content was stored as. A second job reading the
  same unchanged object copies it from the snapshot store without a download; shared by
  every server on the same artifact store. An object whose store reports neither a checksum
  nor a modification time is downloaded again each time (its content is still stored once).
- Azure's ``wasbs://container@account.blob.core.windows.net/path`` (and ``wasb://``), which
  fsspec does not know, is read as ``https://account.blob.core.windows.net/container/path``:
  public containers, such as those of Azure's examples, need no credentials that way.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidArgument, NotFound, ShipyardError
from shipyard.services.ports import ArtifactStore
from shipyard.services.snapshots import SnapshotService

__all__ = ["RemoteInputs", "fetchable_url"]

_CACHE_PREFIX = "cache/remote-inputs"
_WASB = re.compile(r"^wasbs?://(?P<container>[^@/]+)@(?P<host>[^/]+)/?(?P<path>.*)$")
_WASB_HOST_FIRST = re.compile(r"^wasbs?://(?P<host>[^@/]+\.blob\.core\.windows\.net)/(?P<path>.*)$")
_IDENTITY_FIELDS = ("ETag", "etag", "Content-MD5", "md5", "content_md5", "Last-Modified", "mtime",
                    "LastModified", "last_modified", "updated", "generation", "size")  # fmt: skip


def fetchable_url(url: str) -> str:
    """The URL fsspec opens for ``url`` (``wasbs://c@host/p`` and ``wasbs://host/c/p`` →
    ``https://host/c/p``)."""
    m = _WASB.match(url)
    if m is not None:
        return f"https://{m['host']}/{m['container']}/{m['path']}"
    m = _WASB_HOST_FIRST.match(url)  # wasbs://account.blob.core.windows.net/container/path
    if m is not None:
        return f"https://{m['host']}/{m['path']}"
    return url


class RemoteInputs:
    def __init__(self, store: ArtifactStore, snapshots: SnapshotService) -> None:
        self.store = store
        self.snapshots = snapshots

    @staticmethod
    def check(url: str, what: str) -> None:
        """Refuse a URL this server cannot open: an unknown protocol, or one whose fsspec
        package is not installed (the message names it). ``what`` names the input."""
        import fsspec

        target = fetchable_url(url)
        protocol = target.split("://", 1)[0].lower()
        if protocol == "file":
            return
        try:
            fsspec.get_filesystem_class(protocol)
        except ImportError as exc:
            raise InvalidArgument(
                f"{what}: '{url}' cannot be read by this server: {exc}"
                f" (fsspec's {protocol}:// needs it; install it where the server runs)",
                protocol=protocol,
            ) from None
        except ValueError:
            raise InvalidArgument(
                f"{what}: '{url}': no fsspec filesystem reads {protocol}:// URLs; use https://, s3://,"
                " gs://, abfs:// (with their packages installed), or a data asset",
                protocol=protocol,
            ) from None

    def fetch(self, url: str, dest: Path, log: Callable[[str], None]) -> list[str]:
        """Copy what ``url`` names (a file or a folder) into the new folder ``dest``; the
        relative paths of the files written."""
        import fsspec

        target = fetchable_url(url)
        if target != url:
            log(f"{url} is read as {target}")
        try:
            fs, path = fsspec.core.url_to_fs(target)
            info = fs.info(path)
        except FileNotFoundError:
            # fsspec's HTTP says "not found" for a host it cannot reach too: tell them apart.
            raise NotFound(_unreachable(target, url) or f"'{url}' does not exist") from None
        except (ImportError, ValueError) as exc:
            raise InvalidArgument(f"'{url}' cannot be read: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - each fsspec backend raises its own client errors
            raise ShipyardError(f"'{url}' cannot be read: {type(exc).__name__}: {exc}") from None
        key = _cache_key(target, info)
        digest = self._cached(key) if key else None
        if digest is not None:
            log(f"{url}: unchanged since it was fetched, copied from the store (snapshot {digest[:12]})")
        else:
            digest = self._download(fs, path, info, url, log)
            if key:
                self._remember(key, digest)
        snapshot = self.snapshots.materialize(digest, dest)
        return [f.path for f in snapshot.files]

    def _download(
        self, fs: Any, path: str, info: dict[str, Any], url: str, log: Callable[[str], None]
    ) -> str:
        with tempfile.TemporaryDirectory(prefix="shipyard-remote-") as tmp:
            local = Path(tmp) / "content"
            try:
                if info.get("type") == "directory":
                    fs.get(path.rstrip("/") + "/", str(local), recursive=True)
                else:
                    local.mkdir()
                    name = Path(path.rstrip("/")).name or "data"
                    fs.get(path, str(local / name))
            except FileNotFoundError:
                raise NotFound(f"'{url}' does not exist") from None
            except Exception as exc:  # noqa: BLE001 - each fsspec backend raises its own client errors
                raise ShipyardError(f"'{url}' could not be downloaded: {type(exc).__name__}: {exc}") from None
            snapshot = self.snapshots.snapshot_local_folder(local)
        files = "1 file" if len(snapshot.files) == 1 else f"{len(snapshot.files)} files"
        log(f"{url}: fetched {files}, {snapshot.size:,} bytes (snapshot {snapshot.digest[:12]})")
        return snapshot.digest

    def _cached(self, key: str) -> str | None:
        record = f"{_CACHE_PREFIX}/{key}"
        if not self.store.exists(record):
            return None
        with self.store.get(record) as reader:
            digest = str(json.loads(reader.read()).get("snapshot", ""))
        try:
            self.snapshots.manifest(digest)
        except NotFound:
            return None  # the snapshot was removed since: fetch again
        return digest

    def _remember(self, key: str, digest: str) -> None:
        with self.store.staging_file() as (staged, handle):
            handle.write(json.dumps({"snapshot": digest}).encode())
            handle.flush()
            handle.close()
            self.store.put(f"{_CACHE_PREFIX}/{key}", staged)


def _cache_key(url: str, info: dict[str, Any]) -> str | None:
    """A key for the object's identity; None when the store tells nothing that changes with
    the content (its size alone is not enough)."""
    identity = {k: str(info[k]) for k in _IDENTITY_FIELDS if info.get(k) not in (None, "")}
    if set(identity) <= {"size"}:
        return None
    text = json.dumps({"url": url, **identity}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _unreachable(target: str, url: str) -> str | None:
    """Why an http(s) URL's host cannot be reached from this server, if it cannot."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except OSError as exc:
        return (
            f"'{url}' cannot be reached from the server: its host {parts.hostname} does not resolve"
            f" ({exc}); copy the data somewhere the server reaches, or register it as a data asset"
        )
    return None
