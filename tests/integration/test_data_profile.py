"""GET /api/v1/data/{name}/versions/{version}/profile: per-column statistics of a table, computed
once and kept; a clear 400 for what is not a table; 404 and 403 as every other data route."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal

from shipyard.api.data import DataProfile
from shipyard.client._convert import decode
from shipyard.domain.data_assets import DataAsset
from shipyard.server.app import create_app
from shipyard.services.data_profile import MAX_ROWS, DataProfiler
from shipyard.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.integration.studio.conftest import Studio
from tests.integration.studio.test_data_pages import _register as register

# 10 rows: x 1..9 and a null; city with a null and an empty cell; when as ISO dates; flag.
CSV = (
    b"x,city,when,flag,score\n"
    + b"".join(
        f"{x},{c},2026-01-{x:02d},{'true' if x % 2 else 'false'},{x / 2}\n".encode()
        for x, c in zip(
            range(1, 10),
            ["Oslo", "Oslo", "Oslo", "Rome", "Rome", "Lima", "Oslo", "Rome", "Oslo"],
            strict=True,
        )
    )
    + b",,,,\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    home = tmp_path_factory.mktemp("profile")
    app = create_app(Settings(home=home, roles="api"))
    with start_blocking_portal() as portal:
        made = Studio(app, portal, ADMIN_TOKEN, None, None, home)  # type: ignore[arg-type]
        made.owner = made.client({"Authorization": f"Bearer {ADMIN_TOKEN}"})
        made.browser = made.signed_in(ADMIN_TOKEN)
        try:
            yield made
        finally:
            for client in made._clients:
                portal.call(client.aclose)
            app.state.services.audit.stop()


def profile_of(server: Studio, name: str, version: str = "1") -> Any:
    return server.owner.request("GET", f"/api/v1/data/{name}/versions/{version}/profile")


def test_a_csv_gets_counts_nulls_histogram_top_values_and_dates(server: Studio) -> None:
    register(server, "prof-csv", {"t.csv": CSV}, "uri_file")
    answer = profile_of(server, "prof-csv")
    assert answer.status_code == 200, answer.text
    found = decode(DataProfile, answer.json())
    assert (found.rows, found.rows_read, found.sampled, found.columns) == (10, 10, False, 5)
    assert found.files == ["t.csv"]
    by: dict[str, Any] = {c["name"]: c for c in answer.json()["column_profiles"]}
    x = by["x"]
    assert (x["type"], x["data_type"], x["count"], x["nulls"], x["distinct"]) == (
        "numerical",
        "int64",
        9,
        1,
        9,
    )
    assert (x["minimum"], x["maximum"], x["mean"]) == (1.0, 9.0, 5.0)
    assert x["std"] == pytest.approx((60 / 9) ** 0.5)
    edges, counts = x["histogram"]["edges"], x["histogram"]["counts"]
    assert len(edges) == 21 and len(counts) == 20 and edges[0] == 1.0 and edges[-1] == 9.0
    assert sum(counts) == 9 and counts[0] == 1 and counts[-1] == 1  # 9 lands in the closed last bin
    city = by["city"]
    assert (city["type"], city["count"], city["nulls"], city["distinct"]) == ("categorical", 9, 1, 3)
    assert city["top"] == [
        {"value": "Oslo", "count": 5}, {"value": "Rome", "count": 3}, {"value": "Lima", "count": 1},
    ]  # fmt: skip
    assert "histogram" not in city or city["histogram"] is None
    when = by["when"]
    assert (when["type"], when["count"], when["nulls"], when["distinct"]) == ("datetime", 9, 1, 9)
    assert when["earliest"].startswith("2026-01-01") and when["latest"].startswith("2026-01-09")
    flag = by["flag"]
    assert flag["type"] == "categorical" and flag["top"] == [
        {"value": "True", "count": 5}, {"value": "False", "count": 4},
    ]  # fmt: skip
    assert by["score"]["type"] == "numerical" and by["score"]["maximum"] == 4.5


def test_a_profile_is_kept_and_read_back(server: Studio) -> None:
    made = register(server, "prof-kept", {"t.csv": b"a\n1\n2\n"}, "uri_file")
    asset = decode(DataAsset, made)
    store = server.app.state.services.data.snapshots.store  # type: ignore[attr-defined]
    key = DataProfiler.key(asset)
    assert not store.exists(key)
    first = profile_of(server, "prof-kept").json()
    assert store.exists(key)
    # The kept answer comes back, not a new computation: computed_at does not move.
    again = profile_of(server, "prof-kept", "latest").json()
    assert again == first


def test_parquet_and_a_folder_of_tables(server: Studio, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"v": [1.0, None, 3.0], "s": ["a", "b", "a"]}), tmp_path / "p.parquet")
    body = (tmp_path / "p.parquet").read_bytes()
    register(server, "prof-parquet", {"p.parquet": body}, "uri_file")
    found = profile_of(server, "prof-parquet").json()
    assert found["rows"] == 3 and [c["type"] for c in found["column_profiles"]] == [
        "numerical",
        "categorical",
    ]
    register(server, "prof-folder", {"a/1.parquet": body, "a/2.parquet": body}, "uri_folder")
    folder = profile_of(server, "prof-folder").json()
    assert folder["rows"] == 6 and folder["files"] == ["a/1.parquet", "a/2.parquet"]
    assert folder["column_profiles"][0]["nulls"] == 2


def test_what_is_not_a_table_is_a_clear_400(server: Studio) -> None:
    register(server, "prof-images", {"a.png": b"\x89PNG", "b.png": b"\x89PNG"}, "uri_folder")
    register(server, "prof-text", {"notes.txt": b"hello"}, "uri_file")
    lake = server.owner.request(
        "POST", "/api/v1/data", json={"name": "prof-lake", "type": "uri_folder", "path": "s3://b/raw/"}
    )
    assert lake.status_code == 201
    for name, words in (
        ("prof-images", "'a.png', which is not a CSV, TSV or Parquet file"),
        ("prof-text", "'notes.txt', which is not a CSV"),
        ("prof-lake", "external URL (s3://b/raw/)"),
    ):
        answer = profile_of(server, name)
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["code"] == "INVALID_ARGUMENT" and error["details"]["reason"] == "not_tabular"
        assert f"data asset {name}:1 cannot be profiled" in error["message"] and words in error["message"]


def test_a_file_that_is_no_table_inside_is_a_400_not_a_500(server: Studio) -> None:
    register(server, "prof-broken", {"t.csv": b"a,b\n1,2\n3,4,5\n"}, "uri_file")
    answer = profile_of(server, "prof-broken")
    assert answer.status_code == 400 and "could not be read as a table" in answer.json()["error"]["message"]


def test_unknown_version_is_404_and_a_role_without_data_read_is_403(server: Studio) -> None:
    register(server, "prof-404", {"t.csv": b"a\n1\n"}, "uri_file")
    missing = profile_of(server, "prof-404", "7")
    assert missing.status_code == 404 and "version '7'" in missing.json()["error"]["message"]
    assert profile_of(server, "prof-nothing").status_code == 404
    role = "prof-models-only"
    made = server.owner.request("POST", "/api/v1/roles", json={"name": role, "permissions": ["models:read"]})
    assert made.status_code in (201, 409), made.text
    denied = server.client_for(role).request("GET", "/api/v1/data/prof-404/versions/1/profile")
    assert denied.status_code == 403 and "data:read" in denied.json()["error"]["message"]
    reader = server.client_for("reader").request("GET", "/api/v1/data/prof-404/versions/1/profile")
    assert reader.status_code == 200


def test_only_the_first_rows_are_read_past_the_limit(server: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shipyard.services.data_profile.MAX_ROWS", 4)
    register(server, "prof-big", {"t.csv": b"a\n" + b"".join(b"%d\n" % i for i in range(10))}, "uri_file")
    found = profile_of(server, "prof-big").json()
    assert (found["rows"], found["rows_read"], found["sampled"]) == (10, 4, True)
    assert found["column_profiles"][0]["maximum"] == 3.0
    assert MAX_ROWS == 1_000_000


def test_a_header_alone_is_a_table_of_no_rows(server: Studio) -> None:
    register(server, "prof-empty", {"t.csv": b"a,b\n"}, "uri_file")
    found = profile_of(server, "prof-empty").json()
    assert (found["rows"], found["rows_read"], found["sampled"], found["columns"]) == (0, 0, False, 2)
    assert [(c["name"], c["count"], c["nulls"], c["distinct"]) for c in found["column_profiles"]] == [
        ("a", 0, 0, 0), ("b", 0, 0, 0),
    ]  # fmt: skip
