"""`make demo`: the lifecycle so far, end to end, on bundled data.

Starts a server on a free port with its data in ./.demo/home; registers the iris data that
scikit-learn ships as a data asset and a local compute target; runs examples/iris/job.yml as
a job (examples/iris/src/train.py logs through the Shipyard SDK into the job's run and
registers the model); runs examples/train_mlflow.py (the unchanged mlflow client); deploys
that model to an online endpoint without code and scores a few rows; shows the results
through the CLI, and prints where to look.
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


def shipyard(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    print(f"$ shipyard {' '.join(args)}")
    return subprocess.run([sys.executable, "-m", "shipyard", *args], env=env, check=check, text=True)


def write_iris_csv(path: Path) -> None:
    """The iris data scikit-learn ships, as the CSV a team would keep (last column: the class)."""
    import csv

    from sklearn.datasets import load_iris

    iris = load_iris()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*(n.replace(" (cm)", "").replace(" ", "_") for n in iris.feature_names), "species"])
        writer.writerows([*row, int(label)] for row, label in zip(iris.data, iris.target, strict=True))


def main() -> None:
    step("1. start a Shipyard server (SQLite + local artifact folder under .demo/home)")
    proc, url = start_server()
    env = {**os.environ, "SHIPYARD_URL": url}
    try:
        step("2. a data asset and a compute target for the job")
        csv_path = HOME.parent / "iris.csv"
        write_iris_csv(csv_path)
        shipyard("data", "create", "--name", "iris", "--type", "uri_file", "--path", str(csv_path), env=env)
        if shipyard("compute", "show", "-n", "cpu", env=env, check=False).returncode != 0:
            shipyard(
                "compute", "create", "--name", "cpu", "--type", "local", "--max-concurrent", "2", env=env
            )
        step("3. train as a job: code snapshot, input, live log; params, metrics, model, registry in its run")
        shipyard("job", "create", "-f", str(ROOT / "examples" / "iris" / "job.yml"), "--stream", env=env)
        shipyard("job", "list", "--max-results", "3", env=env)
        step("4. the unchanged mlflow client against the same server: autolog, log_model, models:/ URIs")
        subprocess.run(
            [sys.executable, str(ROOT / "examples" / "train_mlflow.py")],
            env={**env, "MLFLOW_TRACKING_URI": url},
            check=True,
        )
        step("5. deploy the mlflow client's model without code and score a few rows")
        endpoints = ROOT / "examples" / "endpoints"
        if shipyard("online-endpoint", "show", "-n", "iris", env=env, check=False).returncode != 0:
            shipyard("online-endpoint", "create", "-f", str(endpoints / "endpoint.yml"), env=env)
        if (
            shipyard("online-deployment", "show", "-n", "blue", "-e", "iris", env=env, check=False).returncode
            == 0
        ):
            shipyard("online-deployment", "update", "-f", str(endpoints / "blue.yml"), env=env)
        else:
            shipyard(
                "online-deployment", "create", "-f", str(endpoints / "blue.yml"), "--all-traffic", env=env
            )
        shipyard(
            "online-endpoint",
            "invoke",
            "-n",
            "iris",
            "--request-file",
            str(endpoints / "request.json"),
            env=env,
        )
        step("6. look at it from the command line")
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
    print("  score:              shipyard online-endpoint invoke -n iris \\")
    print("                        --request-file examples/endpoints/request.json")


if __name__ == "__main__":
    main()
