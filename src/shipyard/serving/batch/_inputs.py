"""The input of a batch job as numbered mini-batches.

A uri_file (CSV or Parquet) is read once and cut into ``mini_batch_size`` rows each, the rows
keeping their position in the file (the ``row`` column of the output). A uri_folder gives
``mini_batch_size`` files each, in path order (hidden files skipped), as Azure ML does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the dev extra

__all__ = ["MiniBatch", "mini_batches", "read_table"]

_READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".tsv": "tsv"}


@dataclass(frozen=True, slots=True)
class MiniBatch:
    """``frame`` (rows of a file) or ``files`` (paths in a folder); ``items`` counts either."""

    id: int
    frame: Any = None
    files: tuple[Path, ...] = field(default_factory=tuple)
    root: Path | None = None

    @property
    def items(self) -> int:
        return len(self.files) if self.files else len(self.frame)


def read_table(path: Path) -> Any:
    kind = _READERS.get(path.suffix.lower())
    if kind == "csv":
        return pd.read_csv(path)
    if kind == "tsv":
        return pd.read_csv(path, sep="\t")
    if kind == "parquet":
        return pd.read_parquet(path)
    raise ValueError(f"{path.name}: not a CSV or Parquet file; batch scoring reads .csv, .tsv and .parquet")


def mini_batches(data: Path, input_type: str, size: int) -> list[MiniBatch]:
    if input_type == "uri_folder" or data.is_dir():
        files = sorted(
            p
            for p in data.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(data).parts)
        )
        return [
            MiniBatch(i, files=tuple(files[start : start + size]), root=data)
            for i, start in enumerate(range(0, len(files), size))
        ]
    frame = read_table(data)
    return [
        MiniBatch(i, frame=frame.iloc[start : start + size])
        for i, start in enumerate(range(0, len(frame), size))
    ]
