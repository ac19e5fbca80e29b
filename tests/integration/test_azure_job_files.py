"""Azure ML job files against the API in-process (the SDK over ASGI): every missing resource
reported at once before any upload, curated environments, remote inputs refused or fetched."""

from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI

from shipyard.client.client import Client
from shipyard.errors import InvalidArgument, NotFound
from shipyard.server.app import create_app
from shipyard.services.artifacts import ArtifactService
from shipyard.services.environment_ports import EnvironmentRequest, spec_hash
from shipyard.services.job_remote import RemoteInputs, fetchable_url
from shipyard.services.snapshots import SnapshotService
from shipyard.settings import Settings
from shipyard.specs.curated import curated_environment
from tests.conftest import ADMIN_TOKEN


class AppTransport(httpx.BaseTransport):
    """The SDK's blocking HTTP answered by the app in-process, every request path recorded."""

    def __init__(self, app: FastAPI, portal: BlockingPortal) -> None:
        self.asgi = httpx.ASGITransport(app=app)
        self.portal = portal
        self.requests: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        body = b"".join(request.stream)  # type: ignore[union-attr]
        headers = [
            (k, v) for k, v in request.headers.items() if k not in ("content-length", "transfer-encoding")
        ]
        inner = httpx.Request(request.method, request.url, headers=headers, content=body)

        async def call() -> httpx.Response:
            answer = await self.asgi.handle_async_request(inner)
            content = await answer.aread()
            return httpx.Response(answer.status_code, headers=answer.headers, content=content)

        return self.portal.call(call)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, AppTransport]]:
    app = create_app(Settings(home=tmp_path_factory.mktemp("azure-files"), roles="api"))
    with start_blocking_portal() as portal:
        transport = AppTransport(app, portal)
        client = Client("http://127.0.0.1", token=ADMIN_TOKEN, transport=transport)
        try:
            yield client, transport
        finally:
            client.close()
            app.state.services.audit.stop()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('training')\n")
    return tmp_path


MISSING = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
code: src
command: python train.py --data ${{inputs.iris}} --base ${{inputs.base}}
inputs:
  iris:
    type: uri_file
    path: azureml:irs@latest
  base:
    path: runs:/0123456789abcdef/model
environment: azureml:sklearn-env@latest
compute: azureml:gpu-cluster
"""


def test_every_missing_resource_is_reported_at_once_with_its_line_before_any_upload(
    api: tuple[Client, AppTransport], project: Path
) -> None:
    client, transport = api
    (project / "job.yml").write_text(MISSING)
    sent = len(transport.requests)
    with pytest.raises(NotFound) as info:
        client.jobs.create(project / "job.yml")
    message = info.value.message
    job_file = str(project / "job.yml")
    assert message.startswith("4 things this job names are missing or cannot be used (nothing was uploaded):")
    for line, text in (
        (
            11,
            "no compute target named 'gpu-cluster' in workspace 'default'; create it with `shipyard compute create`",
        ),
        (
            10,
            "no environment sklearn-env@latest in workspace 'default'; register it with `shipyard environment create",
        ),
        (7, "input 'iris': no data asset 'irs@latest' in workspace 'default'"),
        (9, "input 'base': no run '0123456789abcdef' in this workspace (`shipyard run list`"),
    ):
        assert f"{job_file} line {line}: {text}" in message
    assert [p["line"] for p in info.value.details["problems"]] == [11, 10, 7, 9]
    # Asked once, refused: no blob, snapshot or job request followed.
    assert transport.requests[sent:] == ["POST /api/v1/jobs/check"]


def test_a_job_whose_resources_exist_is_checked_then_uploaded_then_submitted(
    api: tuple[Client, AppTransport], project: Path
) -> None:
    client, transport = api
    (project / "cluster.yml").write_text(
        "name: cpu-cluster\ntype: amlcompute\nsize: Standard_DS3_v2\nmax_instances: 2\n"
    )
    said: list[str] = []
    compute = client.computes.create_from_file(project / "cluster.yml", step=said.append)
    assert (compute.name, compute.kind, compute.max_concurrent) == ("cpu-cluster", "local", 2)
    assert said[0].startswith("note: type amlcompute: a local target on the server's host")
    (project / "job.yml").write_text("code: src\ncommand: python train.py\ncompute: cpu-cluster\n")
    sent = len(transport.requests)
    job = client.jobs.create(project / "job.yml")
    assert job.compute == "cpu-cluster"
    asked = transport.requests[sent:]
    assert asked[0] == "POST /api/v1/jobs/check" and asked[-1] == "POST /api/v1/jobs"
    assert any(r.startswith("POST /api/v1/snapshots") for r in asked)


def test_a_curated_environment_is_its_built_in_spec_unless_the_workspace_has_one(
    api: tuple[Client, AppTransport], project: Path
) -> None:
    client, _ = api
    (project / "job.yml").write_text(
        "command: python -c 'import sklearn'\n"
        "environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest\n"
    )
    curated = curated_environment("sklearn-1.5")
    assert curated is not None
    expected = spec_hash(EnvironmentRequest(python=curated.python, requirements=curated.requirements))
    assert client.jobs.create(project / "job.yml").environment_hash == expected
    (project / "conda.yml").write_text("dependencies:\n  - python=3.11\n  - scikit-learn=1.5\n")
    (project / "env.yml").write_text("name: sklearn-1.5\nconda_file: conda.yml\n")
    mine = client.environments.create(project / "env.yml")
    assert mine.spec["requirements"] == ["scikit-learn==1.5.*"]
    assert client.jobs.create(project / "job.yml").environment_hash == mine.spec_hash


def test_an_unknown_curated_name_says_which_ones_shipyard_knows(
    api: tuple[Client, AppTransport], project: Path
) -> None:
    client, _ = api
    (project / "job.yml").write_text(
        "command: echo\nenvironment: azureml://registries/azureml/environments/model-evaluation/versions/6\n"
    )
    with pytest.raises(NotFound) as info:
        client.jobs.create(project / "job.yml")
    assert (
        f"{project / 'job.yml'} line 2: 'model-evaluation' is not a curated environment" in info.value.message
    )
    assert (
        "it knows sklearn, lightgbm, xgboost, pytorch, acpt-pytorch, tensorflow, mlflow, minimal"
        in info.value.message
    )


def test_a_remote_input_this_server_cannot_read_is_refused_with_the_reason(
    api: tuple[Client, AppTransport], project: Path
) -> None:
    client, _ = api
    (project / "job.yml").write_text(
        "command: cat ${{inputs.a}} ${{inputs.b}}\ninputs:\n  a:\n    type: uri_file\n    path: foo://bucket/a.csv\n"
        "  b:\n    type: uri_file\n    path: https://example.invalid/b.csv\n"
    )
    with pytest.raises(InvalidArgument) as info:
        client.jobs.create(project / "job.yml")
    assert info.value.message == (
        f"{project / 'job.yml'} line 5: input 'a': 'foo://bucket/a.csv': no fsspec filesystem reads foo:// URLs;"
        " use https://, s3://, gs://, abfs:// (with their packages installed), or a data asset"
    )


def test_a_protocol_whose_package_is_missing_names_the_package() -> None:
    if importlib.util.find_spec("adlfs") is not None:
        pytest.skip("adlfs is installed here: abfs:// is readable")
    with pytest.raises(InvalidArgument) as info:
        RemoteInputs.check("abfs://data@account.dfs.core.windows.net/iris.csv", "input 'iris'")
    assert (
        "input 'iris': 'abfs://data@account.dfs.core.windows.net/iris.csv' cannot be read by this server"
        in info.value.message
    )
    assert "Install adlfs" in info.value.message


def test_wasbs_urls_are_read_over_https() -> None:
    assert fetchable_url("wasbs://datasets@azuremlexamples.blob.core.windows.net/iris.csv") == (
        "https://azuremlexamples.blob.core.windows.net/datasets/iris.csv"
    )
    assert fetchable_url("wasbs://account.blob.core.windows.net/container/x/") == (
        "https://account.blob.core.windows.net/container/x/"
    )
    assert fetchable_url("s3://bucket/key") == "s3://bucket/key"


# -- fetching, for real, from a local HTTP server ----------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        return


def test_a_remote_file_is_fetched_once_then_copied_from_the_store_until_it_changes(
    artifacts: ArtifactService, served: tuple[str, Path], tmp_path: Path
) -> None:
    base, root = served
    (root / "iris.csv").write_text("a,b\n1,2\n")
    store = artifacts.store
    remote = RemoteInputs(store, SnapshotService(store, artifacts))
    said: list[str] = []
    assert remote.fetch(f"{base}/iris.csv", tmp_path / "one", said.append) == ["iris.csv"]
    assert (tmp_path / "one" / "iris.csv").read_text() == "a,b\n1,2\n"
    assert said[-1].startswith(f"{base}/iris.csv: fetched 1 file, 8 bytes (snapshot ")
    remote.fetch(f"{base}/iris.csv", tmp_path / "two", said.append)
    assert "unchanged since it was fetched, copied from the store" in said[-1]
    assert (tmp_path / "two" / "iris.csv").read_text() == "a,b\n1,2\n"
    (root / "iris.csv").write_text("a,b\n3,4\n5,6\n")
    later = (root / "iris.csv").stat().st_mtime + 10  # Last-Modified has one-second steps
    os.utime(root / "iris.csv", (later, later))
    remote.fetch(f"{base}/iris.csv", tmp_path / "three", said.append)
    assert "fetched 1 file, 12 bytes" in said[-1]
    assert (tmp_path / "three" / "iris.csv").read_text() == "a,b\n3,4\n5,6\n"
    with pytest.raises(NotFound, match="does not exist"):
        remote.fetch(f"{base}/nope.csv", tmp_path / "four", said.append)
