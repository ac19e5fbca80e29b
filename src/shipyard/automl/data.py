"""Read a job's table into pandas: a CSV/TSV/Parquet file, a folder of them, or an MLTable folder.

An MLTable folder's ``MLTable`` file names its tables under ``paths:`` (``file:``, ``folder:``
and ``pattern:`` entries, relative to the folder) and how to read them (``read_delimited``
with ``delimiter``/``encoding``/``header``, or ``read_parquet``), as the server reads it for a
data asset's schema. Remote paths (``azureml://``, ``https://``) are refused: the job resolves
inputs to local paths before a trial starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the dev extra
import yaml

from shipyard.errors import InvalidArgument

__all__ = ["read_table"]

_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")


def _read_file(path: Path, options: dict[str, Any] | None = None) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq") or (options or {}).get("parquet"):
            return pd.read_parquet(path)
        opts = options or {}
        delimiter = opts.get("delimiter", "\t" if suffix == ".tsv" else ",")
        header = 0 if opts.get("header", "all_files_same_headers") != "no_header" else None
        encoding = str(opts.get("encoding", "utf-8")).replace("utf8", "utf-8")
        return pd.read_csv(path, sep=delimiter, header=header, encoding=encoding)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"{path}: cannot be read as a table ({exc})", path=str(path)) from None


def _inside(root: Path, relative: str) -> Path:
    if "://" in relative:
        raise InvalidArgument(
            f"the MLTable file names {relative!r}: give AutoML a local copy of the data "
            "(a data asset or a folder uploaded with the job)"
        )
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()):
        raise InvalidArgument(f"the MLTable file names {relative!r}, outside its folder")
    return target


def _read_mltable(folder: Path) -> pd.DataFrame:
    try:
        spec = yaml.safe_load((folder / "MLTable").read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"{folder / 'MLTable'} is not YAML: {exc}") from None
    if not isinstance(spec, dict):
        raise InvalidArgument(f"{folder / 'MLTable'} must be a mapping with paths:")
    options: dict[str, Any] = {}
    for step in spec.get("transformations") or []:
        if isinstance(step, dict) and "read_delimited" in step:
            options = dict(step["read_delimited"] or {})
        elif isinstance(step, dict) and "read_parquet" in step:
            options = {"parquet": True}
    files: list[Path] = []
    for entry in spec.get("paths") or []:
        if not isinstance(entry, dict):
            continue
        if "file" in entry:
            files.append(_inside(folder, str(entry["file"])))
        elif "folder" in entry:
            files.extend(_tables_in(_inside(folder, str(entry["folder"]))))
        elif "pattern" in entry:
            pattern = str(entry["pattern"]).removeprefix("./")
            files.extend(p for p in sorted(folder.glob(pattern)) if p.is_file())
    if not files:
        raise InvalidArgument(f"{folder / 'MLTable'} names no table under paths:")
    return _concat([_read_file(f, options) for f in files], folder)


def _tables_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in _SUFFIXES)


def _concat(frames: list[pd.DataFrame], where: Path) -> pd.DataFrame:
    columns = list(frames[0].columns)
    for frame in frames[1:]:
        if list(frame.columns) != columns:
            raise InvalidArgument(f"{where}: its tables do not all have the same columns")
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def read_table(path: str | Path) -> pd.DataFrame:
    """The table at ``path``; :class:`InvalidArgument` saying what is wrong otherwise."""
    where = Path(path)
    if not where.exists():
        raise InvalidArgument(f"no data at {where}", path=str(where))
    if where.is_dir():
        if (where / "MLTable").is_file():
            frame = _read_mltable(where)
        else:
            files = _tables_in(where)
            if not files:
                raise InvalidArgument(f"{where} holds no CSV, TSV or Parquet file, nor an MLTable")
            frame = _concat([_read_file(f) for f in files], where)
    elif where.suffix.lower() in _SUFFIXES:
        frame = _read_file(where)
    else:
        raise InvalidArgument(f"{where}: AutoML reads CSV, TSV, Parquet or an MLTable folder")
    if frame.empty:
        raise InvalidArgument(f"{where} holds no rows")
    return frame
