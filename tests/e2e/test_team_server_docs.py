"""docs/team-server.md's example, line by line: three real servers on one PostgreSQL database
and one artifact folder, driven by the CLI as a user would (each with its own database and
folders here, and free ports instead of 5151-5153)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ServerProcess

pytestmark = pytest.mark.slow

DOC = Path(__file__).resolve().parents[2] / "docs" / "team-server.md"
_BLOCK = re.compile(r"<!-- example[^>]*-->\s*```bash\n(.*?)```", re.S)
_JOB = re.compile(r"```yaml\n# job.yml\n(.*?)```", re.S)
_DOC_DATABASE = "postgresql+psycopg://shipyard@db.internal/shipyard"
_DOC_ARTIFACTS = "/mnt/shared/shipyard-artifacts"


def _lines(text: str) -> list[str]:
    found = _BLOCK.search(text)
    assert found, "docs/team-server.md has no example block"
    return [re.sub(r"\s+#.*$", "", line).strip() for line in found.group(1).splitlines() if line.strip()]


class Walk:
    """Runs the example's lines in ``folder``: exports, servers (``… &``), commands."""

    def __init__(self, folder: Path, database_url: str) -> None:
        self.folder = folder
        self.swaps = {_DOC_DATABASE: database_url, _DOC_ARTIFACTS: str(folder / "shared-artifacts")}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
        self.env["SHIPYARD_SPILL_DIR"] = os.environ["SHIPYARD_SPILL_DIR"]
        self.env["XDG_CONFIG_HOME"] = str(folder / "config")  # where `shipyard login` keeps tokens
        self.servers: list[ServerProcess] = []

    def swap(self, text: str) -> str:
        for old, new in self.swaps.items():
            text = text.replace(old, new)
        return text

    def run(self, line: str) -> str:
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            self.env[name] = self.swap(value)
            return ""
        if line.endswith("&"):
            self._start(shlex.split(line[:-1]))
            return ""
        argv = shlex.split(self.swap(line))
        if argv[0] == "shipyard":
            argv = [sys.executable, "-m", "shipyard", *argv[1:]]
        else:
            argv = ["bash", "-c", self.swap(line)]
        done = subprocess.run(
            argv, cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    def _start(self, argv: list[str]) -> None:
        assert argv[:2] == ["shipyard", "up"], argv
        home = self.folder / argv[argv.index("--home") + 1]
        port = argv[argv.index("--port") + 1]
        rest = [a for i, a in enumerate(argv[2:], 2) if not {argv[i - 1], a} & {"--home", "--port"}]
        server = ServerProcess(home, rest, {k: v for k, v in self.env.items() if k.startswith("SHIPYARD_")})
        self.servers.append(server.start())
        self.swaps[f"http://127.0.0.1:{port}"] = server.url


def test_the_documented_team_server_runs_as_written(
    tmp_path: Path, pg_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The servers must make and write the owner's token themselves, as on a user's machine.
    for name in ("SHIPYARD_ADMIN_TOKEN", "SHIPYARD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    text = DOC.read_text(encoding="utf-8")
    job = _JOB.search(text)
    assert job, "docs/team-server.md has no job.yml"
    (tmp_path / "job.yml").write_text(job.group(1), encoding="utf-8")
    walk = Walk(tmp_path, pg_database_url)
    try:
        outputs = {line: walk.run(line) for line in _lines(text)}
    finally:
        for server in walk.servers:
            server.stop()
    said = {line.split("--url")[0].strip(): out for line, out in outputs.items()}
    streamed = said["shipyard job create -f job.yml --name hello"]
    assert "hello from" in streamed and "job hello: Completed" in streamed, streamed
    assert re.search(r"status\s+Completed", said["shipyard job show -n hello"])
    assert "job long: Canceled" in said["shipyard job cancel -n long"]
    # The front server (`--roles api`) ran nothing: its home holds no job or process records.
    assert not (tmp_path / "c" / "jobs").exists() and not (tmp_path / "c" / "compute").exists()
