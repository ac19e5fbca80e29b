"""The run page (header, params, tags, metrics, charts, artifacts, lineage), the artifact
preview (text, JSON, CSV head, image, the cut of a large file, refused paths) and compare."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass

import pytest

from tests.integration.studio.conftest import Studio

# A 1x1 PNG: the preview shows an <img> pointing at the API's download.
_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@dataclass
class Made:
    experiment: str
    a: str
    b: str
    c: str
    child: str


def _run(studio: Studio, experiment: str, name: str, params: dict[str, str], **extra: object) -> str:
    made = studio.owner.request(
        "POST", "/api/v1/runs", json={"experiment_id": experiment, "name": name, "params": params, **extra}
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _metrics(studio: Studio, run: str, series: dict[str, list[float]]) -> None:
    body = {
        "metrics": [
            {
                "key": k,
                "steps": list(range(len(v))),
                "values": v,
                "timestamps": [1_000 + i for i in range(len(v))],
            }
            for k, v in series.items()
        ]
    }
    answer = studio.owner.request("POST", f"/api/v1/runs/{run}/metrics", json=body)
    assert answer.status_code == 200, answer.text


def _put(studio: Studio, run: str, path: str, content: bytes) -> None:
    answer = studio.owner.request("PUT", f"/api/v1/runs/{run}/artifacts/{path}", content=content)
    assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
def made(studio: Studio) -> Made:
    answer = studio.owner.request("POST", "/api/v1/experiments", json={"name": "run-pages"})
    assert answer.status_code == 201, answer.text
    experiment = str(answer.json()["id"])
    a = _run(
        studio, experiment, "run-a", {"lr": "0.01", "optimizer": "adam", "layers": "3"},
        tags={"team": "vision", "mlflow.source.name": "train.py"},
    )  # fmt: skip
    b = _run(studio, experiment, "run-b", {"lr": "0.1", "optimizer": "adam", "layers": "3"})
    c = _run(studio, experiment, "run-c", {"lr": "0.5", "optimizer": "sgd"})
    child = _run(studio, experiment, "run-a-child", {}, parent_run_id=a)
    _metrics(studio, a, {"loss": [1.0, 0.5, 0.25], "acc": [0.5, 0.7, 0.9], "system/cpu": [10.0, 20.0]})
    _metrics(studio, b, {"loss": [1.0, 0.8], "acc": [0.4, 0.6]})
    _metrics(studio, c, {"loss": [2.0]})
    _put(studio, a, "notes.txt", b"hello <world>\n")
    _put(studio, a, "conf/config.json", b'{"b": [1, 2], "a": "x"}')
    _put(studio, a, "table.csv", b"name,score\n" + b"".join(b"row%d,%d\n" % (i, i) for i in range(120)))
    _put(studio, a, "plot.png", _PNG)
    _put(studio, a, "big.log", b"".join(b"line %08d of a long log\n" % i for i in range(20_000)))
    _put(studio, a, "model/MLmodel", b"flavors:\n  python_function:\n    loader_module: x\n")
    _put(studio, a, "blob.bin", bytes(range(256)) * 4)
    return Made(experiment, a, b, c, child)


def text(answer: object) -> str:
    return html.unescape(answer.text)  # type: ignore[attr-defined]


def test_the_run_page_shows_header_params_tags_metrics_charts_and_artifacts(
    studio: Studio, made: Made
) -> None:
    answer = studio.browser.get(f"/studio/experiments/{made.experiment}/runs/{made.a}")
    assert answer.status_code == 200, answer.text
    page = text(answer)
    assert "run-a" in page and '<span class="status running">RUNNING</span>' in page
    assert f'href="/studio/experiments/{made.experiment}">run-pages</a>' in page
    for param in ("lr", "0.01", "optimizer", "adam"):
        assert f">{param}<" in page
    assert ">team<" in page and ">vision<" in page
    # mlflow.* tags are in the collapsed group, after the user's tags
    assert page.index('<details class="system-tags"') < page.index(">mlflow.source.name<")
    # the metrics table: latest, min, max, count
    row = re.search(r">loss</a></th>(.*?)</tr>", page, re.S)
    assert row is not None
    assert [c for c in re.findall(r'<td class="num">([^<]*)</td>', row.group(1))] == [
        "0.25",
        "2",
        "0.25",
        "1",
        "3",
    ]
    # charts: the page names keys, the browser fetches them; system metrics apart
    data = re.search(r'<script type="application/json" id="run-charts">(.*?)</script>', answer.text, re.S)
    assert (
        data is not None
        and '"keys": ["acc", "loss"]' in data.group(1)
        and '"system": ["system/cpu"]' in data.group(1)
    )
    assert "/studio/static/charts.js" in page and "System metrics" in page
    # artifacts: the root folder's files and folders; the child run in lineage
    assert "notes.txt" in page and 'href="?dir=conf#artifacts"' in page
    assert f'href="/studio/runs/{made.child}">run-a-child</a>' in page
    assert "Source: <code>train.py</code>" in page


def test_the_short_url_and_a_folder_and_the_parent_link(studio: Studio, made: Made) -> None:
    answer = studio.browser.get(f"/studio/runs/{made.a}?dir=conf")
    assert answer.status_code == 200 and "config.json" in answer.text and "notes.txt" not in answer.text
    child = studio.browser.get(f"/studio/runs/{made.child}")
    assert f'href="/studio/runs/{made.a}">run-a</a>' in child.text
    assert (
        "No metrics logged." in child.text and "No artifacts" in child.text and "No parameters." in child.text
    )


def test_an_unknown_run_is_the_apis_404(studio: Studio, made: Made) -> None:
    answer = studio.browser.get("/studio/runs/0123456789abcdef0123456789abcdef")
    assert answer.status_code == 404
    assert "NOT_FOUND" in answer.text and "0123456789abcdef0123456789abcdef" in text(answer)


def test_an_unknown_artifact_folder_is_shown_in_its_panel(studio: Studio, made: Made) -> None:
    answer = studio.browser.get(f"/studio/runs/{made.a}?dir=nope")
    assert answer.status_code == 200  # the page stands; the panel says what the API said
    assert 'class="error"' in answer.text and "nope" in text(answer)


def _preview(studio: Studio, run: str, path: str, status: int = 200) -> str:
    answer = studio.browser.get(f"/studio/runs/{run}/artifact", params={"path": path})
    assert answer.status_code == status, answer.text
    return text(answer)


def test_previews_text_json_csv_image_and_mlmodel(studio: Studio, made: Made) -> None:
    assert "hello <world>" in _preview(studio, made.a, "notes.txt")
    assert '"b": [\n    1,\n    2\n  ],' in _preview(studio, made.a, "conf/config.json")
    csv = _preview(studio, made.a, "table.csv")
    assert '<th scope="col">name</th>' in csv and "<td>row49</td>" in csv and "row50" not in csv
    image = _preview(studio, made.a, "plot.png")
    assert f'<img class="artifact-image" src="/api/v1/runs/{made.a}/artifacts/plot.png"' in image
    # the <img> reaches the API with the session cookie alone (same origin)
    drawn = studio.browser.get(f"/api/v1/runs/{made.a}/artifacts/plot.png")
    assert drawn.status_code == 200 and drawn.content == _PNG
    assert "loader_module: x" in _preview(studio, made.a, "model/MLmodel")
    assert "A binary file" in _preview(studio, made.a, "blob.bin")


def test_a_large_file_is_cut(studio: Studio, made: Made) -> None:
    page = _preview(studio, made.a, "big.log")
    assert "Cut: showing the first 256 KB" in page and "line 00000000" in page
    assert "line 00019999" not in page  # the end of the 560 KB file is not on the page
    shown = re.search(r'<pre class="artifact-text"[^>]*>(.*?)</pre>', page, re.S)
    assert shown is not None and len(shown.group(1)) <= 256 * 1024


def test_a_partial_preview_for_htmx(studio: Studio, made: Made) -> None:
    answer = studio.browser.get(
        f"/studio/runs/{made.a}/artifact", params={"path": "notes.txt"}, headers={"HX-Request": "true"}
    )
    assert answer.status_code == 200 and "<html" not in answer.text and "hello" in answer.text


@pytest.mark.parametrize("path", ["../x.txt", "/etc/passwd", "conf/../../x.txt", "", "missing.txt"])
def test_bad_artifact_paths_are_clear_errors(studio: Studio, made: Made, path: str) -> None:
    answer = studio.browser.get(f"/studio/runs/{made.a}/artifact", params={"path": path})
    assert answer.status_code in (400, 404), answer.text
    assert 'class="error"' in answer.text and "root:" not in answer.text


def _differs(page: str) -> dict[str, bool]:
    """Each row of the diff table: its key and whether it is flagged as differing."""
    found = re.findall(
        r'<tr( class="differs")? data-kind="\w+"><th scope="row"><small class="muted">\w+\.</small>([^<]+)<',
        page,
    )
    return {key.strip(): bool(flag) for flag, key in found}


def test_compare_shows_a_diff_table_with_differences_flagged(studio: Studio, made: Made) -> None:
    answer = studio.browser.get("/studio/compare", params={"runs": [made.a, made.b, made.c]})
    assert answer.status_code == 200, answer.text
    page = text(answer)
    everything = {"lr", "optimizer", "layers", "acc", "loss", "system/cpu"}
    assert _differs(page) == dict.fromkeys(everything, True)  # run-c lacks layers and system/cpu
    pair = text(studio.browser.get("/studio/compare", params={"runs": [made.a, made.b]}))
    assert _differs(pair) == {**dict.fromkeys(everything, True), "optimizer": False, "layers": False}
    assert ">run-a<" in page and ">run-b<" in page and ">run-c<" in page
    # curves: the chosen keys' cards, the runs with their colours; parallel coordinates' data
    assert 'data-key="acc"' in page and 'data-key="loss"' in page and 'data-key="system/cpu"' not in page
    parallel = re.search(
        r'<script type="application/json" data-parallel="parallel">(.*?)</script>', answer.text, re.S
    )
    assert parallel is not None and '"name": "lr"' in parallel.group(1) and '"0.5"' in parallel.group(1)


def test_compare_only_differences(studio: Studio, made: Made) -> None:
    everything = text(studio.browser.get("/studio/compare", params={"runs": [made.a, made.b]}))
    assert "</small>layers" in everything and "</small>optimizer" in everything  # the same in both
    only = text(studio.browser.get("/studio/compare", params={"runs": [made.a, made.b], "only": "diff"}))
    assert "</small>layers" not in only and "</small>optimizer" not in only and "</small>lr" in only


def test_compare_chosen_keys(studio: Studio, made: Made) -> None:
    page = text(
        studio.browser.get(
            "/studio/compare", params={"runs": [made.a, made.b], "keys": ["system/cpu", "nope"]}
        )
    )
    assert 'data-key="system/cpu"' in page and 'data-key="acc"' not in page and 'data-key="nope"' not in page


@pytest.mark.parametrize("runs", [[], ["x"], ["same", "same"]])
def test_compare_needs_two_runs(studio: Studio, made: Made, runs: list[str]) -> None:
    ids = [made.a if r == "same" else r for r in runs]
    answer = studio.browser.get("/studio/compare", params={"runs": ids})
    assert answer.status_code == 400 and "Choose at least 2 runs to compare" in answer.text


def test_compare_too_many_runs(studio: Studio, made: Made) -> None:
    answer = studio.browser.get("/studio/compare", params={"runs": [f"r{i}" for i in range(51)]})
    assert answer.status_code == 400 and "At most 50 runs" in answer.text


def test_compare_an_unknown_run_is_the_apis_404(studio: Studio, made: Made) -> None:
    answer = studio.browser.get(
        "/studio/compare", params={"runs": [made.a, "feedfacefeedfacefeedfacefeedface"]}
    )
    assert answer.status_code == 404 and "feedfacefeedfacefeedfacefeedface" in text(answer)


def test_a_custom_role_without_experiments_read_sees_the_403_with_the_permission(
    studio: Studio, made: Made
) -> None:
    # Every built-in role may read experiments: a custom role that may only read jobs.
    made_role = studio.owner.request(
        "POST",
        "/api/v1/roles",
        json={"name": "jobs-only", "description": "jobs", "permissions": ["jobs:read"]},
    )
    assert made_role.status_code in (201, 409), made_role.text
    browser = studio.client_for("jobs-only")
    for url in (f"/studio/runs/{made.a}", f"/studio/compare?runs={made.a}&runs={made.b}"):
        answer = browser.get(url)
        assert answer.status_code == 403, answer.text
        assert "You need a role with <code>experiments:read</code>" in answer.text
