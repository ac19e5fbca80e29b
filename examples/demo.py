"""`make demo`: the lifecycle so far, end to end, on bundled data.

Starts a server on a free port with its data in ./.demo/home, runs examples/train.py (the
Shipyard SDK) and examples/train_mlflow.py (the unchanged mlflow client) against it, shows
the results through the CLI, and prints where to look.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / ".demo" / "home"


def start_server() -> tuple[subprocess.Popen[str], str]:
    HOME.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipyard", "up", "--port", "0", "--home", str(HOME)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    started = time.monotonic()
    for line in proc.stdout:
        print(f"  [server] {line.rstrip()}")
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            url = match.group(1)
            break
    else:
        raise SystemExit("the server did not start; see its output above")
    while httpx.get(f"{url}/healthz", timeout=2).status_code != 200:
        time.sleep(0.05)
    print(f"  healthy after {time.monotonic() - started:.2f} s")
    return proc, url


def step(title: str) -> None:
    print(f"\n== {title}")


def main() -> None:
    step("1. start a Shipyard server (SQLite + local artifact folder under .demo/home)")
    proc, url = start_server()
    env = {**os.environ, "SHIPYARD_URL": url}
    try:
        step("2. train: params, per-epoch metrics, system metrics, model artifact, registry")
        subprocess.run([sys.executable, str(ROOT / "examples" / "train.py")], env=env, check=True)
        step("3. the unchanged mlflow client against the same server: autolog, log_model, models:/ URIs")
        subprocess.run(
            [sys.executable, str(ROOT / "examples" / "train_mlflow.py")],
            env={**env, "MLFLOW_TRACKING_URI": url},
            check=True,
        )
        step("4. look at it from the command line")
        for args in (
            ["experiment", "list"],
            ["run", "list", "-e", "iris-demo", "--order-by", "metrics.test_accuracy DESC"],
            ["model", "show", "iris-classifier"],
            ["model", "show", "iris-mlflow"],
        ):
            print(f"$ shipyard {' '.join(args)}")
            subprocess.run([sys.executable, "-m", "shipyard", *args], env=env, check=True)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    step("where to look")
    print(f"  data folder:        {HOME}")
    print(f"  start it again:     shipyard up --home {HOME.relative_to(ROOT)}")
    print("  then browse:        http://127.0.0.1:5151/docs (the API), `shipyard run list -e iris-demo`")


if __name__ == "__main__":
    main()
