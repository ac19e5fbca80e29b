"""``shipyard monitor compare`` on real Parquet files: the table, the issue's JSON, the HTML
report, the exit statuses CI relies on, and a one-line error for every bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner, Result

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from shipyard.cli.main import build_app  # noqa: E402

APP = build_app(["monitor"], completion=False)


def frame(
    rows: int, *, shift: float = 0.0, seed: int = 0, colours: tuple[float, ...] = (0.5, 0.3, 0.2)
) -> Any:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "age": rng.normal(40 + shift, 10, rows),
            "colour": rng.choice(np.array(["red", "green", "blue"]), rows, p=list(colours)),
            "label": rng.integers(0, 2, rows),
        }
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("compare")
    paths = {
        "reference": folder / "ref.parquet",
        "same": folder / "same.parquet",
        "shifted": folder / "shifted.parquet",
        "other_columns": folder / "other.parquet",
        "empty": folder / "empty.parquet",
        "not_parquet": folder / "data.csv",
    }
    pq.write_table(frame(3000, seed=1), paths["reference"])
    pq.write_table(frame(2000, seed=2), paths["same"], row_group_size=500)
    pq.write_table(
        frame(2000, seed=3, shift=8.0, colours=(0.2, 0.3, 0.5)), paths["shifted"], row_group_size=500
    )
    pq.write_table(frame(100, seed=4).rename_columns(["age", "color", "label"]), paths["other_columns"])
    pq.write_table(frame(0), paths["empty"])
    paths["not_parquet"].write_text("age,colour,label\n1,red,0\n")
    return paths


def run(*args: str) -> Result:
    return CliRunner().invoke(APP, ["monitor", "compare", *args])


def test_json_is_the_issues_shape_and_drift_alone_does_not_fail(files: dict[str, Path]) -> None:
    done = run(
        "--reference",
        str(files["reference"]),
        "--current",
        str(files["shifted"]),
        "--target",
        "label",
        "-o",
        "json",
    )
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert set(result) == {"columns", "drifted_share"}
    assert {row["column"]: row["drifted"] for row in result["columns"]} == {
        "age": True,
        "colour": True,
        "label": False,
    }
    for row in result["columns"]:
        assert set(row) == {"column", "type", "metric", "value", "threshold", "drifted"}
    assert result["drifted_share"] == 1.0  # both features; the target does not count


def test_the_table_marks_drift_and_counts_features(files: dict[str, Path]) -> None:
    done = run(
        "--reference", str(files["reference"]), "--current", str(files["shifted"]), "--target", "label"
    )
    assert done.exit_code == 0, done.output
    assert "normalized_wasserstein_distance" in done.stdout
    assert "label (target)" in done.stdout
    assert "2 of 2 features drifted (100%)" in done.stdout


def test_fail_on_drift_exits_1_only_when_a_feature_drifted(files: dict[str, Path]) -> None:
    shifted = run(
        "--reference", str(files["reference"]), "--current", str(files["shifted"]), "--fail-on-drift"
    )
    assert shifted.exit_code == 1, shifted.output
    same = run("--reference", str(files["reference"]), "--current", str(files["same"]), "--fail-on-drift")
    assert same.exit_code == 0, same.output
    assert "0 of 3 features drifted (0%)" in same.stdout


def test_report_writes_a_self_contained_page_and_json_stays_clean(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "drift.html"
    done = run(
        "--reference", str(files["reference"]), "--current", str(files["shifted"]),
        "--report", str(out), "--output", "json",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    json.loads(done.stdout)  # the report's note went to stderr
    assert str(out) in done.stderr
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and html.count("<svg") == 3
    assert "ref.parquet" in html and "shifted.parquet" in html


@pytest.mark.parametrize(
    ("current", "extra", "message"),
    [
        ("missing", [], "does not exist"),
        ("not_parquet", [], "is not a readable Parquet file"),
        ("other_columns", [], "different columns: the current window lacks 'colour'"),
        ("empty", [], "the current window has no rows"),
        ("same", ["--target", "y"], "target column 'y' is not among the columns"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    files: dict[str, Path], tmp_path: Path, current: str, extra: list[str], message: str
) -> None:
    path = files.get(current, tmp_path / "missing.parquet")
    done = run("--reference", str(files["reference"]), "--current", str(path), *extra)
    assert done.exit_code == 2, done.output
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ") and message in line and line.endswith("(INVALID_ARGUMENT)")


def test_an_unwritable_report_is_exit_2(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "no-such-folder" / "r.html"
    done = run("--reference", str(files["reference"]), "--current", str(files["same"]), "--report", str(out))
    assert done.exit_code == 2
    assert "no-such-folder" in done.stderr and "Traceback" not in done.output


def test_the_real_command_refuses_without_a_traceback(files: dict[str, Path]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shipyard", "monitor", "compare",
         "--reference", str(files["not_parquet"]), "--current", str(files["same"])],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: the reference ") and done.stderr.count("\n") == 1


def test_the_docs_describe_the_command_and_its_exit_statuses() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    section = docs.split("### `shipyard monitor compare`", 1)[1].split("\n## ", 1)[0]
    for flag in ("--reference", "--current", "--target", "--report", "--fail-on-drift", "--output"):
        assert flag in section
    assert "0 when compared" in section and "2 when the files cannot be compared" in section
