"""The anchor MLflow server's venv: ``mlflow`` (the full package: server and UI), the same
minor as the client our tests drive, in ``.bench/anchors/mlflow-ui``, built once with uv from
the package registry. Shared by the benchmarks that start ``mlflow server``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ANCHOR_VENV = ROOT / ".bench" / "anchors" / "mlflow-ui"
ANCHOR_REQUIREMENT = "mlflow>=3.17,<3.18"


def anchor_mlflow() -> Path:
    """The ``mlflow`` executable of the anchor's venv (built on first use)."""
    python = ANCHOR_VENV / "bin" / "python"
    stamp = ANCHOR_VENV / ".anchor-installed"
    check = [str(python), "-c", "import mlflow.server; print(mlflow.__version__)"]
    if not (stamp.exists() and subprocess.run(check, capture_output=True, check=False).returncode == 0):
        uv = Path(sys.executable).parent / "uv"
        if not uv.exists():
            raise SystemExit("uv is needed to build the anchor's venv: `.venv/bin/pip install uv`")
        print(f"building the anchor's venv in {ANCHOR_VENV} (once): {ANCHOR_REQUIREMENT}", file=sys.stderr)
        if not python.exists():
            subprocess.run(
                [str(uv), "venv", "--quiet", "--python", sys.executable, str(ANCHOR_VENV)], check=True
            )
        subprocess.run(
            [str(uv), "pip", "install", "--quiet", "--python", str(python), ANCHOR_REQUIREMENT], check=True
        )
        stamp.touch()
    return ANCHOR_VENV / "bin" / "mlflow"


def anchor_version() -> str:
    python = ANCHOR_VENV / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "?"
