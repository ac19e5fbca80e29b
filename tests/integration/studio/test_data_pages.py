"""Data asset pages: the latest version of each asset, and one asset's versions with its path,
schema and row count; the API's errors shown as it gave them, bad input never a 500."""

from __future__ import annotations

import hashlib
import re

import pytest

from tests.integration.studio.conftest import Studio


def _register(studio: Studio, name: str, files: dict[str, bytes], kind: str) -> dict[str, object]:
    entries = []
    for path, body in files.items():
        digest = hashlib.sha256(body).hexdigest()
        assert studio.owner.request("PUT", f"/api/v1/blobs/{digest}", content=body).status_code in (200, 201)
        entries.append({"path": path, "size": len(body), "sha256": digest})
    snapshot = studio.owner.request("POST", "/api/v1/snapshots", json={"files": entries})
    assert snapshot.status_code in (200, 201), snapshot.text
    made = studio.owner.request(
        "POST", "/api/v1/data", json={"name": name, "type": kind, "snapshot": snapshot.json()["digest"]}
    )
    assert made.status_code == 201, made.text
    answer: dict[str, object] = made.json()
    return answer


@pytest.fixture(scope="module")
def assets(studio: Studio) -> dict[str, object]:
    first = _register(
        studio, "studio-d-iris", {"iris.csv": b"sepal_length,species\n5.1,setosa\n"}, "uri_file"
    )
    second = _register(
        studio, "studio-d-iris",
        {"iris.csv": b"sepal_length,petal_width,species\n5.1,0.2,setosa\n4.9,0.2,setosa\n7.0,1.4,versicolor\n"},
        "uri_file",
    )  # fmt: skip
    folder = _register(studio, "studio-d-images", {"a.bin": b"\x00\x01", "b.bin": b"\x02"}, "uri_folder")
    external = studio.owner.request(
        "POST",
        "/api/v1/data",
        json={"name": "studio-d-lake", "type": "uri_folder", "path": "s3://bucket/raw/"},
    )
    assert external.status_code == 201, external.text
    return {"first": first, "second": second, "folder": folder}


def test_the_list_shows_the_latest_version_of_each_asset(studio: Studio, assets: dict[str, object]) -> None:
    page = studio.browser.get("/studio/data")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    row = page.text.split('href="/studio/data/studio-d-iris">studio-d-iris</a>')[1].split("</tr>")[0]
    assert 'version=2">2</a>' in row and "<code>uri_file</code>" in row and '<td class="num">3</td>' in row
    assert (
        'href="/studio/data/studio-d-images"' in page.text
        and 'href="/studio/data/studio-d-lake"' in page.text
    )


def test_an_asset_shows_path_schema_rows_and_every_version(studio: Studio, assets: dict[str, object]) -> None:
    page = studio.browser.get("/studio/data/studio-d-iris")
    assert page.status_code == 200 and "version 2</small>" in page.text  # latest by default
    assert f"<code>{assets['second']['path']}</code>" in page.text  # type: ignore[index]
    columns = page.text.split('id="columns"')[1].split("</table>")[0]
    assert re.findall(r"<td>(\w+)</td><td><code>(\w+)</code>", columns) == [
        ("sepal_length", "double"), ("petal_width", "double"), ("species", "string"),
    ]  # fmt: skip
    assert '<th scope="row">Rows</th><td>3</td>' in page.text
    versions = page.text.split('id="asset-versions"')[1].split("</table>")[0]
    assert (
        "<strong>2</strong>" in versions and 'href="/studio/data/studio-d-iris?version=1">1</a>' in versions
    )
    profile = page.text.split('id="profile-columns"')[1].split("</table>")[0]
    rows = re.findall(r'<tr>\s*<th scope="row">(\w+)</th>\s*<td>(\w+) <code>(\w+)</code></td>', profile)
    assert rows == [
        ("sepal_length", "numerical", "double"), ("petal_width", "numerical", "double"),
        ("species", "categorical", "string"),
    ]  # fmt: skip
    assert "min 4.9 · max 7 · mean 5.66667" in profile and "<code>setosa</code> 2</li>" in profile
    # A bar per bin, drawn by the server; 0.2 appears twice, 1.4 once: the first bar is the tallest.
    petal = profile.split('aria-label="petal_width: 20 bins from 0.2 to 1.4"')[1].split("</svg>")[0]
    heights = [float(h) for h in re.findall(r'height="([\d.]+)"', petal)]
    assert len(heights) == 20 and heights[0] == 40.0 and heights[-1] == 20.0 and sum(heights) == 60.0
    assert "Statistics over all 3 rows, 3 columns, from 1 file" in page.text


def test_an_older_version_is_chosen_in_the_url(studio: Studio, assets: dict[str, object]) -> None:
    page = studio.browser.get("/studio/data/studio-d-iris", params={"version": "1"})
    assert page.status_code == 200 and "version 1</small>" in page.text
    columns = page.text.split('id="columns"')[1].split("</table>")[0]
    assert "petal_width" not in columns and "sepal_length" in columns
    assert "version 2</small>" in studio.browser.get("/studio/data/studio-d-iris?version=latest").text


def test_a_folder_and_an_external_url_say_why_they_have_no_schema(
    studio: Studio, assets: dict[str, object]
) -> None:
    folder = studio.browser.get("/studio/data/studio-d-images")
    assert folder.status_code == 200 and "No schema" in folder.text and 'id="columns"' not in folder.text
    assert '<th scope="row">Files</th><td>2</td>' in folder.text and "uploaded: a snapshot" in folder.text
    lake = studio.browser.get("/studio/data/studio-d-lake")
    assert "<code>s3://bucket/raw/</code>" in lake.text and "external: recorded, not copied" in lake.text
    assert "never for an external URL" in lake.text
    # The profile panel shows why there is none, as the API says it (400 not_tabular).
    for page, words in ((folder, "which is not a CSV, TSV or Parquet file"), (lake, "is an external URL")):
        panel = page.text.split('id="profile-error"')[1].split("</div>")[0]
        assert "400 INVALID_ARGUMENT" in panel and "cannot be profiled" in panel and words in panel
        assert 'id="profile-columns"' not in page.text


def test_unknown_asset_and_version_are_the_apis_404(studio: Studio, assets: dict[str, object]) -> None:
    for path, params, words in (
        ("/studio/data/no-such-asset", {}, "no-such-asset"),
        ("/studio/data/studio-d-iris", {"version": "7"}, "7"),
        ("/studio/data/studio-d-iris", {"version": "../../x"}, ""),
    ):
        page = studio.browser.get(path, params=params)
        assert page.status_code in (404, 400), (path, params)
        message = re.search(r"<strong>(\d+) (\w+)</strong>: ([^<]*)</p>", page.text)
        assert message and words in message.group(3), (path, params, page.text[-600:])


def test_bad_page_values_fall_back_and_an_empty_page_says_so(
    studio: Studio, assets: dict[str, object]
) -> None:
    for bad in ("x", "-1", "0"):
        page = studio.browser.get("/studio/data", params={"page": bad})
        assert page.status_code == 200 and "studio-d-iris" in page.text, bad
    far = studio.browser.get("/studio/data", params={"page": "500"})
    assert far.status_code == 200 and "No data assets on page 500" in far.text


def test_a_role_without_data_read_is_told_which_permission_and_roles(
    studio: Studio, assets: dict[str, object]
) -> None:
    role = "studio-c-models-only"
    made = studio.owner.request("POST", "/api/v1/roles", json={"name": role, "permissions": ["models:read"]})
    assert made.status_code in (201, 409), made.text
    browser = studio.client_for(role)
    for path in ("/studio/data", "/studio/data/studio-d-iris"):
        page = browser.get(path)
        assert page.status_code == 403, path
        assert (
            "You need a role with <code>data:read</code>" in page.text and "<code>reader</code>" in page.text
        )


def test_no_data_yet_is_an_empty_state(studio: Studio) -> None:
    studio.browser.client.cookies.set("shipyard_workspace", "studio-c-empty-data")
    try:
        page = studio.browser.get("/studio/data")
    finally:
        studio.browser.client.cookies.delete("shipyard_workspace")
    assert (
        page.status_code == 200 and "No data assets yet" in page.text and 'id="data-assets"' not in page.text
    )
