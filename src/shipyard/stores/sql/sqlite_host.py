"""One SQLite file, one machine.

SQLite's locks work between processes of one kernel; on a file shared over the network
(NFS, SMB, a synced folder) two machines each believe they hold the write lock, and the file
is corrupted. So a server claims the file for its machine: it writes a small claim file
into ``<database>-hosts/`` at start and rewrites it every :data:`BEAT_S` seconds, and a
server that finds a fresh claim of another machine refuses to start, saying whose it is.

A machine is its kernel: Linux's boot id, which containers of one host share (their locks
work together) and two hosts never do. Where there is none, the machine id or host name.
A claim not refreshed for :data:`TTL_S` seconds is stale (its server died with its machine);
a claim from this machine's previous boot is stale at once.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from shipyard.errors import Conflict
from shipyard.stores.sql.database import SqlDatabase

__all__ = [
    "BEAT_S",
    "TTL_S",
    "Claim",
    "HostClaim",
    "HostClaimedDatabase",
    "Machine",
    "claims_folder",
    "live_claims",
    "this_machine",
]

log = logging.getLogger("shipyard.server")

BEAT_S = 10.0
TTL_S = 60.0


@dataclass(frozen=True, slots=True)
class Machine:
    machine_id: str  # "" where the system has none
    boot_id: str  # likewise
    hostname: str

    def same_kernel(self, other: Machine) -> bool:
        if self.boot_id and other.boot_id:
            return self.boot_id == other.boot_id
        if self.machine_id and other.machine_id:
            return self.machine_id == other.machine_id
        return self.hostname == other.hostname

    def rebooted(self, other: Machine) -> bool:
        """``other`` is this machine before a reboot: nothing it ran is running now."""
        return bool(self.boot_id and other.boot_id and self.machine_id) and (
            self.machine_id == other.machine_id and self.boot_id != other.boot_id
        )


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except OSError:
        return ""


def this_machine() -> Machine:
    return Machine(
        machine_id=_read("/etc/machine-id") or _read("/var/lib/dbus/machine-id"),
        boot_id=_read("/proc/sys/kernel/random/boot_id"),
        hostname=socket.gethostname(),
    )


@dataclass(frozen=True, slots=True)
class Claim:
    machine: Machine
    pid: int
    beat: float  # seconds since the epoch, by the claimant's clock
    path: Path

    def age(self, now: float) -> float:
        return max(0.0, now - self.beat)

    def describe(self, now: float | None = None) -> str:
        seen = self.age(time.time() if now is None else now)
        return f"a server on host {self.machine.hostname!r} (pid {self.pid}, seen {seen:.0f} s ago)"


def claims_folder(database: Path) -> Path:
    return Path(f"{database}-hosts")


def _load(path: Path) -> Claim | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return Claim(Machine(**data["machine"]), int(data["pid"]), float(data["beat"]), path)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # being rewritten, or not ours: a claim that cannot be read claims nothing


def _claims(database: Path) -> list[Claim]:
    folder = claims_folder(database)
    if not folder.is_dir():
        return []
    return [claim for path in sorted(folder.glob("*.json")) if (claim := _load(path)) is not None]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def live_claims(database: Path, *, me: Machine | None = None, now: float | None = None) -> list[Claim]:
    """Claims of servers that may be using ``database`` now: fresh ones of other machines,
    and those of this machine whose process is alive."""
    me = me or this_machine()
    now = time.time() if now is None else now
    live = []
    for claim in _claims(database):
        if me.same_kernel(claim.machine):
            if claim.pid != os.getpid() and _alive(claim.pid) and claim.age(now) < TTL_S:
                live.append(claim)
        elif not me.rebooted(claim.machine) and claim.age(now) < TTL_S:
            live.append(claim)
    return live


class HostClaim:
    """This process's claim on a SQLite file, kept fresh by a thread until :meth:`release`."""

    def __init__(
        self, database: Path, *, me: Machine | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.database = database
        self.me = me or this_machine()
        self.clock = clock
        name = self.me.boot_id or self.me.machine_id or self.me.hostname
        self.path = claims_folder(database) / f"{name}-{os.getpid()}.json"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        """Claim the file, or raise :class:`Conflict` naming the other machine's server.

        The claim is written before the others are read: two machines starting at once each
        see the other's claim and both refuse, rather than both running."""
        self._write()
        now = self.clock()
        rivals = [
            c for c in live_claims(self.database, me=self.me, now=now) if not self.me.same_kernel(c.machine)
        ]
        if rivals:
            self.path.unlink(missing_ok=True)
            raise Conflict(
                f"the SQLite database {self.database} is in use by {rivals[0].describe(now)}."
                " SQLite's locks do not work between machines: two servers would corrupt it. Stop"
                " that server, or move to PostgreSQL (`shipyard migrate --from sqlite:///…"
                " --to postgresql+psycopg://…`) to run several. A claim not refreshed for"
                f" {TTL_S:.0f} s expires: if that machine is gone, start again then, or delete"
                f" {rivals[0].path}",
                database=str(self.database),
                host=rivals[0].machine.hostname,
            )
        self._clear_stale(now)
        self._thread = threading.Thread(target=self._beat, name="shipyard-sqlite-claim", daemon=True)
        self._thread.start()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"machine": asdict(self.me), "pid": os.getpid(), "beat": self.clock()})
        fd, name = tempfile.mkstemp(dir=self.path.parent, prefix=".claim-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body)
        os.replace(name, self.path)

    def _clear_stale(self, now: float) -> None:
        live = {c.path for c in live_claims(self.database, me=self.me, now=now)}
        for claim in _claims(self.database):
            if claim.path != self.path and claim.path not in live:
                claim.path.unlink(missing_ok=True)

    def _beat(self) -> None:
        while not self._stop.wait(BEAT_S):
            try:
                self._write()
            except OSError:
                log.exception("cannot refresh the claim on %s", self.database)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.path.unlink(missing_ok=True)


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).expanduser().resolve()


class HostClaimedDatabase(SqlDatabase):
    """The server's database: a SQLite file is claimed for this machine before it is opened."""

    def __init__(self, url: str) -> None:
        path = _sqlite_file(url)
        self._claim = None if path is None else HostClaim(path)
        if self._claim is not None:
            self._claim.acquire()
        try:
            super().__init__(url)
        except BaseException:
            if self._claim is not None:
                self._claim.release()
            raise

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._claim is not None:
                self._claim.release()
