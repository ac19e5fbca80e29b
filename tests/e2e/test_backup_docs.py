"""docs/backup.md's example, line by line, against a running server holding a run."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from tests.conftest import AUTH, ServerProcess

DOC = Path(__file__).resolve().parents[2] / "docs" / "backup.md"
_BLOCK = re.compile(r"<!-- example[^>]*-->\s*```bash\n(.*?)```", re.S)


def _lines() -> list[str]:
    found = _BLOCK.search(DOC.read_text(encoding="utf-8"))
    assert found, "docs/backup.md has no example block"
    return [re.sub(r"\s+#.*$", "", line).strip() for line in found.group(1).splitlines() if line.strip()]


def test_the_documented_backup_example_runs_as_written(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as http:
            experiment = http.post("/api/v1/experiments", json={"name": "docs"}).json()["id"]
            run = http.post("/api/v1/runs", json={"experiment_id": experiment, "name": "kept"}).json()["id"]
            http.put(f"/api/v1/runs/{run}/artifacts/model.txt", content=b"weights").raise_for_status()
        outputs = []
        for line in _lines():
            argv = shlex.split(line)
            assert argv[0] == "shipyard", line
            done = subprocess.run(
                [sys.executable, "-m", "shipyard", *argv[1:]],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
                env={
                    k: v
                    for k, v in os.environ.items()
                    if not k.startswith("SHIPYARD_") or k == "SHIPYARD_TOKEN"
                },
            )
            assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
            outputs.append(done.stdout)
    finally:
        server.stop()
    assert "intact" in outputs[1]
    engine = create_engine(f"sqlite:///{tmp_path / 'restored' / 'shipyard.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM runs WHERE run_id = :r"), {"r": run}).scalar() == "kept"
    engine.dispose()
    restored = list((tmp_path / "restored" / "artifacts").rglob("model.txt"))
    assert [f.read_bytes() for f in restored] == [b"weights"]
    assert "would remove 0 unreferenced files" in outputs[3]
