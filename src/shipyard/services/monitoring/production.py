"""A deployment's collected production data as Arrow batches: the monitor's current window.

Online deployments keep what they receive and answer as hourly Parquet
(:mod:`shipyard.services.data_collection`): one row per request, its JSON body in ``data``.
:func:`collected_batches` lists only the hour folders that overlap ``[start_ms, end_ms)``,
reads each file a record batch at a time, keeps the rows inside the window and turns every
request into one output row per instance it carries, so memory is bounded by a batch, not
by the window. Every output row has ``request_id``, ``timestamp`` and ``row`` (its index in
the request): model outputs join model inputs and feedback on ``(request_id, row)``.

- ``model_inputs``: every body the scoring workers accept (:mod:`shipyard.serving.payloads`)
  — ``input_data`` / ``dataframe_split`` (columns + rows), records, ``instances`` /
  ``inputs`` (rows, records or an object of columns). Rows without column names get the
  names passed as ``columns`` (the model signature's), else their positions ``"0"``, ``"1"``…
- ``model_outputs``: a JSON list (Azure ML style) or ``{"predictions": …}`` (MLflow style).
  Scalars become one column ``prediction``; records their own columns; a list per row
  (class probabilities) ``prediction_0``, ``prediction_1``…
- ``feedback``: ``ground_truth`` (and ``deployment``, the one that served, or ``""``); the
  ``row`` is the one the client named. Feedback is kept per endpoint: the rows of
  ``deployment`` and those whose deployment was not known are read.

Types are stable across batches: a column takes its type from its first non-null value,
``float64`` for numbers (booleans as 0/1) or ``string``; a later value that does not fit is
converted (a number as text, numeric text as a number) or, failing that, null — and counted
per column in :attr:`ReadStats.mixed` rather than failing the read. A request whose JSON
cannot be read is counted in :attr:`ReadStats.bad_requests`, with the first few reasons.
A column first seen in a later batch is absent from the earlier ones;
:func:`collected_table` fills it with nulls.

pyarrow is imported inside the functions: it comes with the ``serving`` extra.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import orjson

from shipyard.errors import InvalidArgument
from shipyard.services.data_collection import COLLECTED_PREFIX, FEEDBACK_FOLDER
from shipyard.services.ports import ArtifactStore

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "BATCH_ROWS",
    "KEY_COLUMNS",
    "Collection",
    "ReadStats",
    "collected_batches",
    "collected_table",
    "hour_prefixes",
    "window_of",
]

Collection = Literal["model_inputs", "model_outputs", "feedback"]
KEY_COLUMNS = ("request_id", "timestamp", "row")
BATCH_ROWS = 8192
"""Output rows per record batch (and Parquet rows read at a time)."""

_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS
_INPUT_FORMATS = ("input_data", "dataframe_split", "dataframe_records", "instances", "inputs")
_EXAMPLES = 5


@dataclass
class ReadStats:
    """What a read met, filled while the batches are consumed."""

    files: int = 0
    requests: int = 0
    rows: int = 0
    bad_requests: int = 0
    bad_examples: list[str] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)
    """Each feature column's Arrow type name (``double`` or ``string``), in first-seen order."""
    mixed: Counter[str] = field(default_factory=Counter)
    """Per column, the values that did not fit its type (converted, or null)."""

    def notes(self) -> list[str]:
        """One sentence per thing a reader of a monitor report should know."""
        out = []
        if self.bad_requests:
            out.append(
                f"{self.bad_requests} collected request(s) could not be read and were skipped"
                f" (e.g. {self.bad_examples[0]})"
            )
        for column, count in sorted(self.mixed.items()):
            out.append(f"column {column!r} mixes types: {count} value(s) did not fit {self.types[column]}")
        return out

    def _bad(self, request_id: str, reason: str) -> None:
        self.bad_requests += 1
        if len(self.bad_examples) < _EXAMPLES:
            self.bad_examples.append(f"request {request_id}: {reason}")


class _Unreadable(Exception):
    """A collected body this module cannot turn into rows (counted, not raised)."""


def window_of(now_ms: int, size_ms: int, offset_ms: int = 0) -> tuple[int, int]:
    """``[start, end)`` of a lookback window of ``size_ms`` ending ``offset_ms`` before ``now_ms``."""
    if size_ms <= 0 or offset_ms < 0:
        raise InvalidArgument("a window needs a positive size and an offset of zero or more")
    end = now_ms - offset_ms
    return end - size_ms, end


def hour_prefixes(folder: str, start_ms: int, end_ms: int) -> list[str]:
    """The Hive-style folders under ``folder`` holding rows of ``[start_ms, end_ms)``: a whole
    day's folder where the window covers the day, the hour folders at its ragged ends."""
    prefixes: list[str] = []
    hour = start_ms - start_ms % _HOUR_MS
    while hour < end_ms:
        at = dt.datetime.fromtimestamp(hour / 1000, tz=dt.UTC)
        if hour % _DAY_MS == 0 and hour + _DAY_MS <= end_ms:
            prefixes.append(f"{folder}/{at:%Y/%m/%d}/")
            hour += _DAY_MS
        else:
            prefixes.append(f"{folder}/{at:%Y/%m/%d/%H}/")
            hour += _HOUR_MS
    return prefixes


def collected_batches(
    store: ArtifactStore,
    workspace: str,
    endpoint: str,
    deployment: str,
    collection: Collection,
    start_ms: int,
    end_ms: int,
    *,
    columns: Sequence[str] | None = None,
    stats: ReadStats | None = None,
) -> Iterator[pa.RecordBatch]:
    """The collected rows of ``[start_ms, end_ms)``, one output row per instance (see the module)."""
    import pyarrow.parquet as pq

    if collection not in ("model_inputs", "model_outputs", "feedback"):
        raise InvalidArgument(
            f"unknown collection {collection!r}: use model_inputs, model_outputs or feedback"
        )
    if end_ms <= start_ms:
        raise InvalidArgument(
            f"the window [{start_ms}, {end_ms}) is empty: its end must come after its start"
        )
    stats = stats if stats is not None else ReadStats()
    folder_of = FEEDBACK_FOLDER if collection == "feedback" else deployment
    folder = f"{COLLECTED_PREFIX}/{workspace}/{endpoint}/{folder_of}/{collection}"
    builder = _Builder(stats, collection == "feedback")
    for prefix in hour_prefixes(folder, start_ms, end_ms):
        keys = sorted(info.key for info in store.list(prefix) if info.key.endswith(".parquet"))
        for key in keys:
            stats.files += 1
            with store.get(key) as handle:
                # pre_buffer=False keeps memory at a batch, not the file (see compare.py)
                for batch in pq.ParquetFile(handle, pre_buffer=False).iter_batches(batch_size=BATCH_ROWS):
                    for request in _requests(batch, start_ms, end_ms, collection, deployment):
                        stats.requests += 1
                        _add(builder, request, collection, columns, stats)
                        if builder.size >= BATCH_ROWS:
                            yield builder.flush()
    if builder.size:
        yield builder.flush()


def collected_table(
    store: ArtifactStore,
    workspace: str,
    endpoint: str,
    deployment: str,
    collection: Collection,
    start_ms: int,
    end_ms: int,
    *,
    columns: Sequence[str] | None = None,
    stats: ReadStats | None = None,
) -> pa.Table:
    """:func:`collected_batches` as one table (small windows): columns first seen late are null
    in the earlier rows."""
    import pyarrow as pa

    batches = [
        pa.Table.from_batches([b])
        for b in collected_batches(
            store, workspace, endpoint, deployment, collection, start_ms, end_ms, columns=columns, stats=stats
        )
    ]
    if not batches:
        return pa.table({"request_id": pa.array([], pa.string()), "timestamp": pa.array([], pa.int64()),
                         "row": pa.array([], pa.int64())})  # fmt: skip
    return pa.concat_tables(batches, promote_options="default")


# -- reading the Parquet rows -----------------------------------------------------------------


def _requests(
    batch: pa.RecordBatch, start_ms: int, end_ms: int, collection: Collection, deployment: str
) -> Iterator[dict[str, Any]]:
    import pyarrow.compute as pc

    stamps = batch.column("timestamp")
    keep = pc.and_(pc.greater_equal(stamps, start_ms), pc.less(stamps, end_ms))
    if collection == "feedback" and deployment:
        keep = pc.and_(keep, pc.is_in(batch.column("deployment"), value_set=_strings([deployment, ""])))
    yield from batch.filter(keep).to_pylist()


def _strings(values: list[str]) -> Any:
    import pyarrow as pa

    return pa.array(values, pa.string())


def _add(
    builder: _Builder,
    request: dict[str, Any],
    collection: Collection,
    columns: Sequence[str] | None,
    stats: ReadStats,
) -> None:
    request_id = str(request.get("request_id") or "")
    timestamp = int(request.get("timestamp") or 0)
    try:
        doc = orjson.loads(request.get("data") or "")
        if collection == "model_inputs":
            rows = _input_rows(doc, columns)
        elif collection == "model_outputs":
            rows = _output_rows(doc)
        else:
            rows = [{"ground_truth": doc}]
    except orjson.JSONDecodeError as exc:
        stats._bad(request_id, f"not valid JSON ({exc})")
        return
    except _Unreadable as exc:
        stats._bad(request_id, str(exc))
        return
    if collection == "feedback":
        builder.add(request_id, timestamp, int(request.get("row") or 0), rows[0])
        builder.label("deployment", str(request.get("deployment") or ""))
        return
    for index, values in enumerate(rows):
        builder.add(request_id, timestamp, index, values)


# -- the body formats ---------------------------------------------------------------------------


def _input_rows(doc: Any, columns: Sequence[str] | None) -> list[dict[str, Any]]:
    if not isinstance(doc, dict):
        raise _Unreadable(f"the body is a JSON {type(doc).__name__}, not an object")
    found = [key for key in _INPUT_FORMATS if key in doc]
    if len(found) != 1:
        raise _Unreadable(f"the body has {len(found)} of the keys {list(_INPUT_FORMATS)}, not one")
    fmt = found[0]
    value = doc[fmt]
    if fmt == "dataframe_split" or (fmt == "input_data" and isinstance(value, dict) and "data" in value):
        if not isinstance(value, dict) or not isinstance(value.get("data"), list):
            raise _Unreadable(f'"{fmt}" has no list "data"')
        return [_positional(row, value.get("columns") or columns) for row in value["data"]]
    if isinstance(value, dict):
        return _transpose(value)
    if not isinstance(value, list):
        raise _Unreadable(f'"{fmt}" is a JSON {type(value).__name__}, not rows, records or columns')
    return [row if isinstance(row, dict) else _positional(row, columns) for row in value]


def _output_rows(doc: Any) -> list[dict[str, Any]]:
    if isinstance(doc, dict):
        doc = doc.get("predictions", doc)
    if isinstance(doc, dict):
        return _transpose(doc)
    if not isinstance(doc, list):
        return [{"prediction": doc}]
    rows = []
    for value in doc:
        if isinstance(value, dict):
            rows.append(value)
        elif isinstance(value, list):
            rows.append({f"prediction_{i}": v for i, v in enumerate(value)})
        else:
            rows.append({"prediction": value})
    return rows


def _positional(row: Any, columns: Sequence[str] | None) -> dict[str, Any]:
    if not isinstance(row, list):
        return {columns[0] if columns else "0": row}
    if columns is not None and len(columns) == len(row):
        return dict(zip(columns, row, strict=True))
    return {str(i): v for i, v in enumerate(row)}


def _transpose(value: dict[str, Any]) -> list[dict[str, Any]]:
    """An object of columns → rows; scalars make one row."""
    lists = {k: v for k, v in value.items() if isinstance(v, list)}
    if not lists:
        return [value]
    lengths = {len(v) for v in lists.values()}
    if len(lengths) > 1 or len(lists) != len(value):
        raise _Unreadable("its columns have different lengths")
    n = lengths.pop()
    return [{k: v[i] for k, v in lists.items()} for i in range(n)]


# -- typed columns ----------------------------------------------------------------------------


class _Builder:
    """Rows → a record batch whose columns keep one type for the whole read."""

    def __init__(self, stats: ReadStats, feedback: bool) -> None:
        self.stats = stats
        self.feedback = feedback
        self._keys: dict[str, list[Any]] = {k: [] for k in KEY_COLUMNS}
        self._extra: dict[str, list[str]] = {"deployment": []} if feedback else {}
        self._values: dict[str, list[Any]] = {}
        self.size = 0

    def add(self, request_id: str, timestamp: int, row: int, values: dict[str, Any]) -> None:
        self._keys["request_id"].append(request_id)
        self._keys["timestamp"].append(timestamp)
        self._keys["row"].append(row)
        for name, value in values.items():
            column = _feature_name(str(name), self.feedback)
            cells = self._values.setdefault(column, [None] * self.size)
            if len(cells) > self.size:  # the same name twice in one row: the first one counts
                continue
            cells.append(self._fit(column, value))
        self.size += 1
        for cells in self._values.values():
            if len(cells) < self.size:
                cells.append(None)
        self.stats.rows += 1

    def label(self, name: str, value: str) -> None:
        self._extra[name].append(value)

    def flush(self) -> pa.RecordBatch:
        import pyarrow as pa

        arrays = {
            "request_id": pa.array(self._keys["request_id"], pa.string()),
            "timestamp": pa.array(self._keys["timestamp"], pa.int64()),
            "row": pa.array(self._keys["row"], pa.int64()),
        }
        for name, strings in self._extra.items():
            arrays[name] = pa.array(strings, pa.string())
        for name, kind in self.stats.types.items():
            cells = self._values.get(name, [None] * self.size)
            arrays[name] = pa.array(cells, pa.float64() if kind == "double" else pa.string())
        batch = pa.RecordBatch.from_pydict(arrays)
        self._keys = {k: [] for k in KEY_COLUMNS}
        self._extra = {k: [] for k in self._extra}
        self._values = {}
        self.size = 0
        return batch

    def _fit(self, column: str, value: Any) -> float | str | None:
        if value is None:
            return None
        kind = self.stats.types.get(column)
        if kind is None:
            kind = self.stats.types[column] = "double" if _is_number(value) else "string"
        if kind == "double":
            if _is_number(value):
                return float(value)
            self.stats.mixed[column] += 1
            try:
                return float(value) if isinstance(value, str) else None
            except ValueError:
                return None
        if isinstance(value, str):
            return value
        self.stats.mixed[column] += 1
        return orjson.dumps(value).decode()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float)  # bool is an int: true/false read as 1/0


def _feature_name(name: str, feedback: bool) -> str:
    """A feature named like a key column is renamed (``row`` → ``row_``) so that it cannot hide the key."""
    return f"{name}_" if name in KEY_COLUMNS or (feedback and name == "deployment") else name
