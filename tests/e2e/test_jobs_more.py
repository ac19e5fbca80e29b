"""Jobs beyond tests/e2e/test_jobs.py, as a user runs them: environments built with uv and
cached, data assets and earlier runs as inputs, a real Ray head as a compute target, files
from Azure's public examples, and bad input met on the command line."""

from __future__ import annotations

import shutil
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.client.client import Client
from shipyard.compute.ray_head import local_ray_head, ray_executable
from shipyard.domain.jobs import Job, JobStatus
from tests.conftest import ServerProcess
from tests.e2e.test_jobs import run_cli

slow = pytest.mark.slow

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
AZUREML = Path(__file__).parent / "fixtures" / "azureml"


@pytest.fixture
def client(server: ServerProcess) -> Iterator[Client]:
    made = Client(server.url)
    yield made
    made.close()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def wait_for(client: Client, name: str, statuses: set[JobStatus], timeout: float = 120) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.jobs.get(name)
        if job.status in statuses:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {name} never reached {statuses}; it is {client.jobs.get(name).status}")


def log_of(client: Client, name: str) -> str:
    return b"".join(client.jobs.stream(name, follow=False)).decode()


def built_envs(server: ServerProcess) -> list[str]:
    """The finished environments in the server's cache (not builds in progress or failures)."""
    cache = server.home / "envs"
    if not cache.is_dir():
        return []
    return sorted(
        p.name for p in cache.iterdir() if p.is_dir() and p.name not in {"failed"} and p.name[0] != "."
    )


def conda_env(*pip: str) -> str:
    lines = "\n".join(f"            - {p}" for p in pip)
    return f"""
    dependencies:
      - python={PYTHON}
      - pip:
{lines}
    """


# iniconfig is also in the server's venv (pytest needs it): the path says which one was imported.
IMPORT_INICONFIG = (
    'command: python -c "import importlib.metadata as m, iniconfig;'
    " print('iniconfig', m.version('iniconfig'), 'from', iniconfig.__file__)\"\n"
)


# -- 1. environments: built once with uv, cached, failures named ------------------------------


@slow
def test_a_registered_environment_is_built_once_then_a_cache_hit(
    server: ServerProcess, tmp_path: Path, client: Client
) -> None:
    env_file = write(
        tmp_path,
        "env.yml",
        f"""
        name: ini-env
        version: "1"
        conda_file:
          dependencies:
            - python={PYTHON}
            - pip:
                - iniconfig
        """,
    )
    done = run_cli("environment", "create", "-f", str(env_file), url=server.url)
    assert done.returncode == 0, done.stderr
    job_file = write(tmp_path, "job.yml", IMPORT_INICONFIG + "environment: azureml:ini-env:1\n")

    first = run_cli("job", "create", "-f", str(job_file), "--stream", url=server.url)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "iniconfig 2." in first.stdout
    assert "[shipyard] environment: environment ini-env:1" in first.stdout
    assert ": built in " in first.stdout  # the build is in the job's log
    assert "cache hit" not in first.stdout
    assert len(built_envs(server)) == 1

    second = run_cli("job", "create", "-f", str(job_file), "--stream", url=server.url)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "iniconfig 2." in second.stdout
    assert ": cache hit" in second.stdout and "built in" not in second.stdout

    # The same spec written inline in the job file is the same environment: nothing built.
    inline = write(
        tmp_path,
        "inline.yml",
        IMPORT_INICONFIG
        + "environment:\n  conda_file:"
        + textwrap.indent(textwrap.dedent(conda_env("iniconfig")), "    "),
    )
    third = run_cli("job", "create", "-f", str(inline), "--stream", url=server.url)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "an environment built from the job's conda file" in third.stdout
    assert ": cache hit" in third.stdout
    assert len(built_envs(server)) == 1
    # Each ran in the built environment, not the server's.
    for out in (first.stdout, second.stdout, third.stdout):
        assert f"from {server.home / 'envs'}" in out


@slow
def test_an_inline_environment_is_built_for_the_job(server: ServerProcess, tmp_path: Path) -> None:
    job_file = write(
        tmp_path,
        "job.yml",
        "command: python -c \"import six; print('six', six.__version__)\"\n"
        "environment:\n  conda_file:" + textwrap.indent(textwrap.dedent(conda_env("six")), "    "),
    )
    done = run_cli("job", "create", "-f", str(job_file), "--stream", url=server.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "six 1." in done.stdout
    assert ": built in " in done.stdout
    assert len(built_envs(server)) == 1


@slow
def test_a_failing_build_fails_the_job_naming_the_package(
    server: ServerProcess, tmp_path: Path, client: Client
) -> None:
    job_file = write(
        tmp_path,
        "job.yml",
        "command: echo RAN-IT\n"
        "environment:\n  conda_file:"
        + textwrap.indent(textwrap.dedent(conda_env("this-package-does-not-exist-shipyard==1")), "    "),
    )
    done = run_cli("job", "create", "-f", str(job_file), "--stream", url=server.url)
    assert done.returncode == 1
    assert "RAN-IT" not in done.stdout  # neither run nor even rendered
    assert "environment_build_failed" in done.stderr
    assert "this-package-does-not-exist-shipyard" in done.stderr
    [job] = client.jobs.list()
    assert job.status is JobStatus.FAILED
    assert job.failure is not None and job.failure.cause == "environment_build_failed"
    assert "this-package-does-not-exist-shipyard" in job.failure.message
    assert "this-package-does-not-exist-shipyard" in job.failure.log_tail
    assert "this-package-does-not-exist-shipyard" in log_of(client, job.name)
    assert client.get_run(job.run_id).status == "FAILED"
    assert built_envs(server) == []


@slow
def test_an_environment_file_may_write_its_version_as_a_number(server: ServerProcess, tmp_path: Path) -> None:
    env_file = write(tmp_path, "env.yml", "name: numbered\nversion: 1\nconda_file:" + conda_env("iniconfig"))
    done = run_cli("environment", "create", "-f", str(env_file), url=server.url)
    assert done.returncode == 0, done.stderr


# -- 6. two jobs needing the same new environment at once: one build ---------------------------


@slow
def test_two_jobs_needing_one_new_environment_build_it_once(
    server: ServerProcess, tmp_path: Path, client: Client
) -> None:
    job_file = write(
        tmp_path,
        "job.yml",
        IMPORT_INICONFIG
        + "environment:\n  conda_file:"
        + textwrap.indent(textwrap.dedent(conda_env("iniconfig")), "    "),
    )
    made: list[Job] = []

    def submit() -> None:
        own = Client(server.url)
        try:
            made.append(own.jobs.create(job_file))
        finally:
            own.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 2
    finals = [wait_for(client, job.name, {JobStatus.COMPLETED, JobStatus.FAILED}) for job in made]
    assert [f.status for f in finals] == [JobStatus.COMPLETED] * 2, [f.failure for f in finals]
    logs = [log_of(client, job.name) for job in made]
    assert sum(": built in " in text for text in logs) == 1, logs
    assert sum(": cache hit" in text for text in logs) == 1, logs
    assert all("iniconfig 2." in text for text in logs)
    assert len(built_envs(server)) == 1


# -- 2. data assets and earlier runs as inputs --------------------------------------------------


@slow
def test_data_assets_are_inputs_by_label_and_by_version(
    server: ServerProcess, tmp_path: Path, client: Client
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "rows.csv").write_text("a,b\n1,2\n3,4\n5,6\n")
    (data / "more.csv").write_text("a,b\n7,8\n")
    for args in (
        ["-n", "rows", "-p", str(data / "rows.csv"), "-t", "uri_file"],
        ["-n", "folder", "-p", str(data)],
    ):
        done = run_cli("data", "create", *args, url=server.url)
        assert done.returncode == 0, done.stderr
    (data / "rows.csv").write_text("a,b\n1,2\n")  # version 2 of rows: one row
    done = run_cli(
        "data", "create", "-n", "rows", "-p", str(data / "rows.csv"), "-t", "uri_file", url=server.url
    )
    assert done.returncode == 0, done.stderr

    count = (
        "python -c \"import sys; print(sys.argv[1], len(open(sys.argv[2]).read().splitlines()) - 1, 'rows')\""
    )
    cases = {
        "azureml:rows@latest": ("uri_file", f"{count} latest ${{{{inputs.d}}}}", "latest 1 rows"),
        "azureml:rows:1": ("uri_file", f"{count} v1 ${{{{inputs.d}}}}", "v1 3 rows"),
        "azureml:folder@latest": ("uri_folder", "ls ${{inputs.d}}", "more.csv\nrows.csv"),
        "azureml:folder:1": ("uri_folder", "ls ${{inputs.d}}", "more.csv\nrows.csv"),
    }
    for path, (type_, command, expected) in cases.items():
        job_file = write(
            tmp_path,
            "job.yml",
            f"""
            command: {command}
            inputs:
              d:
                type: {type_}
                path: {path}
            """,
        )
        done = run_cli("job", "create", "-f", str(job_file), "--stream", url=server.url)
        assert done.returncode == 0, path + done.stdout + done.stderr
        assert expected in done.stdout, path + done.stdout


@slow
def test_an_earlier_jobs_output_is_an_input_through_its_run(
    server: ServerProcess, tmp_path: Path, client: Client
) -> None:
    producer = write(
        tmp_path,
        "train.yml",
        """
        command: echo weights-42 > ${{outputs.model}}/model.txt
        outputs:
          model:
            type: custom_model
        """,
    )
    first = client.jobs.create(producer)
    first = wait_for(client, first.name, {JobStatus.COMPLETED, JobStatus.FAILED})
    assert first.status is JobStatus.COMPLETED, first.failure
    consumer = write(
        tmp_path,
        "score.yml",
        f"""
        command: cat ${{{{inputs.model}}}}/model.txt
        inputs:
          model:
            type: custom_model
            path: runs:/{first.run_id}/outputs/model
        """,
    )
    done = run_cli("job", "create", "-f", str(consumer), "--stream", url=server.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "weights-42" in done.stdout
    # A file of it, as a uri_file.
    one = write(
        tmp_path,
        "one.yml",
        f"""
        command: cat ${{{{inputs.f}}}}
        inputs:
          f:
            type: uri_file
            path: runs:/{first.run_id}/outputs/model/model.txt
        """,
    )
    done = run_cli("job", "create", "-f", str(one), "--stream", url=server.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "weights-42" in done.stdout
    # A uri_file output is a file the command writes, as on Azure ML (not a folder).
    single = write(
        tmp_path,
        "single.yml",
        """
        command: echo hello > ${{outputs.greeting}}
        outputs:
          greeting:
            type: uri_file
        """,
    )
    made = wait_for(client, client.jobs.create(single).name, {JobStatus.COMPLETED, JobStatus.FAILED})
    assert made.status is JobStatus.COMPLETED, made.failure
    assert list(client.walk_artifacts(made.run_id, "outputs/greeting")) == ["outputs/greeting/greeting"]


# -- 5. bad input on the command line -----------------------------------------------------------


@slow
def test_set_of_a_path_the_job_does_not_have_is_refused(
    server: ServerProcess, tmp_path: Path, client: Client
) -> None:
    job_file = write(tmp_path, "job.yml", "command: echo ${{inputs.C}}\ninputs:\n  C: 1\n")
    for override, named in (
        ("colour=red", "colour"),
        ("inputs.nope=1", "nope"),
        ("limits.tmeout=3", "tmeout"),
    ):
        done = run_cli("job", "create", "-f", str(job_file), "--set", override, url=server.url)
        assert done.returncode != 0, override
        assert f"--set {override}" in done.stderr, done.stderr
        assert named in done.stderr
        assert "Traceback" not in done.stderr
    assert client.jobs.list() == []


@slow
def test_a_code_folder_past_the_limit_names_the_limit_and_the_largest_files(
    server: ServerProcess, tmp_path: Path, client: Client
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text("print('hi')\n")
    with (src / "checkpoint.bin").open("wb") as f:  # sparse: 101 MiB on paper, nothing on disk
        f.truncate(101 * 1024 * 1024)
    job_file = write(tmp_path, "job.yml", "code: src\ncommand: python train.py\n")
    done = run_cli("job", "create", "-f", str(job_file), url=server.url)
    assert done.returncode != 0
    assert "over the 100.0 MiB limit" in done.stderr, done.stderr
    assert "largest files: checkpoint.bin (101.0 MiB)" in done.stderr
    assert ".amlignore" in done.stderr
    assert "Traceback" not in done.stderr
    assert client.jobs.list() == []


@slow
def test_canceling_a_finished_job_changes_nothing(
    server: ServerProcess, tmp_path: Path, client: Client
) -> None:
    job_file = write(tmp_path, "job.yml", "command: echo done\n")
    job = client.jobs.create(job_file)
    before = wait_for(client, job.name, {JobStatus.COMPLETED})
    done = run_cli("job", "cancel", "-n", job.name, url=server.url)
    assert done.returncode == 0, done.stderr
    assert "Completed" in done.stderr
    after = client.jobs.get(job.name)
    assert after.status is JobStatus.COMPLETED and after.canceled_by is None and after.failure is None
    assert after.events == before.events
    assert client.get_run(job.run_id).status == "FINISHED"


@slow
def test_stream_and_download_name_what_is_wrong(
    server: ServerProcess, tmp_path: Path, client: Client
) -> None:
    done = run_cli("job", "stream", "-n", "no_such_job", url=server.url)
    assert done.returncode == 1
    assert "no job named 'no_such_job'" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr

    job_file = write(
        tmp_path,
        "job.yml",
        "command: touch ${{outputs.model}}/m ${{outputs.report}}/r\noutputs:\n  model:\n  report:\n",
    )
    job = client.jobs.create(job_file)
    wait_for(client, job.name, {JobStatus.COMPLETED})
    done = run_cli(
        "job", "download", "-n", job.name, "--output-name", "nope", "--download-path", str(tmp_path / "d"),
        url=server.url,
    )  # fmt: skip
    assert done.returncode == 1
    assert "no output 'nope'" in done.stderr and "model, report" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "d" / job.name).exists()
    done = run_cli(
        "job", "download", "-n", job.name, "--output-name", "report", "--download-path", str(tmp_path / "d"),
        url=server.url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "d" / job.name / "outputs" / "report" / "r").exists()
    assert not (tmp_path / "d" / job.name / "outputs" / "model").exists()


# -- 4. files from Azure's public examples (tests/e2e/fixtures/azureml/README.md: commits) -------


def examples_checkout(tmp_path: Path, *names: str) -> Path:
    """The example files where they sit in the azureml-examples repository."""
    basics = tmp_path / "azureml-examples" / "cli" / "jobs" / "basics"
    basics.mkdir(parents=True)
    for name in names:
        shutil.copy(AZUREML / name, basics / name)
    return basics


@slow
def test_azure_hello_world_examples_run_unchanged(
    server: ServerProcess, tmp_path: Path, client: Client
) -> None:
    # cli/jobs/basics/hello-world.yml @ c254fe54, hello-world-output.yml @ f33e4194,
    # hello-world-env-var.yml and hello-world-input.yml @ 085cd6ea: run as they are.
    names = ("hello-world.yml", "hello-world-env-var.yml", "hello-world-input.yml", "hello-world-output.yml")
    basics = examples_checkout(tmp_path, *names)
    outputs: dict[str, str] = {}
    for name in names:
        done = run_cli("job", "create", "-f", str(basics / name), "--stream", url=server.url)
        assert done.returncode == 0, name + done.stdout + done.stderr
        # image: is accepted, not pulled, and the log says what ran instead.
        assert "image 'library/python:latest' was not used" in done.stdout
        outputs[name] = done.stdout
    assert "\nhello world\n" in outputs["hello-world.yml"]
    assert "\nhello world\n" in outputs["hello-world-env-var.yml"]
    assert "\nhello world\n42\n" in outputs["hello-world-input.yml"]
    # Azure ML keeps what a job writes to ./outputs with the run; so does Shipyard.
    job = next(j for j in client.jobs.list() if "helloworld.txt" in j.command)
    kept = tmp_path / "helloworld.txt"
    client.download_artifact(job.run_id, "outputs/helloworld.txt", kept)
    assert kept.read_text() == "hello world\n"


@slow
def test_azure_model_as_output_example_runs_in_a_registry_environment(
    server: ServerProcess, tmp_path: Path, client: Client
) -> None:
    # cli/jobs/basics/hello-model-as-output.yml @ 085cd6ea, with its model folder where the
    # file expects it; its environment is azureml://registries/azureml/environments/
    # sklearn-1.5/labels/latest: the registry name is ignored, the name is Shipyard's.
    basics = examples_checkout(tmp_path, "hello-model-as-output.yml")
    model = basics.parent.parent / "assets" / "model" / "mlflow-model"
    model.mkdir(parents=True)
    (model / "MLmodel").write_text("flavors: {}\n")
    (model / "model.pkl").write_bytes(b"\x80\x04N.")
    # Our own stand-in for the example's script (the examples' code is not copied here).
    write(
        basics,
        "src/hello-model-as-output.py",
        """
        import argparse, pathlib, shutil
        p = argparse.ArgumentParser()
        p.add_argument("--input_model")
        p.add_argument("--custom_model_output")
        a = p.parse_args()
        print("input model files:", sorted(x.name for x in pathlib.Path(a.input_model).iterdir()))
        shutil.copytree(a.input_model, a.custom_model_output, dirs_exist_ok=True)
        """,
    )
    env = write(
        tmp_path, "sklearn.yml", "name: sklearn-1.5\nimage: mcr.microsoft.com/azureml/curated/sklearn-1.5\n"
    )
    done = run_cli("environment", "create", "-f", str(env), url=server.url)
    assert done.returncode == 0, done.stderr

    done = run_cli(
        "job", "create", "-f", str(basics / "hello-model-as-output.yml"), "--stream", url=server.url
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "input model files: ['MLmodel', 'model.pkl']" in done.stdout
    assert "environment sklearn-1.5:1" in done.stdout
    [job] = client.jobs.list()
    files = {f["path"] for f in client.list_artifacts(job.run_id, "outputs/output_folder")}
    assert files == {"outputs/output_folder/MLmodel", "outputs/output_folder/model.pkl"}


# -- 3. a ray compute target against a real local Ray head --------------------------------------


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A throw-away Ray head on 127.0.0.1 (free ports; only its own processes killed after)."""
    if not ray_executable().exists():
        pytest.skip("ray is not installed: pip install 'shipyard[ray]' (it is in the test extra)")
    with local_ray_head() as address:
        yield address


@slow
def test_a_job_on_a_ray_target_streams_logs_metrics_and_cancels(
    server: ServerProcess,
    tmp_path: Path,
    client: Client,
    ray_address: str,
) -> None:
    done = run_cli(
        "compute", "create", "--name", "cluster", "--type", "ray", "--address", ray_address, url=server.url
    )
    assert done.returncode == 0, done.stderr
    # A job on Ray runs the cluster's Python, not the server's. This cluster was started by
    # .venv/bin/ray, but `python` on its PATH is whatever the machine has, so the command names
    # the cluster's interpreter (the one with mlflow) as a user of such a cluster would.
    job_file = write(
        tmp_path,
        "job.yml",
        f"""
        command: >-
          {sys.executable} -c "import mlflow; print('hello from ray', flush=True);
          mlflow.log_metric('acc', 0.75)"
        compute: azureml:cluster
        experiment_name: on-ray
        """,
    )
    done = run_cli("job", "create", "-f", str(job_file), "--stream", url=server.url, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "on compute 'cluster' (ray)" in done.stdout
    assert "environment: the ray cluster's own Python" in done.stdout  # not "the server's"
    assert "hello from ray" in done.stdout
    [job] = client.jobs.list()
    assert job.compute == "cluster" and job.status is JobStatus.COMPLETED
    # The Ray worker reached the server's MLFLOW_TRACKING_URI: the metric is in the job's run.
    run = client.get_run(job.run_id)
    assert run.status == "FINISHED"
    assert run.metrics["acc"].value == 0.75
    kept = tmp_path / "std_log.txt"
    client.download_artifact(job.run_id, "user_logs/std_log.txt", kept)
    assert "hello from ray" in kept.read_text()

    sleepy = write(tmp_path, "sleepy.yml", "command: echo started; sleep 300\ncompute: azureml:cluster\n")
    running = client.jobs.create(sleepy)
    wait_for(client, running.name, {JobStatus.RUNNING}, timeout=120)
    done = run_cli("job", "cancel", "-n", running.name, url=server.url, timeout=120)
    assert done.returncode == 0, done.stderr
    final = wait_for(
        client, running.name, {JobStatus.CANCELED, JobStatus.FAILED, JobStatus.COMPLETED}, timeout=60
    )
    assert final.status is JobStatus.CANCELED, final.failure
    assert final.canceled_by == "admin"
    assert client.get_run(final.run_id).status == "KILLED"
