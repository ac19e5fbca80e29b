"""A no-code MLflow model served in its own environment, built with uv from the requirements
MLflow wrote beside it, when the server's interpreter does not have them: a real server, the
CLI, real uv builds and worker processes.

The model pins a psutil the server does not have, so its environment must be built (from
PyPI, or uv's cache); everything else it lists is what the test suite runs with. Builds are
kept in one folder for the whole test session (each server's ``envs`` links to it)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import ADMIN_TOKEN, ServerProcess

pytestmark = pytest.mark.slow

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
OTHER_PSUTIL = "7.1.0" if version("psutil") != "7.1.0" else "7.0.0"
ROWS = {"input_data": {"columns": COLUMNS, "data": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}}

DEPLOYMENT = """\
name: {name}
endpoint_name: own-env
model:
  path: model
  type: mlflow_model
instance_count: 1
readiness_probe:
  initial_delay: 0
  period: 1
"""


@pytest.fixture(scope="session")
def shared_envs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One environment cache for the session: a second build of the same spec is a hit."""
    return tmp_path_factory.mktemp("shared-envs")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, shared_envs: Path) -> ServerProcess:  # type: ignore[misc]
    home = tmp_path_factory.mktemp("own-env") / "home"
    home.mkdir()
    (home / "envs").symlink_to(shared_envs, target_is_directory=True)
    server = ServerProcess(home).start()
    try:
        yield server
    finally:
        server.stop()


def cli(*args: str, url: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env |= {"SHIPYARD_TOKEN": ADMIN_TOKEN, "SHIPYARD_URL": url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "shipyard", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=900, check=False,
    )  # fmt: skip


def save_model(folder: Path) -> None:
    """An sklearn iris model as MLflow saves it, its psutil pin changed to one the server lacks."""
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    iris = load_iris()
    x = pd.DataFrame(iris.data, columns=COLUMNS)
    model = LogisticRegression(max_iter=500).fit(x, iris.target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.save_model(model, str(folder), signature=infer_signature(x, model.predict(x)))
    requirements = folder / "requirements.txt"
    kept = [r for r in requirements.read_text().splitlines() if not r.startswith("psutil")]
    requirements.write_text("\n".join([*kept, f"psutil=={OTHER_PSUTIL}"]) + "\n")
    assert (folder / "python_env.yaml").is_file()  # what decides; it names requirements.txt


def test_a_model_the_server_cannot_load_as_is_scores_in_its_own_built_environment(
    served: ServerProcess, shared_envs: Path, tmp_path: Path
) -> None:
    url = served.url
    save_model(tmp_path / "model")
    (tmp_path / "endpoint.yml").write_text("name: own-env\nauth_mode: key\n")
    (tmp_path / "blue.yml").write_text(DEPLOYMENT.format(name="blue"))
    assert cli("online-endpoint", "create", "-f", str(tmp_path / "endpoint.yml"), url=url).returncode == 0

    done = cli("online-deployment", "create", "-f", str(tmp_path / "blue.yml"), "--all-traffic", url=url)
    assert done.returncode == 0, done.stdout + done.stderr
    # Each stage shows as it happens, in order, before the verdict: no "Creating" then silence.
    stages = [
        "online deployment own-env/blue: Creating",
        "model: downloading uploaded folder",
        " MB in ",  # "model: N files, X MB in Y s"
        "environment: built from the model's python_env.yaml",
        "  uv: Resolved ",
        "  uv: Installed ",
        "environment: built in ",
        "workers: starting 1 of revision",
        "workers: 0 (pid ",
        "ready after",
        ": every worker is ready",
        "online deployment own-env/blue: Succeeded",
    ]
    at = [done.stderr.find(stage) for stage in stages]
    assert -1 not in at and at == sorted(at), (list(zip(stages, at, strict=True)), done.stderr)

    request = tmp_path / "request.json"
    request.write_text(json.dumps(ROWS))
    scored = cli("online-endpoint", "invoke", "-n", "own-env", "--request-file", str(request), url=url)
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout) == [0, 2]

    log = cli("online-deployment", "get-logs", "-n", "blue", "-e", "own-env", "--lines", "5000", url=url)
    assert (
        "environment: built from the model's python_env.yaml (the server's Python lacks what it needs:"
        f" psutil {version('psutil')}, the model wants =={OTHER_PSUTIL})"
    ) in log.stdout, log.stdout
    assert "is installed as mlflow-skinny==" in log.stdout
    # The worker's interpreter is the built one, and it has the model's psutil, not the server's.
    python = re.search(r"environment: (\S+/venv/bin/python)\n", log.stdout)
    assert python is not None, log.stdout
    assert Path(python.group(1)).is_relative_to(served.home / "envs")
    site = list((shared_envs).glob(f"*/venv/lib/python*/site-packages/psutil-{OTHER_PSUTIL}.dist-info"))
    assert len(site) == 1

    # The same requirements again: the cached environment, no build.
    (tmp_path / "green.yml").write_text(DEPLOYMENT.format(name="green"))
    again = cli("online-deployment", "create", "-f", str(tmp_path / "green.yml"), url=url)
    assert again.returncode == 0, again.stderr
    log = cli("online-deployment", "get-logs", "-n", "green", "-e", "own-env", "--lines", "5000", url=url)
    assert "environment: cached, ready at once" in log.stdout, log.stdout


def test_requirements_uv_cannot_install_are_refused_by_create_itself(
    served: ServerProcess, tmp_path: Path
) -> None:
    url = served.url
    save_model(tmp_path / "model")
    with (tmp_path / "model" / "requirements.txt").open("a") as f:
        f.write("./wheels/private_lib-1.0-py3-none-any.whl\n")
    (tmp_path / "endpoint.yml").write_text("name: refused\nauth_mode: key\n")
    (tmp_path / "red.yml").write_text(DEPLOYMENT.format(name="red").replace("own-env", "refused"))
    assert cli("online-endpoint", "create", "-f", str(tmp_path / "endpoint.yml"), url=url).returncode == 0
    done = cli("online-deployment", "create", "-f", str(tmp_path / "red.yml"), url=url)
    assert done.returncode == 1
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("error: model uploaded folder "), done.stderr
    assert re.search(
        r"requirements\.txt line \d+: './wheels/private_lib-1\.0-py3-none-any\.whl' is not a package on an"
        r" index, which is all a model environment installs; name an environment in the deployment file"
        r" that provides it \(INVALID_SPEC\)$",
        error,
    ), done.stderr
    listed = cli("online-deployment", "list", "-e", "refused", "-o", "json", url=url)
    assert json.loads(listed.stdout) == []  # nothing recorded


def test_progress_answers_bad_offsets_and_unknown_deployments_with_4xx(
    served: ServerProcess, tmp_path: Path
) -> None:
    import httpx

    from tests.conftest import AUTH

    (tmp_path / "endpoint.yml").write_text("name: progress-ep\nauth_mode: key\n")
    assert (
        cli("online-endpoint", "create", "-f", str(tmp_path / "endpoint.yml"), url=served.url).returncode == 0
    )
    base = f"{served.url}/api/v1/online-endpoints"
    with httpx.Client(headers=AUTH, timeout=30) as http:
        for offset in ("-2", "ten", str(2**63)):
            r = http.get(f"{base}/progress-ep/deployments/blue/progress", params={"offset": offset})
            assert r.status_code == 400, r.text
            error = r.json()["error"]
            assert error["code"] == "INVALID_ARGUMENT" and "offset" in error["message"]
        r = http.get(f"{base}/progress-ep/deployments/nope/progress")
        assert r.status_code == 404 and "has no deployment named 'nope'" in r.json()["error"]["message"]
        r = http.get(f"{base}/nowhere/deployments/blue/progress")
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
