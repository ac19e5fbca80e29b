"""One SQLite file, one machine: a server of another machine on the same file is refused."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import pytest

from shipyard.errors import Conflict
from shipyard.stores.sql.sqlite_host import TTL_S, HostClaim, Machine, claims_folder, live_claims

HERE = Machine(machine_id="m-here", boot_id="boot-here", hostname="laptop")
THERE = Machine(machine_id="m-there", boot_id="boot-there", hostname="workstation")
NOW = 1_000_000.0


def _claim(database: Path, machine: Machine, *, pid: int, beat: float) -> Path:
    folder = claims_folder(database)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{machine.boot_id}-{pid}.json"
    path.write_text(json.dumps({"machine": asdict(machine), "pid": pid, "beat": beat}))
    return path


def test_a_fresh_claim_of_another_machine_refuses_the_start_and_says_whose(tmp_path: Path) -> None:
    db = tmp_path / "shipyard.db"
    _claim(db, THERE, pid=4242, beat=NOW - 5)
    claim = HostClaim(db, me=HERE, clock=lambda: NOW)
    with pytest.raises(Conflict) as refused:
        claim.acquire()
    message = refused.value.message
    assert "host 'workstation' (pid 4242, seen 5 s ago)" in message
    assert "PostgreSQL" in message and "shipyard migrate" in message
    assert [p.name for p in claims_folder(db).iterdir()] == ["boot-there-4242.json"]  # ours withdrawn


@pytest.mark.parametrize(
    ("other", "beat"),
    [
        (THERE, NOW - TTL_S - 1),  # not refreshed: its server died with its machine
        (Machine("m-here", "boot-before", "laptop"), NOW - 1),  # this machine before a reboot
        (Machine("container", "boot-here", "c0ffee"), NOW - 1),  # a container on this kernel
    ],
)
def test_stale_claims_and_this_kernels_own_do_not_refuse(tmp_path: Path, other: Machine, beat: float) -> None:
    db = tmp_path / "shipyard.db"
    _claim(db, other, pid=os.getpid(), beat=beat)
    claim = HostClaim(db, me=HERE, clock=lambda: NOW)
    claim.acquire()
    try:
        assert claim.path.is_file()
    finally:
        claim.release()
    assert not claim.path.exists()


def test_stale_claims_are_cleared_by_the_next_start(tmp_path: Path) -> None:
    db = tmp_path / "shipyard.db"
    stale = _claim(db, THERE, pid=1, beat=NOW - TTL_S - 60)
    claim = HostClaim(db, me=HERE, clock=lambda: NOW)
    claim.acquire()
    claim.release()
    assert not stale.exists()


def test_live_claims_of_this_machine_are_the_processes_still_running(tmp_path: Path) -> None:
    db = tmp_path / "shipyard.db"
    parent = _claim(db, HERE, pid=os.getppid(), beat=NOW - 1)  # a process that is alive
    _claim(db, Machine("m-here", "boot-here", "laptop"), pid=2**22 + 12345, beat=NOW - 1)  # gone
    assert [c.path for c in live_claims(db, me=HERE, now=NOW)] == [parent]


def test_machines_are_told_apart_by_kernel() -> None:
    assert HERE.same_kernel(Machine("other-id", "boot-here", "other-name"))  # containers of one host
    assert not HERE.same_kernel(THERE)
    assert HERE.rebooted(Machine("m-here", "boot-before", "laptop"))
    assert not HERE.rebooted(THERE)
    # Without boot ids: the machine id decides, then the host name.
    assert Machine("m1", "", "a").same_kernel(Machine("m1", "", "b"))
    assert not Machine("", "", "a").same_kernel(Machine("", "", "b"))
    assert not Machine("", "b1", "a").rebooted(Machine("", "b2", "a"))  # no machine id: not provable
