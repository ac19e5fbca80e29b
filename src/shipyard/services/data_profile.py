"""A data asset version's profile: per column, its type, nulls, distinct values, and a
histogram (numbers) or the most frequent values (text and flags).

Tables only: a ``uri_file`` that is a CSV/TSV or Parquet file, an ``mltable`` (the files its
``MLTable`` names, read as it says), or a ``uri_folder`` holding nothing but such files. At
most :data:`MAX_ROWS` rows are read, the first ones, and the answer says when it stopped
there. Versions are immutable, so a profile is computed once and kept in the artifact store
under :data:`PROFILES_PREFIX`; later calls read it back.

Text and flag columns are counted by the drift monitor's column profiler
(:func:`shipyard.services.monitoring.profile.profile_column`, pyarrow's hash-based value
counts). Its numerical profile is not reused: it bins by quantiles (equal mass, open-ended,
for drift tests), where a profile shows equal-width bins over the column's range.

numpy and pyarrow are imported inside the functions: the server's start must not load them.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from shipyard.domain.data_assets import DataAsset
from shipyard.domain.snapshots import blob_key
from shipyard.errors import InvalidArgument, NotFound
from shipyard.services._clock import now_ms
from shipyard.services.ports import ArtifactStore
from shipyard.specs import MAX_SPEC_BYTES, load_mapping

if TYPE_CHECKING:
    import pyarrow as pa

    from shipyard.services.snapshots import SnapshotService

__all__ = ["FORMAT", "HISTOGRAM_BINS", "MAX_ROWS", "PROFILES_PREFIX", "TOP_VALUES", "DataProfiler"]

PROFILES_PREFIX = "_data/profiles"
FORMAT = 1
"""Part of the kept profile's key: a change of what a profile holds computes new ones."""
MAX_ROWS = 1_000_000
HISTOGRAM_BINS = 20
TOP_VALUES = 10
_BATCH = 65_536
_CSV = {".csv": ",", ".tsv": "\t"}
_PARQUET = (".parquet", ".pq")
_ARROW_TYPES = {"int64": "int64", "double": "float64", "bool": "bool_", "string": "string"}

NOT_TABULAR = "not_tabular"
"""``details.reason`` of the 400 for an asset that is not a table (a stable value to test on)."""


def _not_tabular(asset: DataAsset, why: str) -> InvalidArgument:
    return InvalidArgument(
        f"data asset {asset.name}:{asset.version} cannot be profiled: {why}",
        reason=NOT_TABULAR,
        name=asset.name,
        version=asset.version,
    )


class _Source:
    """One table file of the snapshot: its path, blob, and how to read it."""

    def __init__(self, path: str, sha256: str, delimiter: str | None) -> None:
        self.path = path
        self.sha256 = sha256
        self.delimiter = delimiter  # None: Parquet


def _kind(path: str) -> str | None:
    lower = path.lower()
    for suffix, delimiter in _CSV.items():
        if lower.endswith(suffix):
            return delimiter
    return "parquet" if lower.endswith(_PARQUET) else None


class DataProfiler:
    def __init__(self, snapshots: SnapshotService) -> None:
        self.snapshots = snapshots
        self.store: ArtifactStore = snapshots.store

    # -- kept profiles -----------------------------------------------------------------

    @staticmethod
    def key(asset: DataAsset) -> str:
        # The content hash too: a version deleted and registered again with other data is
        # another profile.
        ident = f"{FORMAT}/{asset.workspace}/{asset.name}/{asset.version}/{asset.content_hash}"
        return f"{PROFILES_PREFIX}/{hashlib.sha256(ident.encode()).hexdigest()}.json"

    def profile(self, asset: DataAsset) -> dict[str, Any]:
        key = self.key(asset)
        try:
            with self.store.get(key) as handle:
                kept = orjson.loads(handle.read())
            if isinstance(kept, dict):
                return kept
        except (NotFound, ValueError):
            pass
        made = self.compute(asset)
        with self.store.staging_file() as (staged, handle):
            handle.write(orjson.dumps(made))
            handle.flush()
            handle.close()
            self.store.put(key, staged)
        return made

    # -- which files ---------------------------------------------------------------------

    def _sources(self, asset: DataAsset) -> list[_Source]:
        if not asset.content_hash:
            raise _not_tabular(asset, f"it is an external URL ({asset.path}) the server does not read")
        files = {f.path: f.sha256 for f in self.snapshots.manifest(asset.content_hash).files}
        if asset.type == "mltable":
            return self._mltable(asset, files)
        found = []
        for path in sorted(files):
            kind = _kind(path)
            if kind is None:
                what = "the file" if asset.type == "uri_file" else "the folder holds"
                raise _not_tabular(asset, f"{what} {path!r}, which is not a CSV, TSV or Parquet file")
            found.append(_Source(path, files[path], None if kind == "parquet" else kind))
        if not found:
            raise _not_tabular(asset, "it holds no files")
        return found

    def _mltable(self, asset: DataAsset, files: dict[str, str]) -> list[_Source]:
        from shipyard.services._tables import _targets

        if "MLTable" not in files:
            raise _not_tabular(asset, "it has no MLTable file at its root")
        with self.store.get(blob_key(files["MLTable"])) as handle:
            spec = load_mapping(handle.read(MAX_SPEC_BYTES + 1).decode("utf-8", "replace"), "MLTable")
        delimiter: str | None = None
        parquet = False
        for step in spec.get("transformations") or []:
            if isinstance(step, dict) and "read_delimited" in step:
                delimiter = str((step["read_delimited"] or {}).get("delimiter", ","))
                break
            if isinstance(step, dict) and "read_parquet" in step:
                parquet = True
                break
        if delimiter is None and not parquet:
            raise _not_tabular(asset, "its MLTable file has no read_delimited or read_parquet step")
        targets = [t for t in _targets(spec, files) if t in files]
        if not targets:
            raise _not_tabular(asset, "its MLTable file names no file of the folder")
        return [_Source(t, files[t], delimiter) for t in targets]

    # -- reading -------------------------------------------------------------------------

    def _batches(
        self, asset: DataAsset, source: _Source, stack: ExitStack
    ) -> tuple[Iterator[Any], int | None, pa.Schema]:
        """The file's record batches, its row count when known without reading it all, and
        its schema."""
        import pyarrow.csv as pcsv
        import pyarrow.parquet as pq

        handle: BinaryIO = stack.enter_context(self.store.get(blob_key(source.sha256)))
        if source.delimiter is None:
            if not handle.seekable():  # a Parquet footer is at the end: a local copy
                copy = stack.enter_context(tempfile.TemporaryFile(prefix="shipyard-profile-"))  # noqa: SIM115 - closed by the stack
                shutil.copyfileobj(handle, copy)
                copy.seek(0)
                handle = copy
            parquet = pq.ParquetFile(handle)
            return parquet.iter_batches(batch_size=_BATCH), parquet.metadata.num_rows, parquet.schema_arrow
        types = None
        if asset.columns and asset.type == "uri_file":
            # The types registration read from the whole file: pyarrow alone would guess
            # them from the first block and fail on a later one that disagrees.
            import pyarrow as pa

            types = {
                c.name: getattr(pa, _ARROW_TYPES[c.type])() for c in asset.columns if c.type in _ARROW_TYPES
            }
        reader = pcsv.open_csv(
            handle,
            read_options=pcsv.ReadOptions(block_size=1 << 24),
            parse_options=pcsv.ParseOptions(delimiter=source.delimiter),
            # An empty cell is no value, in a text column too (as registration reads it).
            convert_options=pcsv.ConvertOptions(column_types=types, strings_can_be_null=True),
        )
        return iter(reader), None, reader.schema

    def compute(self, asset: DataAsset) -> dict[str, Any]:
        import pyarrow as pa

        sources = self._sources(asset)
        tables: list[pa.Table] = []
        read = 0
        total: int | None = 0
        sampled = False
        try:
            for source in sources:
                with ExitStack() as stack:
                    batches, rows, schema = self._batches(asset, source, stack)
                    total = None if total is None or rows is None else total + rows
                    taken: list[pa.RecordBatch] = []
                    for batch in batches:
                        if read + batch.num_rows >= MAX_ROWS:
                            wanted = MAX_ROWS - read
                            taken.append(batch.slice(0, wanted))
                            read = MAX_ROWS
                            # Stopped early unless the limit fell exactly at the end of the data.
                            sampled = (
                                batch.num_rows > wanted
                                or next(batches, None) is not None
                                or source is not sources[-1]
                            )
                            break
                        taken.append(batch)
                        read += batch.num_rows
                    # A file of no rows (a header alone) still has its columns.
                    tables.append(pa.Table.from_batches(taken, schema=schema))
                if read >= MAX_ROWS:
                    break
            table = pa.concat_tables(tables, promote_options="permissive")
        except (pa.ArrowException, OSError) as error:
            raise _not_tabular(asset, f"it could not be read as a table: {error}") from error
        if total is None and not sampled:
            total = read
        if total is None and asset.row_count is not None:
            total = asset.row_count
        return {
            "name": asset.name,
            "version": asset.version,
            "rows": total,
            "rows_read": read,
            "sampled": sampled,
            "columns": table.num_columns,
            "column_profiles": [
                profile_column(str(name), table.column(i)) for i, name in enumerate(table.column_names)
            ],
            "files": [s.path for s in sources],
            "computed_at": now_ms(),
        }


def profile_column(name: str, column: pa.ChunkedArray) -> dict[str, Any]:
    """One column's statistics as plain JSON data (the fields of ``shipyard.api.data.ColumnProfile``)."""
    import pyarrow as pa

    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    out: dict[str, Any] = {"name": name, "data_type": str(kind)}
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        as_time = _as_datetime(column)
        if as_time is not None:
            return out | _datetime(as_time)
        return out | _categorical(name, column)
    if pa.types.is_boolean(kind):
        return out | _categorical(name, column)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return out | _numerical(column)
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return out | _datetime(column)
    return out | _counts(column, "other")


def _counts(column: pa.ChunkedArray, kind: str) -> dict[str, Any]:
    import pyarrow.compute as pc

    nulls = column.null_count
    distinct = int(pc.count_distinct(column, mode="only_valid").as_py()) if len(column) - nulls else 0
    return {"type": kind, "count": len(column) - nulls, "nulls": nulls, "distinct": distinct}


def _as_datetime(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """Text that is ISO 8601 dates or instants in every non-null cell, as timestamps."""
    import pyarrow as pa

    present = column.drop_null()
    if len(present) == 0:
        return None
    try:  # a first cell that does not parse spares the whole column's attempt
        present.slice(0, 1).cast(pa.timestamp("us"))
        return column.cast(pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _datetime(column: pa.ChunkedArray) -> dict[str, Any]:
    import pyarrow.compute as pc

    out = _counts(column, "datetime")
    if out["count"]:
        extremes = pc.min_max(column)
        out["earliest"] = extremes["min"].as_py().isoformat()
        out["latest"] = extremes["max"].as_py().isoformat()
    return out


def _categorical(name: str, column: pa.ChunkedArray) -> dict[str, Any]:
    from shipyard.services.monitoring.profile import CategoricalProfile
    from shipyard.services.monitoring.profile import profile_column as counted

    nulls = column.null_count
    if nulls == len(column):
        return {"type": "categorical", "count": 0, "nulls": nulls, "distinct": 0, "top": []}
    found = counted(name, column, "categorical")
    assert isinstance(found, CategoricalProfile)
    order = sorted(range(len(found.counts)), key=lambda i: (-found.counts[i], found.categories[i]))
    return {
        "type": "categorical",
        "count": len(column) - found.nulls,
        "nulls": found.nulls,
        "distinct": len(found.categories),
        "top": [{"value": found.categories[i], "count": found.counts[i]} for i in order[:TOP_VALUES]],
    }


def _numerical(column: pa.ChunkedArray) -> dict[str, Any]:
    import numpy as np
    import pyarrow as pa

    # As floats (unchecked: an int64 past 2**53 rounds, as any statistic of it would), nulls
    # as NaN; a NaN in the data counts as null too.
    numbers = np.asarray(column.cast(pa.float64(), safe=False).to_numpy(), dtype=np.float64)
    missing = np.isnan(numbers)
    kept = numbers[~missing]
    out: dict[str, Any] = {"type": "numerical", "count": int(kept.size), "nulls": int(missing.sum())}
    if kept.size == 0:
        return out | {"distinct": 0}
    finite = kept[np.isfinite(kept)]
    out["distinct"] = int(np.unique(kept).size)
    if finite.size == 0:
        return out
    low, high = float(finite.min()), float(finite.max())
    counts, edges = np.histogram(finite, bins=HISTOGRAM_BINS if high > low else 1, range=(low, high))
    return out | {
        "minimum": low,
        "maximum": high,
        "mean": float(finite.mean()),
        "std": float(finite.std()),
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }
