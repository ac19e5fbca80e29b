"""Request bodies → model input, checked against the signature (no worker needed)."""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
import pytest

from shipyard.serving.payloads import (
    ColumnSpec,
    InputSchema,
    PayloadError,
    encode_predictions,
    parse_request,
)

from .conftest import COLUMNS, ROWS

SCHEMA = InputSchema(tuple(ColumnSpec(c, "double") for c in COLUMNS))
RECORDS = [dict(zip(COLUMNS, r, strict=True)) for r in ROWS]

BODIES = {
    "azureml split": {"input_data": {"columns": COLUMNS, "index": [0, 1, 2], "data": ROWS}},
    "azureml rows": {"input_data": ROWS},
    "azureml records": {"input_data": RECORDS},
    "dataframe_split": {"dataframe_split": {"columns": COLUMNS, "data": ROWS}},
    "dataframe_records": {"dataframe_records": RECORDS},
    "instances rows": {"instances": ROWS},
    "inputs records": {"inputs": RECORDS},
    "inputs columns": {"inputs": {c: [r[i] for r in ROWS] for i, c in enumerate(COLUMNS)}},
}


def _parse(body: object, schema: InputSchema = SCHEMA):  # type: ignore[no-untyped-def]
    return parse_request(orjson.dumps(body), schema)


@pytest.mark.parametrize("name", list(BODIES))
def test_every_format_gives_the_same_frame(name: str) -> None:
    parsed = _parse(BODIES[name])
    # Labels as an object array, as scikit-learn keeps feature_names_in_ (see payloads._labels).
    expected = pd.DataFrame(ROWS, columns=pd.Index(COLUMNS, dtype=object))
    pd.testing.assert_frame_equal(parsed.data.reset_index(drop=True), expected)
    assert parsed.style == ("azureml" if name.startswith("azureml") else "mlflow")


def test_ints_are_accepted_for_double_columns_and_extra_columns_dropped() -> None:
    body = {"dataframe_records": [{**r, "sepal_length": 5, "comment": "x"} for r in RECORDS]}
    frame = _parse(body).data
    assert list(frame.columns) == COLUMNS
    assert frame["sepal_length"].dtype == np.float64


def test_a_missing_column_names_the_missing_and_the_expected_columns() -> None:
    body = {"dataframe_split": {"columns": COLUMNS[:3], "data": [r[:3] for r in ROWS]}}
    with pytest.raises(PayloadError) as caught:
        _parse(body)
    assert caught.value.status == 400
    assert "['petal_width']" in caught.value.message
    assert str(COLUMNS) in caught.value.message


def test_a_wrong_type_names_the_column() -> None:
    body = {"dataframe_records": [{**RECORDS[0], "sepal_width": "wide"}]}
    with pytest.raises(PayloadError, match="column 'sepal_width' expects double values; got string"):
        _parse(body)


def test_rows_of_the_wrong_width_say_what_the_model_expects() -> None:
    with pytest.raises(PayloadError, match='row 1 of "input_data" has 3 values; the model expects 4'):
        _parse({"input_data": [ROWS[0], ROWS[1][:3]]})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"data": []}', "exactly one of the keys"),
        (b'{"inputs": [], "instances": []}', "several"),
    ],
)
def test_malformed_bodies_are_400_saying_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse_request(body, SCHEMA)


def test_nulls_in_a_double_column_are_nan() -> None:
    frame = _parse({"dataframe_records": [{**RECORDS[0], "sepal_width": None}]}).data
    assert np.isnan(frame["sepal_width"][0])


def test_without_a_signature_the_input_is_passed_as_sent() -> None:
    assert isinstance(_parse({"instances": ROWS}, InputSchema()).data, np.ndarray)
    assert list(_parse({"dataframe_records": RECORDS}, InputSchema()).data.columns) == COLUMNS


def test_response_shapes() -> None:
    predictions = np.array([0, 1, 2])
    assert orjson.loads(encode_predictions(predictions, "azureml")) == [0, 1, 2]
    assert orjson.loads(encode_predictions(predictions, "mlflow")) == {"predictions": [0, 1, 2]}
    frame = pd.DataFrame({"a": [1.5]})
    assert orjson.loads(encode_predictions(frame, "mlflow")) == {"predictions": [{"a": 1.5}]}
