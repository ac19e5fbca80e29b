"""Schema and row count of tabular data: CSV/TSV and Parquet files, and MLTable folders.

CSV is read with the standard library, streaming, whatever else is installed: the same file
gets the same schema on every server. A column's type is the narrowest of ``int64``,
``double``, ``bool`` and ``string`` that fits every non-empty cell (Arrow's names, so
Parquet columns read the same way). Parquet needs pyarrow (only the footer is read); without
it a Parquet asset has no schema. An MLTable's ``paths`` (``file:`` and ``folder:`` entries)
are read with its ``read_delimited`` or ``read_parquet`` transformation; rows add up.
"""

from __future__ import annotations

import csv
import importlib
import io
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any, BinaryIO

from shipyard.domain.data_assets import Column
from shipyard.domain.paths import clean_relative_path
from shipyard.errors import InvalidArgument, InvalidPath
from shipyard.specs import MAX_SPEC_BYTES, load_mapping

__all__ = ["TableInfo", "mltable_info", "table_info"]

TableInfo = tuple[list[Column], int]
Opener = Callable[[str], AbstractContextManager[BinaryIO]]

_ORDER = ("int64", "double", "bool", "string")
_DELIMITERS = {".csv": ",", ".tsv": "\t"}


def _cell_type(value: str) -> str:
    try:
        int(value)
    except ValueError:
        pass
    else:
        return "int64"
    try:
        float(value)
    except ValueError:
        pass
    else:
        return "double"
    return "bool" if value.lower() in ("true", "false") else "string"


def _widen(current: str | None, seen: str) -> str:
    if current is None or current == seen:
        return seen
    if {current, seen} == {"int64", "double"}:
        return "double"
    return "string"


def read_delimited(handle: BinaryIO, delimiter: str = ",", encoding: str = "utf-8") -> TableInfo | None:
    """None when the file is not text in ``encoding`` or not CSV: the asset just has no schema."""
    try:
        return _read_delimited(handle, delimiter, encoding)
    except (UnicodeDecodeError, LookupError, csv.Error):
        return None


def _read_delimited(handle: BinaryIO, delimiter: str, encoding: str) -> TableInfo:
    with io.TextIOWrapper(handle, encoding=encoding, newline="") as text:
        reader = csv.reader(text, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            return [], 0
        types: list[str | None] = [None] * len(header)
        rows = 0
        for row in reader:
            if not row:
                continue
            rows += 1
            for i, value in enumerate(row[: len(header)]):
                if value != "" and types[i] != "string":
                    types[i] = _widen(types[i], _cell_type(value))
    return [Column(name, kind or "string") for name, kind in zip(header, types, strict=True)], rows


def read_parquet(handle: BinaryIO) -> TableInfo | None:
    try:  # optional: through importlib, so type checking does not need pyarrow installed
        pq: Any = importlib.import_module("pyarrow.parquet")
    except ImportError:
        return None
    try:
        parquet = pq.ParquetFile(handle)
    except (ValueError, OSError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise InvalidArgument(f"this .parquet file is not Parquet pyarrow can read ({exc})") from None
    schema = parquet.schema_arrow
    return [Column(f.name, str(f.type)) for f in schema], parquet.metadata.num_rows


def table_info(path: str, open_file: Opener) -> TableInfo | None:
    """The schema of the file ``path`` when it is a table we can read, else None."""
    lower = path.lower()
    with open_file(path) as handle:
        for suffix, delimiter in _DELIMITERS.items():
            if lower.endswith(suffix):
                return read_delimited(handle, delimiter)
        if lower.endswith(".parquet"):
            try:
                return read_parquet(handle)
            except InvalidArgument as exc:
                raise InvalidArgument(f"{path}: {exc.message}; fix the file or its name") from None
    return None


def _targets(spec: dict[str, Any], files: Iterable[str]) -> list[str]:
    names = sorted(files)
    out: list[str] = []
    for entry in spec.get("paths") or []:
        if not isinstance(entry, dict):
            continue
        if "file" in entry:
            out.append(clean_relative_path(str(entry["file"])))
        elif "folder" in entry:
            folder = clean_relative_path(str(entry["folder"]), allow_empty=True)
            prefix = f"{folder}/" if folder else ""
            out.extend(n for n in names if n.startswith(prefix) and n.rsplit("/", 1)[-1] != "MLTable")
    return out


def _reader(spec: dict[str, Any]) -> Callable[[BinaryIO], TableInfo | None] | None:
    for step in spec.get("transformations") or []:
        if isinstance(step, dict) and "read_delimited" in step:
            options = step["read_delimited"] or {}
            delimiter = str(options.get("delimiter", ","))
            encoding = str(options.get("encoding", "utf8")).replace("utf8", "utf-8")
            return lambda handle: read_delimited(handle, delimiter, encoding)
        if isinstance(step, dict) and "read_parquet" in step:
            return read_parquet
    return None


def mltable_info(files: Iterable[str], open_file: Opener) -> TableInfo | None:
    """Read the folder's ``MLTable`` file and the tables it names; None when it cannot be read."""
    names = set(files)
    if "MLTable" not in names:
        raise InvalidArgument("an mltable data asset must hold an 'MLTable' file at its root")
    with open_file("MLTable") as handle:
        raw = handle.read(MAX_SPEC_BYTES + 1)  # a bigger one is refused by its size, unread
    # Spec files' reader: bounded in size, nesting and aliases, so an uploaded file is a 400.
    spec = load_mapping(raw.decode("utf-8", "replace"), "MLTable")
    read = _reader(spec)
    try:
        targets = _targets(spec, names)
    except InvalidPath as exc:
        raise InvalidPath(f"the MLTable file names a path outside its folder: {exc.message}") from None
    if read is None or not targets:
        return None
    columns: list[Column] | None = None
    rows = 0
    for target in targets:
        if target not in names:
            raise InvalidArgument(f"the MLTable file names {target!r}, which is not in the folder")
        with open_file(target) as handle:
            info = read(handle)
        if info is None:
            return None
        columns = columns or info[0]
        rows += info[1]
    return (columns or []), rows
