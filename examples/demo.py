"""`make demo`: the lifecycle so far, end to end, on bundled data.

Starts a server on a free port with its data in ./.demo/home; signs in as its owner the way
a user would (``shipyard login --token-file .demo/home/admin.token``, the login kept in
./.demo/credentials.json rather than the user's ~/.config); registers the iris data that
scikit-learn ships as a data asset and a local compute target; runs examples/iris/job.yml as
a job (examples/iris/src/train.py logs through the Shipyard SDK into the job's run, with the
job's own token, and registers the model); runs examples/train_mlflow.py (the unchanged
mlflow client, signed in with MLFLOW_TRACKING_TOKEN); deploys that model to an online
endpoint without code and scores a few rows; then the production loop (examples/monitoring):
a model trained as a job on a data asset, deployed with its traffic collected, a monitor that
sees normal traffic, then shifted traffic it flags and answers by submitting the retraining
job; shows the results through the CLI, and prints
the commands that reach the same server again from the user's shell.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
HOME = DEMO / "home"
TOKEN_FILE = HOME / "admin.token"  # written by the server's first start on a fresh home
CREDENTIALS = DEMO / "credentials.json"  # where `shipyard login` keeps the demo's sign-in


def shown(path: Path) -> str:
    """``path`` as the user's shell would type it: relative when it is under the current folder."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


SHIPYARD = shown(Path(sys.executable).parent / "shipyard")  # the venv's: `.venv/bin/shipyard`


def clean_env() -> dict[str, str]:
    """Ours without the user's SHIPYARD_* / MLFLOW_* settings: the demo must neither use their
    database, token or server, nor sign in anywhere but its own."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SHIPYARD_", "MLFLOW_"))}


def start_server() -> tuple[subprocess.Popen[str], str]:
    HOME.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipyard", "up", "--port", "0", "--home", str(HOME)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env(),
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
    # The rest of its output (the owner's token on a first start, warnings) keeps flowing, so
    # that a full pipe never stalls the server.
    threading.Thread(target=_echo, args=(proc.stdout,), name="server-output", daemon=True).start()
    while httpx.get(f"{url}/healthz", timeout=2).status_code != 200:
        time.sleep(0.05)
    print(f"  healthy after {time.monotonic() - started:.2f} s")
    return proc, url


def _echo(lines: IO[str]) -> None:
    for line in lines:
        print(f"  [server] {line.rstrip()}", flush=True)


def step(title: str) -> None:
    print(f"\n== {title}")


def shipyard(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    print(f"$ {SHIPYARD} {' '.join(args)}")
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


def sign_in(url: str, env: dict[str, str]) -> str:
    """``shipyard login`` with the owner's token file, then ``whoami``; the token."""
    if not TOKEN_FILE.exists():
        raise SystemExit(
            f"{shown(TOKEN_FILE)} is missing: the owner of {shown(HOME)} was made without it. Remove"
            f" {shown(DEMO)} and run `make demo` again for a fresh home."
        )
    shipyard("login", "--url", url, "--token-file", shown(TOKEN_FILE), env=env)
    shipyard("whoami", env=env)
    return TOKEN_FILE.read_text().strip()


def main() -> None:
    step("1. start a Shipyard server (SQLite + local artifact folder under .demo/home)")
    proc, url = start_server()
    env = {**clean_env(), "SHIPYARD_URL": url, "SHIPYARD_CREDENTIALS": str(CREDENTIALS)}
    try:
        step(f"2. sign in as the owner 'admin' (the login is kept in {shown(CREDENTIALS)})")
        token = sign_in(url, env)
        step("3. a data asset and a compute target for the job")
        csv_path = DEMO / "iris.csv"
        write_iris_csv(csv_path)
        shipyard("data", "create", "--name", "iris", "--type", "uri_file", "--path", str(csv_path), env=env)
        if shipyard("compute", "show", "-n", "cpu", env=env, check=False).returncode != 0:
            shipyard(
                "compute", "create", "--name", "cpu", "--type", "local", "--max-concurrent", "2", env=env
            )
        step("4. train as a job: code snapshot, input, live log; params, metrics, model, registry in its run")
        shipyard("job", "create", "-f", str(ROOT / "examples" / "iris" / "job.yml"), "--stream", env=env)
        shipyard("job", "list", "--max-results", "3", env=env)
        step("5. tune it with a sweep: trials as child jobs, hopeless ones stopped early, the best marked")
        sweep_name = f"iris-alpha-{time.strftime('%Y%m%d-%H%M%S')}"
        sweep_file = str(ROOT / "examples" / "iris" / "sweep.yml")
        shipyard("job", "create", "-f", sweep_file, "--name", sweep_name, "--stream", env=env)
        shipyard("job", "show", "-n", sweep_name, env=env)
        step("6. a pipeline (prep → train → evaluate), then again: every step reused, and why")
        pipeline = str(ROOT / "examples" / "pipeline" / "pipeline.yml")
        shipyard("job", "create", "-f", pipeline, "--stream", env=env)
        shipyard("job", "create", "-f", pipeline, "--set", "inputs.lr=0.7", "--stream", env=env)
        step("7. the unchanged mlflow client against the same server: autolog, log_model, models:/ URIs")
        script = shown(ROOT / "examples" / "train_mlflow.py")
        print(f"$ MLFLOW_TRACKING_URI={url} MLFLOW_TRACKING_TOKEN=$(cat {shown(TOKEN_FILE)}) python {script}")
        subprocess.run(
            [sys.executable, str(ROOT / "examples" / "train_mlflow.py")],
            env={**env, "MLFLOW_TRACKING_URI": url, "MLFLOW_TRACKING_TOKEN": token},
            check=True,
        )
        step("8. deploy the mlflow client's model without code and score a few rows")
        deploy_and_score(env)
        step("9. AutoML on the same table (trials as child jobs, a leaderboard); MLflow 3 tracing of an app")
        automl_name = f"iris-automl-{time.strftime('%Y%m%d-%H%M%S')}"
        shipyard(
            "automl", "run", "--data", "azureml:iris@latest", "--target", "species",
            "--task", "classification", "--max-trials", "4", "--max-concurrent-trials", "2",
            "--timeout", "5m", "--experiment-name", "iris-automl", "--model-name", "iris-automl",
            "--name", automl_name, "--stream", env=env,
        )  # fmt: skip
        shipyard("job", "show", "-n", automl_name, env=env)
        script = shown(ROOT / "examples" / "trace_mlflow.py")
        print(f"$ MLFLOW_TRACKING_URI={url} MLFLOW_TRACKING_TOKEN=$(cat {shown(TOKEN_FILE)}) python {script}")
        subprocess.run(
            [sys.executable, str(ROOT / "examples" / "trace_mlflow.py")],
            env={**env, "MLFLOW_TRACKING_URI": url, "MLFLOW_TRACKING_TOKEN": token},
            check=True,
        )
        retraining = monitor_loop(env)
        ship(env, retraining)
        step("15. look at it from the command line")
        for args in (
            ["experiment", "list"],
            ["run", "list", "-e", "iris-demo", "--order-by", "metrics.test_accuracy DESC"],
            ["model", "show", "iris-classifier"],
            ["model", "show", "iris-mlflow"],
        ):
            shipyard(*args, env=env)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    where_to_look(url)


def monitor_loop(env: dict[str, str]) -> list[str]:
    """Steps 10-12: the production loop on examples/monitoring — a model trained as a job and
    deployed with data collection, a monitor on it, normal traffic, then shifted traffic: the
    monitor finds the drift and submits the retraining job, whose version says why it exists."""
    sys.path.insert(0, str(ROOT / "examples" / "monitoring"))
    from make_data import credit  # the example's generator (numpy/pandas, nothing downloaded)

    example = ROOT / "examples" / "monitoring"
    step("10. a credit model trained as a job on a data asset, deployed with its traffic collected")
    data = DEMO / "credit.csv"
    credit(2000).to_csv(data, index=False)
    shipyard("data", "create", "--name", "credit", "--type", "uri_file", "--path", str(data), env=env)
    shipyard("job", "create", "-f", str(example / "train.yml"), "--stream", env=env)
    if shipyard("online-endpoint", "show", "-n", "credit", env=env, check=False).returncode != 0:
        shipyard("online-endpoint", "create", "-f", str(example / "endpoint.yml"), env=env)
    if (
        shipyard("online-deployment", "show", "-n", "blue", "-e", "credit", env=env, check=False).returncode
        != 0
    ):
        shipyard("online-deployment", "create", "-f", str(example / "blue.yml"), "--all-traffic", env=env)
    ask = ["online-endpoint", "get-credentials", "-n", "credit", "-o", "json"]
    answer = subprocess.run(
        [sys.executable, "-m", "shipyard", *ask], env=env, check=True, text=True, capture_output=True
    )
    key = json.loads(answer.stdout)["primaryKey"]

    step("11. a monitor (Azure ML's monitor file): its first run sees normal traffic")
    send_credit_traffic(env["SHIPYARD_URL"], key, credit(600, seed=21))
    shipyard("schedule", "delete", "-n", "credit-monitor", env=env, check=False)  # a demo run again
    shipyard("schedule", "create", "-f", str(example / "monitor.yml"), env=env)
    wait_for_monitor_run(env)  # a recurrence's first tick fires at its creation
    shipyard("monitor", "show", "-n", "credit-monitor", env=env)

    step("12. the population shifts (older, more indebted): the monitor finds it and retrains")
    send_credit_traffic(env["SHIPYARD_URL"], key, credit(600, shift=True, seed=22))
    shipyard("monitor", "run", "-n", "credit-monitor", env=env)
    shipyard("monitor", "show", "-n", "credit-monitor", env=env)
    ask = [sys.executable, "-m", "shipyard", "monitor", "show", "-n", "credit-monitor", "-o", "json"]
    newest = json.loads(subprocess.run(ask, env=env, check=True, text=True, capture_output=True).stdout)[
        "runs"
    ][0]
    retraining = [a["job"] for a in newest["actions"] if a.get("job")]
    for name in retraining:  # the retraining the breach submitted: its new version says why it exists
        shipyard("job", "stream", "-n", name, env=env)
    shipyard("model", "version", "show", "credit", "latest", env=env)  # tagged with the monitor run
    return retraining


def cli_json(*args: str, env: dict[str, str]) -> Any:
    ask = [sys.executable, "-m", "shipyard", *args, "-o", "json"]
    return json.loads(subprocess.run(ask, env=env, check=True, text=True, capture_output=True).stdout)


def ship(env: dict[str, str], retraining: list[str]) -> None:
    """Steps 13-14 (issue 16): the retrained model judged against the champion as a pull
    request's check would, promoted to a protected prod workspace once a second person
    approves, then its lineage and its model card."""
    step(
        "13. ship the retrained model: compared with the champion, promoted to prod once a reviewer approves"
    )
    shipyard("model", "promote", "credit:1", "--alias", "champion", env=env)  # unprotected here: at once
    if retraining:
        compare = ["ci", "compare", "--candidate", retraining[-1], "--baseline", "model:credit@champion"]
        shipyard(*compare, "--metrics", "test_accuracy", env=env)
    prod = {**env, "SHIPYARD_WORKSPACE": "prod"}
    if not cli_json("model", "protections", env=prod):
        shipyard("model", "protect", "--alias", "champion", env=prod)  # prod's champion needs approval
    if "reviewer" not in {u["name"] for u in cli_json("user", "list", env=env)}:
        shipyard("user", "create", "reviewer", env=env)
        shipyard("role", "assign", "reviewer", "--role", "ml-engineer", env=env)
    asked = cli_json(
        "model", "promote", "credit:latest", "--alias", "champion", "--to-workspace", "prod", env=env
    )
    print(f"  promotion {asked['id']}: {asked['state']}: the requester cannot approve it; the reviewer can")
    reviewer = subprocess.run(
        [
            sys.executable,
            "-m",
            "shipyard",
            "token",
            "create",
            "--name",
            f"demo-{asked['id']}",
            "--user",
            "reviewer",
        ],
        env=env,
        check=True,
        text=True,
        capture_output=True,
    ).stdout.strip()
    shipyard(
        "model",
        "approve",
        str(asked["id"]),
        "--comment",
        "checked the report",
        env={**prod, "SHIPYARD_TOKEN": reviewer},
    )
    shipyard("model", "version", "show", "credit", "champion", env=prod)

    step("14. where the model came from and where it went: lineage and the model card")
    version = f"model:credit:{asked['source'].rsplit(':', 1)[1]}" if asked.get("source") else "model:credit:1"
    shipyard("lineage", "show", version, env=env)
    shipyard("lineage", "show", version, "--format", "mermaid", env=env)
    card = DEMO / "credit-card.html"
    shipyard("model", "card", version.removeprefix("model:"), "--out", str(card), env=env)
    print(f"  the model card: {shown(card)} (and in the studio, on the version's page)")


def wait_for_monitor_run(env: dict[str, str]) -> None:
    ask = [sys.executable, "-m", "shipyard", "monitor", "show", "-n", "credit-monitor", "-o", "json"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        shown = json.loads(subprocess.run(ask, env=env, check=True, text=True, capture_output=True).stdout)
        if any(r["status"] in ("Completed", "Failed") for r in shown["runs"]):
            return
        time.sleep(1)
    raise SystemExit("the monitor's first run did not end within 2 minutes; see `shipyard job list`")


def send_credit_traffic(url: str, key: str, frame: Any) -> None:
    """Score ``frame`` in requests of 100 rows, then wait for the collector to write them."""
    features = ["age", "income", "debt_ratio", "region"]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        for start in range(0, len(frame), 100):
            rows = frame[features].iloc[start : start + 100].to_numpy().tolist()
            http.post(
                "/endpoints/credit/score", json={"input_data": {"columns": features, "data": rows}}
            ).raise_for_status()
    print(f"  scored {len(frame)} rows; the deployment's collector writes them within 5 s")
    time.sleep(6)


def deploy_and_score(env: dict[str, str]) -> None:
    endpoints = ROOT / "examples" / "endpoints"
    if shipyard("online-endpoint", "show", "-n", "iris", env=env, check=False).returncode != 0:
        shipyard("online-endpoint", "create", "-f", str(endpoints / "endpoint.yml"), env=env)
    if (
        shipyard("online-deployment", "show", "-n", "blue", "-e", "iris", env=env, check=False).returncode
        == 0
    ):
        shipyard("online-deployment", "update", "-f", str(endpoints / "blue.yml"), env=env)
    else:
        shipyard("online-deployment", "create", "-f", str(endpoints / "blue.yml"), "--all-traffic", env=env)
    request = str(endpoints / "request.json")
    shipyard("online-endpoint", "invoke", "-n", "iris", "--request-file", request, env=env)


def where_to_look(url: str) -> None:
    """Commands that work from the user's shell: the venv's CLI, the port this run used, and
    the sign-in (their own login, since the demo's is kept under .demo/)."""
    port = url.rsplit(":", 1)[1]
    token_file = shown(TOKEN_FILE)
    step("where to look")
    print(f"  data folder:     {shown(HOME)}")
    print(f"  start it again:  {SHIPYARD} up --home {shown(HOME)} --port {port}")
    print("  then, from another shell in this folder:")
    print(f"    export SHIPYARD_URL={url}")
    print(f"    {SHIPYARD} login --token-file {token_file}    # sign in as admin (once; kept in ~/.config)")
    print(f"    {SHIPYARD} run list -e iris-demo")
    request = shown(ROOT / "examples" / "endpoints" / "request.json")
    print(f"    {SHIPYARD} online-endpoint invoke -n iris --request-file {request}")
    print("      (the endpoint's worker is ready a few seconds after the server)")
    print(f"  the mlflow client: MLFLOW_TRACKING_URI={url} MLFLOW_TRACKING_TOKEN=$(cat {token_file})")
    token = TOKEN_FILE.read_text(encoding="utf-8").strip()
    print(f"  the studio (once started again):  {url}/login?token={token}&next=/")
    print("    (Experiments → iris-advisor → Traces: step 9's traced app, its span trees and feedback)")
    print(f"  the admin's token: {token_file} (mode 0600); more users: {SHIPYARD} user create --help")


if __name__ == "__main__":
    main()
