"""Snapshots and data assets as a user meets them: a real server, the SDK, raw HTTP for the
bad input, and the ``shipyard data`` commands run as subprocesses."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shipyard.client.client import Client
from shipyard.errors import InvalidArgument, NotFound
from shipyard.specs.snapshot import scan_code
from tests.conftest import AUTH, ServerProcess
from tests.e2e.test_cli import ok, run_cli, strict_json

slow = pytest.mark.slow


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server for the module: a start costs seconds, and each test uses its own names."""
    server = ServerProcess(tmp_path_factory.mktemp("data") / "home").start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def client(server_url: str) -> Iterator[Client]:
    client = Client(server_url)
    yield client
    client.close()


def make_folder(root: Path, seed: str) -> dict[str, bytes]:
    files = {
        "train.py": f"print('{seed}')\n".encode(),
        "data/big.bin": os.urandom(300_000),
        "data/copy.bin": b"",  # filled below: the same bytes as big.bin
        "bin/run.sh": f"#!/bin/sh\necho {seed}\n".encode(),
    }
    files["data/copy.bin"] = files["data/big.bin"]
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "bin" / "run.sh").chmod(0o755)
    return files


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# -- snapshots -------------------------------------------------------------------------


@slow
def test_second_upload_of_a_folder_sends_no_bytes_and_download_reproduces_it(
    client: Client, tmp_path: Path
) -> None:
    files = make_folder(tmp_path / "src", "dedup")
    seen: list[tuple[int, int]] = []
    first = client.upload_folder(tmp_path / "src", progress=lambda done, total: seen.append((done, total)))
    distinct = sum(len(d) for d in {hashlib.sha256(d).hexdigest(): d for d in files.values()}.values())
    assert first.uploaded_bytes == distinct
    assert first.size == sum(len(d) for d in files.values())
    assert seen[-1] == (distinct, distinct)
    second = client.upload_folder(tmp_path / "src")
    assert (second.digest, second.uploaded_bytes) == (first.digest, 0)
    assert first.digest == scan_code(tmp_path / "src").digest  # the job's code digest, too

    out = client.download_snapshot(first.digest, tmp_path / "copy")
    assert tree(out) == files
    assert (out / "bin" / "run.sh").stat().st_mode & stat.S_IXUSR
    assert not (out / "train.py").stat().st_mode & stat.S_IXUSR


@slow
def test_ignored_files_stay_home(client: Client, tmp_path: Path) -> None:
    (tmp_path / "p" / "outputs").mkdir(parents=True)
    (tmp_path / "p" / "train.py").write_text("print(1)\n")
    (tmp_path / "p" / "outputs" / "model.bin").write_bytes(b"x" * 1000)
    (tmp_path / "p" / ".amlignore").write_text("outputs/\n")
    snapshot = client.upload_folder(tmp_path / "p")
    assert [f.path for f in snapshot.files] == [".amlignore", "train.py"]


@slow
def test_a_blob_under_the_wrong_hash_is_refused(server_url: str) -> None:
    wrong = hashlib.sha256(b"something else").hexdigest()
    response = httpx.put(f"{server_url}/api/v1/blobs/{wrong}", content=b"these bytes", headers=AUTH)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_ARGUMENT"
    assert httpx.get(f"{server_url}/api/v1/blobs/{wrong}", headers=AUTH).status_code == 404
    missing = httpx.post(f"{server_url}/api/v1/blobs/missing", json={"sha256": [wrong]}, headers=AUTH).json()
    assert missing == {"missing": [wrong]}


@slow
@pytest.mark.parametrize("path", ["../escape.txt", "/etc/passwd", "%2e%2e/escape.txt", "a/../../b"])
def test_snapshot_paths_that_escape_are_refused(server_url: str, path: str) -> None:
    data = b"payload"
    sha = hashlib.sha256(data).hexdigest()
    assert httpx.put(f"{server_url}/api/v1/blobs/{sha}", content=data, headers=AUTH).status_code == 201
    body = {"files": [{"path": path, "size": len(data), "sha256": sha, "mode": 420}]}
    response = httpx.post(f"{server_url}/api/v1/snapshots", json=body, headers=AUTH)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "INVALID_PATH"


@slow
def test_a_snapshot_file_cannot_be_read_through_an_encoded_dotdot(client: Client, tmp_path: Path) -> None:
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "a.txt").write_text("a")
    digest = client.upload_folder(tmp_path / "f").digest
    base = f"{client.url}/api/v1/snapshots/{digest}/files"
    assert httpx.get(f"{base}/a.txt", headers=AUTH).content == b"a"
    for trick in ("%2e%2e/%2e%2e/settings.json", "%252e%252e/x", "..%2f..%2fx"):
        response = httpx.get(f"{base}/{trick}", headers=AUTH)
        assert response.status_code in (400, 404), trick
        assert response.json()["error"]["code"] in ("INVALID_PATH", "NOT_FOUND")


@slow
def test_a_snapshot_naming_a_blob_never_uploaded_says_which_file(server_url: str) -> None:
    sha = hashlib.sha256(os.urandom(32)).hexdigest()
    body = {"files": [{"path": "model/weights.bin", "size": 32, "sha256": sha}]}
    response = httpx.post(f"{server_url}/api/v1/snapshots", json=body, headers=AUTH)
    assert response.status_code == 400
    error = response.json()["error"]
    assert "model/weights.bin" in error["message"]
    assert error["details"]["missing"] == ["model/weights.bin"]


# -- data assets through the CLI -------------------------------------------------------

CSV = b"sepal_length,species,count\n5.1,setosa,1\n4.9,setosa,2\n6.3,virginica,3\n7.0,versicolor,4\n"


def write_spec(folder: Path, text: str) -> Path:
    spec = folder / "data.yml"
    spec.write_text(text)
    return spec


@slow
def test_create_from_a_yaml_file_then_show_list_and_download(server_url: str, tmp_path: Path) -> None:
    files = make_folder(tmp_path / "images", "cli")
    spec = write_spec(
        tmp_path,
        "$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json\n"
        "name: images\ntype: uri_folder\npath: ./images\ndescription: pictures\ntags: {stage: 1}\n",
    )
    created = strict_json(ok("data", "create", "-f", str(spec), "-o", "json", url=server_url))
    assert (created["name"], created["version"], created["type"]) == ("images", "1", "uri_folder")
    assert created["file_count"] == len(files)
    assert created["tags"] == {"stage": "1"}
    again = strict_json(ok("data", "create", "-f", str(spec), "-o", "json", url=server_url))
    assert again["version"] == "2"
    assert again["content_hash"] == created["content_hash"]

    shown = strict_json(ok("data", "show", "-n", "images", "--label", "latest", "-o", "json", url=server_url))
    assert shown["version"] == "2"
    assert "images" in ok("data", "list", url=server_url)
    table = ok("data", "show", "-n", "images", "-v", "1", url=server_url)
    assert created["content_hash"] in table
    assert "pictures" in table

    out = ok(
        "data", "download", "-n", "images", "-v", "1", "--download-path", str(tmp_path / "dl"), url=server_url
    )
    assert "to " in out
    assert tree(tmp_path / "dl" / "images") == files


@slow
def test_a_csv_file_asset_reports_its_schema_and_row_count(server_url: str, tmp_path: Path) -> None:
    (tmp_path / "iris.csv").write_bytes(CSV)
    spec = write_spec(tmp_path, "name: iris-csv\nversion: '2026.1'\ntype: uri_file\npath: iris.csv\n")
    ok("data", "create", "-f", str(spec), url=server_url)
    shown = strict_json(ok("data", "show", "-n", "iris-csv", "-o", "json", url=server_url))
    assert shown["row_count"] == 4
    assert shown["columns"] == [
        {"name": "sepal_length", "type": "double"},
        {"name": "species", "type": "string"},
        {"name": "count", "type": "int64"},
    ]
    table = ok("data", "show", "-n", "iris-csv", url=server_url)
    assert "sepal_length" in table
    assert "Schema (3 columns)" in table


@slow
def test_registering_a_version_twice_is_refused(server_url: str, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    spec = write_spec(tmp_path, "name: once\nversion: '1'\npath: a.txt\ntype: uri_file\n")
    ok("data", "create", "-f", str(spec), url=server_url)
    (tmp_path / "a.txt").write_text("changed")
    done = run_cli("data", "create", "-f", str(spec), url=server_url)
    assert done.returncode == 1
    assert "ALREADY_EXISTS" in done.stderr
    assert "immutable" in done.stderr
    assert "Traceback" not in done.stderr


@slow
def test_command_line_options_override_the_file_and_urls_are_recorded(
    server_url: str, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, "name: lake\npath: s3://bucket/raw/\n")
    created = strict_json(
        ok(
            "data",
            "create",
            "-f",
            str(spec),
            "--name",
            "lake-2",
            "--version",
            "7",
            "-o",
            "json",
            url=server_url,
        )
    )
    assert (created["name"], created["version"], created["path"]) == ("lake-2", "7", "s3://bucket/raw/")
    assert created["content_hash"] == ""
    done = run_cli("data", "download", "-n", "lake-2", "--download-path", str(tmp_path), url=server_url)
    assert done.returncode == 1
    assert "external URL" in done.stderr


@slow
@pytest.mark.parametrize(
    "args",
    [
        ["data", "show", "-n", "no-such-asset"],
        ["data", "show", "-n", "no-such-asset", "-v", "3"],
        ["data", "download", "-n", "no-such-asset"],
    ],
)
def test_an_unknown_asset_is_a_clean_error(server_url: str, args: list[str]) -> None:
    done = run_cli(*args, url=server_url)
    assert done.returncode == 1
    assert "error: no data asset 'no-such-asset'" in done.stderr
    assert "(NOT_FOUND)" in done.stderr
    assert "Traceback" not in done.stderr


@slow
def test_a_misspelt_field_in_the_file_is_named_before_anything_is_uploaded(
    server_url: str, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, "name: typo\npath: ./nowhere\ndescriptoin: x\n")
    done = run_cli("data", "create", "-f", str(spec), url=server_url)
    assert done.returncode == 1
    assert "descriptoin" in done.stderr
    assert "Traceback" not in done.stderr
    assert "typo" not in ok("data", "list", url=server_url)


@slow
def test_the_sdk_refuses_a_folder_as_uri_file_and_a_file_as_uri_folder_before_uploading(
    client: Client, tmp_path: Path
) -> None:
    (tmp_path / "a.csv").write_bytes(CSV)
    with pytest.raises(InvalidArgument, match="is a folder"):
        client.create_data_asset("wrong-type", tmp_path, type="uri_file")
    with pytest.raises(InvalidArgument, match="is a file"):
        client.create_data_asset("wrong-type", tmp_path / "a.csv", type="uri_folder")
    with pytest.raises(NotFound):
        client.get_data_asset("wrong-type")
    asset = client.create_data_asset("right-type", tmp_path / "a.csv", type="uri_file")
    assert (asset.version, asset.row_count) == ("1", 4)
    assert [a.version for a in client.list_data_asset_versions("right-type")] == ["1"]
