"""The README's walkthrough, line by line, on a fresh machine's terms (issue 11).

The lines are read from README.md (the block after the ``<!-- walkthrough`` marker), so the
README and this test cannot drift. They run in a new virtualenv holding the package without
extras (no scikit-learn, no mlflow, no pandas: the job and the deployment get theirs from
their own environments), as a user who has no token yet, with one substitution each, said
here: ``pip install shipyard`` installs this checkout (the name on PyPI is not ours to use
in a test), the server line runs in the background on a free port (``SHIPYARD_PORT`` and
``SHIPYARD_URL``, which the CLI reads, point the rest at it), and ``cd`` moves the
following lines' working directory.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"<!-- walkthrough[^>]*-->\s*```bash\n(.*?)```", re.S)


def walkthrough() -> list[str]:
    found = _BLOCK.search((REPO / "README.md").read_text(encoding="utf-8"))
    assert found, "README.md has no walkthrough block"
    lines = []
    for raw in found.group(1).splitlines():
        line = re.sub(r"\s+#.*$", "", raw).strip()  # the README's comments
        if line:
            lines.append(line)
    return lines


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with the package and its required dependencies only."""
    root = tmp_path_factory.mktemp("fresh")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), str(REPO)],
        check=True,
        timeout=900,
    )
    for extra in ("sklearn", "mlflow", "pandas"):
        probe = subprocess.run(
            [str(venv / "bin" / "python"), "-c", f"import {extra}"], capture_output=True, check=False
        )
        assert probe.returncode != 0, f"{extra} is in the fresh venv: the test would prove nothing"
    return venv


@pytest.fixture
def user_env(fresh_venv: Path, tmp_path: Path) -> dict[str, str]:
    port = _free_port()
    # The user's shell, minus what would sign them in or point at another Python: this
    # machine's certificates and proxies stay (the job's environment is built from PyPI).
    dropped = ("SHIPYARD_", "MLFLOW_", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CONDA_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(
        PATH=f"{fresh_venv / 'bin'}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        HOME=str(tmp_path / "home"),  # a user's own: no stored login, no token
        XDG_CONFIG_HOME=str(tmp_path / "home" / ".config"),
        SHIPYARD_PORT=str(port),
        SHIPYARD_URL=f"http://127.0.0.1:{port}",
    )
    # uv's cache is the machine's: a fresh machine downloads, this one links what it has.
    env.setdefault("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv"))
    (tmp_path / "home").mkdir()
    return env


def test_the_readme_walkthrough_works_top_to_bottom_without_extras(
    user_env: dict[str, str], tmp_path: Path
) -> None:
    lines = walkthrough()
    assert lines[0].startswith("pip install shipyard") and "shipyard up" in lines[1]
    cwd = tmp_path / "work"
    cwd.mkdir()
    server: subprocess.Popen[str] | None = None
    server_log = tmp_path / "server.log"
    transcript: list[str] = []
    try:
        for line in lines[1:]:  # the install is the fresh venv
            transcript.append(f"$ {line}")
            if line.startswith("shipyard up"):
                argv = shlex.split(line.removesuffix("&").strip())
                with server_log.open("w") as out:
                    server = subprocess.Popen(
                        argv, cwd=cwd, env=user_env, stdout=out, stderr=subprocess.STDOUT, text=True
                    )
                _wait_healthy(user_env["SHIPYARD_URL"], server, server_log)
                continue
            if line.startswith("cd "):
                cwd = cwd / line[3:].strip()
                continue
            done = subprocess.run(
                ["bash", "-c", line],
                cwd=cwd,
                env=user_env,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            transcript.append(done.stdout + done.stderr)
            assert done.returncode == 0, "\n".join(transcript) + "\n--- server:\n" + server_log.read_text()
        assert "Completed" in "\n".join(transcript)
        predictions = transcript[-1]
        assert re.search(r"\[\s*0,\s*1,\s*2\s*\]", predictions), "\n".join(transcript)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_healthy(url: str, server: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server stopped:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server never became healthy")
