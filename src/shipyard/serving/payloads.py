"""Scoring request bodies → model input, and predictions → response bodies.

No-code MLflow deployments accept the bodies users already send (examples in
``docs/serving.md``)::

    {"input_data": {"columns": [...], "index": [...], "data": [[...], ...]}}   Azure ML
    {"input_data": [{"col": value, ...}, ...]}                                 Azure ML, records
    {"input_data": [[...], ...]}                       Azure ML, columns from the signature
    {"dataframe_split": {"columns": [...], "data": [[...]], "index": [...]}}    MLflow
    {"dataframe_records": [{"col": value, ...}, ...]}                          MLflow
    {"instances": ...} / {"inputs": ...}                                       MLflow (TF serving)

An ``input_data`` request is answered the way Azure ML's no-code MLflow deployments answer,
with a plain JSON list; the MLflow formats the way ``mlflow models serve`` does,
``{"predictions": [...]}`` — so a client written for either service reads its own shape.

When the model's signature names its columns, the input is checked here, once, and each
column converted to the signature's type while the DataFrame is built (one DataFrame per
request, built from whole columns): a missing column or a value of the wrong type is a
:class:`PayloadError` (400) that names the column. Columns the signature does not name are
dropped, as MLflow does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import orjson
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the dev extra

from shipyard.serving._errors import PayloadError

__all__ = [
    "ColumnSpec",
    "InputSchema",
    "ModelInput",
    "PayloadError",
    "encode_predictions",
    "parse_request",
    "stack",
]

ResponseStyle = Literal["azureml", "mlflow"]
_FORMATS = ("input_data", "dataframe_split", "dataframe_records", "instances", "inputs")

# MLflow type name → (numpy dtype, the array kinds a JSON column of it may arrive as)
_TYPES: dict[str, tuple[str, str]] = {
    "double": ("float64", "fiu"),
    "float": ("float32", "fiu"),
    "long": ("int64", "iu"),
    "integer": ("int32", "iu"),
    "boolean": ("bool", "b"),
    "string": ("object", "U"),
}


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    name: str
    type: str  # an MLflow type name: double, long, string, …
    required: bool = True


@dataclass(frozen=True, slots=True)
class InputSchema:
    """The columns a model's signature names; ``columns is None`` when it names none (no
    signature, a tensor signature): the input is then handed to the model as parsed.
    ``checked`` is true when every column has a type converted here, so that the pyfunc's own
    schema enforcement has nothing left to do."""

    columns: tuple[ColumnSpec, ...] | None = None

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns or ()]

    @property
    def checked(self) -> bool:
        return self.columns is not None and all(c.type in _TYPES for c in self.columns)

    @property
    def uniform(self) -> tuple[str, str] | None:
        """(numpy dtype, accepted kinds) when every column is required and of one numeric type."""
        if not self.columns or not all(c.required for c in self.columns):
            return None
        types = {c.type for c in self.columns}
        if len(types) != 1:
            return None
        target = _TYPES.get(types.pop())
        return target if target is not None and target[0] not in ("object", "bool") else None

    @classmethod
    def from_mlflow(cls, schema: Any) -> InputSchema:
        """From an ``mlflow.types.Schema`` (or None)."""
        if schema is None or schema.is_tensor_spec() or not schema.has_input_names():
            return cls()
        columns = []
        for spec in schema.inputs:
            type_name = getattr(spec.type, "name", None)
            columns.append(
                ColumnSpec(
                    spec.name, type_name if isinstance(type_name, str) else repr(spec.type), spec.required
                )
            )
        return cls(tuple(columns))


@dataclass(frozen=True, slots=True)
class ModelInput:
    data: Any  # a DataFrame, or what the body held when the schema names no columns
    style: ResponseStyle
    params: dict[str, Any] | None = None


def parse_request(body: bytes, schema: InputSchema) -> ModelInput:
    """The model input in ``body`` (JSON in one of the formats above)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise PayloadError(f"the request body must be a JSON object with one of the keys {list(_FORMATS)}")
    found = [key for key in _FORMATS if key in doc]
    if len(found) != 1:
        what = "none" if not found else f"several ({', '.join(found)})"
        raise PayloadError(
            f"the request body must have exactly one of the keys {list(_FORMATS)}; it has {what}"
        )
    fmt = found[0]
    params = doc.get("params")
    if params is not None and not isinstance(params, dict):
        raise PayloadError('"params" must be a JSON object')
    style: ResponseStyle = "azureml" if fmt == "input_data" else "mlflow"
    value = doc[fmt]
    if fmt == "dataframe_split" or (fmt == "input_data" and isinstance(value, dict)):
        data = _from_split(fmt, value, schema)
    elif fmt == "dataframe_records":
        data = _from_records(fmt, value, schema)
    else:
        data = _from_list(fmt, value, schema)
    return ModelInput(data, style, params)


def stack(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Frames with the same columns as one, rows in order (the batch of several requests)."""
    return pd.concat(frames, ignore_index=True)


def encode_predictions(predictions: Any, style: ResponseStyle) -> bytes:
    """The response body: a JSON list for Azure ML requests, ``{"predictions": …}`` for MLflow's.
    A DataFrame becomes a list of records and a Series a list, as ``mlflow models serve`` does."""
    if isinstance(predictions, pd.DataFrame):
        predictions = predictions.to_dict(orient="records")
    elif isinstance(predictions, pd.Series):
        predictions = predictions.to_numpy()
    elif isinstance(predictions, Mapping):
        predictions = {k: v.to_numpy() if isinstance(v, pd.Series) else v for k, v in predictions.items()}
    if isinstance(predictions, np.ndarray) and not predictions.flags.c_contiguous:
        predictions = np.ascontiguousarray(predictions)
    payload = predictions if style == "azureml" else {"predictions": predictions}
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


# -- the formats --------------------------------------------------------------------------


def _from_split(fmt: str, value: Any, schema: InputSchema) -> Any:
    if not isinstance(value, dict):
        raise PayloadError(f'"{fmt}" must be an object with "columns" and "data"')
    rows = value.get("data")
    columns = value.get("columns")
    index = value.get("index")
    if not isinstance(rows, list):
        raise PayloadError(f'"{fmt}.data" must be a list of rows')
    if columns is None:
        columns = schema.names or None
    if columns is not None and (
        not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)
    ):
        raise PayloadError(f'"{fmt}.columns" must be a list of column names')
    if index is not None and (not isinstance(index, list) or len(index) != len(rows)):
        raise PayloadError(f'"{fmt}.index" must be a list with one label per row of "data"')
    width = len(columns) if columns is not None else None
    _check_rows(fmt, rows, width)
    if columns is None:
        return pd.DataFrame(rows, index=index)
    if columns == schema.names:
        frame = _uniform_frame(rows, schema, index)
        if frame is not None:
            return frame
    named = dict(zip(columns, zip(*rows, strict=True), strict=True)) if rows else dict.fromkeys(columns, ())
    return _frame(named, len(rows), schema, index)


def _from_records(fmt: str, value: Any, schema: InputSchema) -> Any:
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise PayloadError(f'"{fmt}" must be a list of objects, one per row')
    if schema.columns is None:
        return pd.DataFrame.from_records(value)
    named: dict[str, list[Any]] = {}
    for spec in schema.columns:
        if any(spec.name in record for record in value):
            named[spec.name] = [record.get(spec.name) for record in value]
    if not value:
        named = {name: [] for name in schema.names}
    return _frame(named, len(value), schema, None)


def _from_list(fmt: str, value: Any, schema: InputSchema) -> Any:
    """``instances``/``inputs``, and ``input_data`` as a list: records, rows, or a column mapping."""
    if isinstance(value, dict):
        if schema.columns is None:
            return {k: np.asarray(v) for k, v in value.items()}
        cols = {k: v if isinstance(v, list) else [v] for k, v in value.items()}
        lengths = {len(v) for v in cols.values()}
        if len(lengths) > 1:
            raise PayloadError(f'the columns in "{fmt}" must all have the same length')
        return _frame(cols, lengths.pop() if lengths else 0, schema, None)
    if not isinstance(value, list):
        raise PayloadError(f'"{fmt}" must be a list of rows, a list of records or an object of columns')
    if value and all(isinstance(r, dict) for r in value):
        return _from_records(fmt, value, schema)
    if schema.columns is None:
        if fmt == "input_data":
            return pd.DataFrame(value)
        return np.asarray(value)
    names = schema.names
    _check_rows(fmt, value, len(names), names)
    frame = _uniform_frame(value, schema, None)
    if frame is not None:
        return frame
    named = dict(zip(names, zip(*value, strict=True), strict=True)) if value else dict.fromkeys(names, ())
    return _frame(named, len(value), schema, None)


def _check_rows(fmt: str, rows: list[Any], width: int | None, names: Sequence[str] = ()) -> None:
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise PayloadError(f'row {i} of "{fmt}" is not a list of values')
        if width is not None and len(row) != width:
            expected = f" ({', '.join(names)})" if names else ""
            raise PayloadError(
                f'row {i} of "{fmt}" has {len(row)} values; the model expects {width} columns{expected}'
            )


def _frame(
    named: Mapping[str, Sequence[Any]], n_rows: int, schema: InputSchema, index: list[Any] | None
) -> pd.DataFrame:
    """One DataFrame from whole columns, each converted to the signature's type."""
    assert schema.columns is not None
    missing = [c.name for c in schema.columns if c.required and c.name not in named]
    if missing:
        raise PayloadError(
            f"the input is missing the column(s) {missing}; the model expects the columns {schema.names}"
        )
    columns: dict[str, Any] = {}
    for spec in schema.columns:
        values = named.get(spec.name)
        if values is None:
            continue
        columns[spec.name] = _column(spec, values)
    if not columns:
        return pd.DataFrame(index=range(n_rows))
    arrays = list(columns.values())
    if n_rows and all(isinstance(a, np.ndarray) and a.dtype == arrays[0].dtype != object for a in arrays):
        # one block: pandas builds it without a Series per column, sklearn reads it without a copy
        return pd.DataFrame(np.column_stack(arrays), columns=_labels(columns), index=index)
    frame = pd.DataFrame(columns, index=index)
    frame.columns = _labels(columns)
    return frame


def _uniform_frame(rows: list[Any], schema: InputSchema, index: list[Any] | None) -> pd.DataFrame | None:
    """The frame of rows already in the signature's column order when every column has the
    same numeric type — one conversion of the whole table; None to take the column path."""
    target = schema.uniform
    if target is None or not rows:
        return None
    dtype, kinds = target
    try:
        table = np.asarray(rows)
    except (ValueError, TypeError):
        return None
    if table.ndim != 2 or table.dtype.kind not in kinds:
        return None
    return pd.DataFrame(table.astype(dtype, copy=False), columns=_labels(schema.names), index=index)


def _labels(names: Iterable[str]) -> pd.Index:
    """Column labels as Python strings in an object array, as scikit-learn keeps
    ``feature_names_in_``. pandas 3 would make them Arrow strings, built per request and
    turned back into an object array by every feature-name check: scoring 10 rows of 30
    columns through a scaler + logistic-regression pipeline took 1.1-1.2 ms with them and
    0.85 ms without (measured in one process; benchmarks/serving.py's model)."""
    return pd.Index(list(names), dtype=object)


def _column(spec: ColumnSpec, values: Sequence[Any]) -> Any:
    target = _TYPES.get(spec.type)
    if target is None:
        return list(values)  # a type MLflow's own enforcement converts (binary, datetime, arrays…)
    dtype, kinds = target
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError):
        raise _wrong_type(spec, "values of mixed shapes") from None
    if arr.ndim != 1:
        raise _wrong_type(spec, "nested lists")
    if arr.dtype.kind in kinds:
        return arr.astype(dtype, copy=False)
    if arr.dtype.kind == "O" and dtype in ("float64", "float32") and _numbers_or_nulls(values):
        return np.array([np.nan if v is None else v for v in values], dtype=dtype)  # null → NaN
    if arr.dtype.kind == "O" and dtype == "object" and all(v is None or isinstance(v, str) for v in values):
        return arr
    raise _wrong_type(spec, _describe(values))


def _numbers_or_nulls(values: Sequence[Any]) -> bool:
    return all(v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values)


def _wrong_type(spec: ColumnSpec, got: str) -> PayloadError:
    return PayloadError(f"column {spec.name!r} expects {spec.type} values; got {got}")


def _describe(values: Sequence[Any]) -> str:
    kinds = sorted({type(v).__name__ for v in values})
    example = next((v for v in values if v is not None), None)
    return f"{' and '.join(_JSON_NAMES.get(k, k) for k in kinds)} values (e.g. {example!r})"


_JSON_NAMES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "NoneType": "null"}
