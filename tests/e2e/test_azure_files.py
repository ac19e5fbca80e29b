"""An Azure ML user's files through the CLI, against a real server: a cluster file becomes a
local target, a conda file is installed under PyPI names (or refused with the names it
cannot install), a job with an untyped input and an https input runs — the URL fetched, never
handed to the command — and a job naming missing things is refused at once, line by line."""

from __future__ import annotations

import functools
import http.server
import json
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.client.client import Client
from tests.conftest import ServerProcess
from tests.e2e.test_jobs import run_cli

slow = pytest.mark.slow


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = ServerProcess(tmp_path_factory.mktemp("azure") / "home").start()
    try:
        yield server.url
    finally:
        server.stop()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        return


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server standing for a public blob container."""
    root = tmp_path_factory.mktemp("www")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_an_azure_cluster_file_becomes_a_local_target_with_a_note(server_url: str, tmp_path: Path) -> None:
    (tmp_path / "cluster.yml").write_text(
        textwrap.dedent(
            """\
            $schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json
            name: cpu-cluster
            type: amlcompute
            size: STANDARD_DS3_v2
            min_instances: 0
            max_instances: 2
            idle_time_before_scale_down: 120
            """
        )
    )
    done = run_cli("compute", "create", "-f", str(tmp_path / "cluster.yml"), url=server_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "compute cpu-cluster: local, up to 2 jobs at once"
    assert (
        "note: type amlcompute: a local target on the server's host (give --address for a Ray cluster)"
        in done.stderr
    )
    assert (
        "note: ignored (they describe cloud machines): VM size, nodes kept running, scale-down delay"
        in done.stderr
    )
    (tmp_path / "spark.yml").write_text("name: pool\ntype: synapsespark\nresource_id: /subscriptions/x\n")
    refused = run_cli("compute", "create", "-f", str(tmp_path / "spark.yml"), url=server_url)
    assert refused.returncode == 1
    assert "needs Spark (attached Synapse Spark pools), a cloud-only feature of Azure ML" in refused.stderr
    assert "(INVALID_SPEC)" in refused.stderr and "Traceback" not in refused.stderr


def test_a_conda_file_is_installed_under_pypi_names_or_refused_by_name(
    server_url: str, tmp_path: Path
) -> None:
    (tmp_path / "conda.yml").write_text(
        "channels: [conda-forge]\ndependencies:\n  - python=3.11\n  - numpy=1.26\n  - scikit-learn\n  - mkl\n"
    )
    (tmp_path / "env.yml").write_text("name: sk-env\nconda_file: conda.yml\n")
    done = run_cli("environment", "create", "-f", str(tmp_path / "env.yml"), "-o", "json", url=server_url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["spec"]["requirements"] == ["numpy==1.26.*", "scikit-learn"]
    assert "note: conda packages mkl: not installed, PyPI wheels carry them" in done.stderr
    (tmp_path / "conda.yml").write_text("dependencies:\n  - python=3.11\n  - r-base\n  - numpy\n")
    refused = run_cli("environment", "create", "-f", str(tmp_path / "env.yml"), url=server_url)
    assert refused.returncode == 1
    assert "cannot be installed from PyPI: 'r-base' (the R language)" in refused.stderr
    assert "(INVALID_SPEC)" in refused.stderr


@slow
def test_a_job_reads_an_untyped_folder_and_an_https_file_on_an_azure_compute(
    server_url: str, web: tuple[str, Path], tmp_path: Path
) -> None:
    base, www = web
    (www / "iris.csv").write_text("sepal,petal\n5.1,1.4\n4.9,1.4\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "show.py").write_text(
        "import pathlib, sys\n"
        "folder, csv = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])\n"
        "print('folder holds', sorted(p.name for p in folder.iterdir()))\n"
        "print('csv at', csv, 'with', len(csv.read_text().splitlines()), 'lines')\n"
    )
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("a")
    (tmp_path / "job.yml").write_text(
        textwrap.dedent(
            f"""\
            $schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
            code: src
            command: python show.py ${{{{inputs.corpus}}}} ${{{{inputs.iris}}}}
            inputs:
              corpus:
                path: corpus
              iris:
                type: uri_file
                path: {base}/iris.csv
            compute: azureml:azure-pool
            """
        )
    )
    (tmp_path / "pool.yml").write_text("name: azure-pool\ntype: computeinstance\nsize: STANDARD_DS3_v2\n")
    made = run_cli("compute", "create", "-f", str(tmp_path / "pool.yml"), url=server_url)
    assert made.stdout.strip() == "compute azure-pool: local, up to 1 job at once", made.stderr
    done = run_cli("job", "create", "-f", str(tmp_path / "job.yml"), "--stream", url=server_url, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "folder holds ['a.txt']" in done.stdout
    assert "/inputs/iris/iris.csv with 3 lines" in done.stdout  # a local path, not the URL
    assert f"input iris: {base}/iris.csv: fetched 1 file, " in done.stdout


def test_a_job_naming_missing_things_is_refused_at_once_line_by_line(server_url: str, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('never runs')\n")
    (tmp_path / "job.yml").write_text(
        textwrap.dedent(
            """\
            code: src
            command: python train.py --data ${{inputs.iris}}
            inputs:
              iris:
                type: uri_file
                path: azureml:irs@latest
            environment: azureml:AzureML-AutoML@latest
            compute: azureml:gpu-cluster
            """
        )
    )
    done = run_cli("job", "create", "-f", str(tmp_path / "job.yml"), url=server_url)
    assert done.returncode == 1
    job = tmp_path / "job.yml"
    assert done.stderr.startswith(
        "error: 3 things this job names are missing or cannot be used (nothing was uploaded):\n"
    ), done.stderr
    assert f"  {job} line 8: no compute target named 'gpu-cluster'" in done.stderr
    assert (
        f"  {job} line 7: 'AzureML-AutoML' is not a curated environment Shipyard has a built-in spec for"
        in done.stderr
    )
    assert f"  {job} line 6: input 'iris': no data asset 'irs@latest'" in done.stderr
    assert "(NOT_FOUND)" in done.stderr and "code:" not in done.stderr  # no "code: N files" upload line


@slow
def test_a_registered_model_is_an_input_by_name_and_version(server_url: str, tmp_path: Path) -> None:
    with Client(server_url) as client:
        run = client.create_run(client.get_or_create_experiment("models-as-inputs").id)
        (tmp_path / "model").mkdir()
        (tmp_path / "model" / "weights.txt").write_text("w=1")
        client.log_artifact(run.id, tmp_path / "model", "model")
        version = client.register_model("scorer", run.id, "model").version
    (tmp_path / "job.yml").write_text(
        "command: ls ${{inputs.scorer}} && cat ${{inputs.scorer}}/weights.txt\n"
        f"inputs:\n  scorer:\n    type: custom_model\n    path: azureml:scorer:{version}\n"
    )
    done = run_cli("job", "create", "-f", str(tmp_path / "job.yml"), "--stream", url=server_url, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"input scorer: model scorer:{version}" in done.stdout
    assert "weights.txt\nw=1" in done.stdout
    (tmp_path / "job.yml").write_text(
        "command: ls ${{inputs.scorer}}\ninputs:\n  scorer:\n    type: mlflow_model\n    path: azureml:scorer:99\n"
    )
    missing = run_cli("job", "create", "-f", str(tmp_path / "job.yml"), url=server_url)
    assert missing.returncode == 1
    assert "line 5: input 'scorer': model 'scorer' has no version 99 (`shipyard model list`" in missing.stderr
