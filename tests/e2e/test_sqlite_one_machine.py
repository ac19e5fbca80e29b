"""Two servers on one SQLite file from different machines: the second is refused, saying why."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from shipyard.stores.sql.sqlite_host import claims_folder
from tests.conftest import ServerProcess


def test_a_server_of_another_machine_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "shared-over-nfs"
    server = ServerProcess(home).start()
    claims = claims_folder(home / "shipyard.db")
    try:
        assert len(list(claims.glob("*.json"))) == 1  # the running server's claim
    finally:
        assert server.stop() == 0
    assert list(claims.glob("*.json")) == []  # withdrawn on a clean stop

    other = {"machine_id": "f" * 32, "boot_id": "0" * 8 + "-other-boot", "hostname": "workstation"}
    (claims / "other-4242.json").write_text(json.dumps({"machine": other, "pid": 4242, "beat": time.time()}))
    refused = ServerProcess(home)
    with pytest.raises(RuntimeError):
        refused.start()
    output = "".join(refused.output)
    assert refused.proc is not None and refused.proc.returncode == 1, output
    assert "in use by a server on host 'workstation' (pid 4242" in output, output
    assert "(CONFLICT)" in output and "PostgreSQL" in output and "Traceback" not in output
