"""Reading a job's table: a file, a folder of files, an MLTable folder — and what is refused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from shipyard.automl.data import read_table
from shipyard.errors import InvalidArgument

FRAME = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "a"]})


def test_csv_tsv_and_parquet_files(tmp_path: Path) -> None:
    FRAME.to_csv(tmp_path / "t.csv", index=False)
    FRAME.to_csv(tmp_path / "t.tsv", index=False, sep="\t")
    FRAME.to_parquet(tmp_path / "t.parquet")
    for name in ("t.csv", "t.tsv", "t.parquet"):
        pd.testing.assert_frame_equal(read_table(tmp_path / name), FRAME, check_dtype=False)


def test_a_folder_of_tables_is_one_table(tmp_path: Path) -> None:
    FRAME.to_csv(tmp_path / "a.csv", index=False)
    (tmp_path / "more").mkdir()
    FRAME.to_csv(tmp_path / "more" / "b.csv", index=False)
    assert len(read_table(tmp_path)) == 6


def test_an_mltable_folder_reads_the_paths_it_names(tmp_path: Path) -> None:
    FRAME.to_csv(tmp_path / "train.csv", index=False, sep=";")
    FRAME.to_csv(tmp_path / "ignored.csv", index=False)
    (tmp_path / "MLTable").write_text(
        "paths:\n  - file: ./train.csv\ntransformations:\n  - read_delimited:\n      delimiter: ';'\n      encoding: utf8\n"
    )
    pd.testing.assert_frame_equal(read_table(tmp_path), FRAME, check_dtype=False)
    (tmp_path / "MLTable").write_text(
        "paths:\n  - pattern: ./*.csv\ntransformations:\n  - read_delimited: {}\n"
    )
    with pytest.raises(InvalidArgument, match="do not all have the same columns"):
        read_table(tmp_path)  # train.csv is ;-separated: one column


def test_an_mltable_of_parquet_folders(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    FRAME.to_parquet(tmp_path / "parts" / "a.parquet")
    FRAME.to_parquet(tmp_path / "parts" / "b.parquet")
    (tmp_path / "MLTable").write_text("paths:\n  - folder: ./parts\ntransformations:\n  - read_parquet: {}\n")
    assert len(read_table(tmp_path)) == 6


@pytest.mark.parametrize(
    ("mltable", "match"),
    [
        ("paths:\n  - file: ../outside.csv\n", "outside its folder"),
        ("paths:\n  - file: azureml://datastores/x/paths/t.csv\n", "local copy"),
        ("paths: []\n", "names no table"),
        ("[unclosed", "not YAML"),
        ("- a list\n", "must be a mapping"),
    ],
)
def test_bad_mltable_files_are_refused(tmp_path: Path, mltable: str, match: str) -> None:
    (tmp_path / "MLTable").write_text(mltable)
    with pytest.raises(InvalidArgument, match=match):
        read_table(tmp_path)


def test_missing_empty_and_unknown_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="no data at"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "t.json").write_text("{}")
    with pytest.raises(InvalidArgument, match="reads CSV, TSV, Parquet"):
        read_table(tmp_path / "t.json")
    (tmp_path / "empty.csv").write_text("x,y\n")
    with pytest.raises(InvalidArgument, match="holds no rows"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(InvalidArgument, match="cannot be read as a table"):
        read_table(tmp_path / "bad.parquet")
    (tmp_path / "sub").mkdir()
    with pytest.raises(InvalidArgument, match="holds no CSV"):
        read_table(tmp_path / "sub")
